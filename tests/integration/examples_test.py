"""Every manifest in manifests/examples works, not just validates: the real binary runs them
against the emulator and DNS server, each given what it points at exactly as `hack/demo` does
(hack/demo.py prepare): the DNS names resolve, the Spot Fleet and the private zones exist."""
import os
import sys
import time
import unittest

from harness import ScenarioTest, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "hack"))
import demo  # noqa: E402


class Examples(ScenarioTest):
    def test_every_example_converges_and_the_spot_fleet_follows_interruptions(self):
        prepared = demo.prepare(self.emulator, self.dns, self.manifests)
        c = self.start_controller("--events-queue-url", prepared["queue"])
        bindings = [("factory-iot", "opensearch-dashboards"), ("web", "web-static-ip"),
                    ("api", "api-spot-fleet"), ("factory-iot", "factory-historian")]
        for ns, name in bindings:
            wait_for(lambda: (c.condition(name, "Ready", ns) or {}).get("status") == "True", 30,
                     what=f"{ns}/{name} Ready")
        arn = next(a for a in prepared["arns"] if "api-spot" in a)
        self.assertEqual(self.emulator.registered(arn), set(prepared["fleet"]))

        wait_for(lambda: len(demo.record_names(self.emulator)) == 3
                 and len(demo.record_names(self.emulator, demo.REVERSE_ZONE)) == 3, 30,
                 what="A and PTR records of the three tagged instances")
        self.assertIn("web-01.corp.internal.", " ".join(demo.record_names(self.emulator)))
        self.assertIn("batch-runner.corp.internal.", " ".join(demo.record_names(self.emulator)))

        victim = prepared["fleet"][0]
        warned = time.monotonic()
        self.emulator.control("POST", "instances/interrupt", {"ids": [victim], "warningSeconds": 120})
        wait_for(lambda: victim not in self.emulator.registered(arn), 5, interval=0.05,
                 what="the interrupted Spot instance deregistered at once")
        print(f"MEASURE examples.interruption_to_deregistered {time.monotonic() - warned:.2f}s")


if __name__ == "__main__":
    unittest.main()
