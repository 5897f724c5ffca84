"""Scenario 8: a production DNS server from Debian (dnsmasq) resolving a CNAME chain to several
A records; the controller registers every address behind the chain."""
import os
import shutil
import subprocess
import unittest

from harness import ScenarioTest, free_port, tg_binding, wait_for


class DnsmasqCnameChain(ScenarioTest):
    def test_cname_chain_to_several_a_records(self):
        dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        if not os.path.exists(dnsmasq):
            self.fail("dnsmasq not installed (hack/bootstrap installs dnsmasq-base)")
        port = free_port()
        proc = subprocess.Popen([
            dnsmasq, "--keep-in-foreground", "--no-daemon", "--conf-file=/dev/null", "--no-resolv",
            "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces", f"--port={port}",
            "--user=root" if os.geteuid() == 0 else "--user=" + os.environ.get("USER", "nobody"),
            "--pid-file=", "--local-ttl=2",
            "--host-record=alb-1234.internal.example,10.0.13.1",
            "--host-record=alb-1234.internal.example,10.0.13.2",
            "--host-record=alb-1234.internal.example,10.0.13.3",
            "--cname=search.internal.example,alb-1234.internal.example",
            "--cname=dashboards.internal.example,search.internal.example",
        ], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (proc.terminate(), proc.wait(5)))
        arn = self.emulator.create_target_group("dnsmasq-tg")
        self.write_manifest("chain.yaml", tg_binding("chain", arn, "dashboards.internal.example"))
        self.dns.dns = f"127.0.0.1:{port}"  # point the controller at dnsmasq instead
        self.start_controller()
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.13.1", "10.0.13.2", "10.0.13.3"}, 20,
                 what="all A records behind the CNAME chain registered")


if __name__ == "__main__":
    unittest.main(verbosity=2)
