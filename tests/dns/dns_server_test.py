#!/usr/bin/python3
"""Self-test of tests/dns/dns_server.py: wire answers over UDP and TCP (dnslib's client), every
failure mode, rotation, truncation, the control API and the process lifecycle.

Run: /usr/bin/python3 tests/dns/dns_server_test.py   (ctest: dns_server_selftest)
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from dnslib import QTYPE, RCODE, DNSRecord

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "dns_server.py")
PYTHON = "/usr/bin/python3"
READY = re.compile(r"^READY dns=127\.0\.0\.1:(\d+) control=http://127\.0\.0\.1:(\d+)$")


class Server:
    """One dns_server.py child process."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([PYTHON, SERVER, "--port", "0", *args],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        match = READY.match(line)
        if not match:
            self.proc.kill()
            raise AssertionError("bad READY line: %r" % line)
        self.port = int(match.group(1))
        self.control = "http://127.0.0.1:%s" % match.group(2)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=5)
        self.proc.stdout.close()

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.control + path, data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def put(self, name, **record):
        status, body = self.call("PUT", "/records/" + name, record)
        assert status == 200, body
        return body

    def query(self, name, qtype="A", tcp=False, timeout=2.0):
        question = DNSRecord.question(name, qtype)
        return DNSRecord.parse(question.send("127.0.0.1", self.port, tcp=tcp, timeout=timeout))


def addresses(reply, rtype=None):
    return sorted(str(rr.rdata) for rr in reply.rr
                  if rr.rtype in ((QTYPE.A, QTYPE.AAAA) if rtype is None else (rtype,)))


class AnswerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--seed", "7")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.assertEqual(self.server.call("POST", "/reset")[0], 200)

    def test_same_port_for_udp_and_tcp(self):
        self.server.put("both.test", a=["10.0.0.1"])
        for tcp in (False, True):
            self.assertEqual(addresses(self.server.query("both.test", tcp=tcp)), ["10.0.0.1"])
        _, log = self.server.call("GET", "/queries")
        self.assertEqual(log["byTransport"], {"udp": 1, "tcp": 1})

    def test_a_aaaa_and_ttl(self):
        self.server.put("host.test", a=["10.0.0.2", "10.0.0.1"], aaaa=["fd00::1"], ttl=42)
        reply = self.server.query("host.test", "A")
        self.assertEqual(reply.header.rcode, RCODE.NOERROR)
        self.assertEqual(addresses(reply), ["10.0.0.1", "10.0.0.2"])
        self.assertEqual({rr.ttl for rr in reply.rr}, {42})
        self.assertEqual(addresses(self.server.query("host.test", "AAAA")), ["fd00::1"])
        self.assertEqual(addresses(self.server.query("HOST.test.", "ANY")),
                         ["10.0.0.1", "10.0.0.2", "fd00::1"])

    def test_name_without_the_asked_type_is_nodata(self):
        self.server.put("v4only.test", a=["10.0.0.1"])
        reply = self.server.query("v4only.test", "AAAA")
        self.assertEqual(reply.header.rcode, RCODE.NOERROR)
        self.assertEqual(reply.rr, [])

    def test_cname_chain_is_followed_with_each_ttl(self):
        self.server.put("alias.test", cname="middle.test", ttl=9)
        self.server.put("middle.test", cname="final.test", ttl=3)
        self.server.put("final.test", a=["10.0.0.7"], ttl=60)
        reply = self.server.query("alias.test")
        chain = [(str(rr.rname), str(rr.rdata), rr.ttl) for rr in reply.rr
                 if rr.rtype == QTYPE.CNAME]
        self.assertEqual(chain, [("alias.test.", "middle.test.", 9),
                                 ("middle.test.", "final.test.", 3)])
        final = [rr for rr in reply.rr if rr.rtype == QTYPE.A]
        self.assertEqual([(str(rr.rname), str(rr.rdata), rr.ttl) for rr in final],
                         [("final.test.", "10.0.0.7", 60)])

    def test_cname_to_unknown_name_is_nxdomain_with_the_cname(self):
        self.server.put("dangling.test", cname="missing.test")
        reply = self.server.query("dangling.test")
        self.assertEqual(reply.header.rcode, RCODE.NXDOMAIN)
        self.assertEqual([rr.rtype for rr in reply.rr], [QTYPE.CNAME])

    def test_cname_loop_terminates(self):
        self.server.put("loop1.test", cname="loop2.test")
        self.server.put("loop2.test", cname="loop1.test")
        reply = self.server.query("loop1.test")
        self.assertEqual(len(reply.rr), 2)

    def test_unknown_and_deleted_names_are_nxdomain(self):
        self.assertEqual(self.server.query("unknown.test").header.rcode, RCODE.NXDOMAIN)
        self.server.put("gone.test", a=["10.0.0.1"])
        self.assertEqual(self.server.call("DELETE", "/records/gone.test")[0], 200)
        self.assertEqual(self.server.call("DELETE", "/records/gone.test")[0], 404)
        self.assertEqual(self.server.query("gone.test").header.rcode, RCODE.NXDOMAIN)

    def test_failure_modes(self):
        for mode, rcode in (("servfail", RCODE.SERVFAIL), ("nxdomain", RCODE.NXDOMAIN),
                            ("refused", RCODE.REFUSED), ("empty", RCODE.NOERROR)):
            with self.subTest(mode=mode):
                self.server.put("mode.test", a=["10.0.0.1"], mode=mode)
                for tcp in (False, True):
                    reply = self.server.query("mode.test", tcp=tcp)
                    self.assertEqual(reply.header.rcode, rcode)
                    self.assertEqual(reply.rr, [])

    def test_timeout_mode_drops_the_query_on_both_transports(self):
        self.server.put("slow.test", a=["10.0.0.1"], mode="timeout")
        for tcp in (False, True):
            with self.assertRaises(socket.timeout):
                self.server.query("slow.test", tcp=tcp, timeout=0.5)
        _, log = self.server.call("GET", "/queries")
        self.assertEqual(log["byName"], {"slow.test": 2})

    def test_mode_by_type_overrides_the_mode_for_that_query_type(self):
        self.server.put("dual.test", a=["10.0.0.1"], aaaa=["fd00::1"],
                        modeByType={"AAAA": "timeout"})
        self.assertEqual(addresses(self.server.query("dual.test", "A")), ["10.0.0.1"])
        with self.assertRaises(socket.timeout):
            self.server.query("dual.test", "AAAA", timeout=0.5)
        self.server.put("dual.test", a=["10.0.0.1"], aaaa=["fd00::1"], mode="servfail",
                        modeByType={"AAAA": "ok"})
        self.assertEqual(self.server.query("dual.test", "A").header.rcode, RCODE.SERVFAIL)
        self.assertEqual(addresses(self.server.query("dual.test", "AAAA")), ["fd00::1"])

    def test_truncate_mode_sets_tc_over_udp_and_answers_over_tcp(self):
        self.server.put("trunc.test", a=["10.0.0.1", "10.0.0.2"], mode="truncate")
        udp = self.server.query("trunc.test")
        self.assertEqual(udp.header.tc, 1)
        self.assertEqual(udp.rr, [])
        tcp = self.server.query("trunc.test", tcp=True)
        self.assertEqual(tcp.header.tc, 0)
        self.assertEqual(addresses(tcp), ["10.0.0.1", "10.0.0.2"])

    def test_answer_larger_than_512_bytes_is_truncated_over_udp(self):
        many = ["10.1.0.%d" % i for i in range(1, 61)]
        self.server.put("big.test", a=many)
        udp = self.server.query("big.test")
        self.assertEqual(udp.header.tc, 1)
        self.assertEqual(len(addresses(self.server.query("big.test", tcp=True))), 60)

    def test_rotation_answers_a_shuffled_subset(self):
        pool = ["10.2.0.%d" % i for i in range(1, 13)]
        self.server.put("alb.test", a=pool, rotate=8)
        seen = set()
        orders = set()
        for _ in range(20):
            reply = self.server.query("alb.test")
            got = [str(rr.rdata) for rr in reply.rr]
            self.assertEqual(len(got), 8)
            self.assertEqual(len(set(got)), 8)
            self.assertTrue(set(got) <= set(pool))
            seen |= set(got)
            orders.add(tuple(got))
        self.assertEqual(seen, set(pool))
        self.assertGreater(len(orders), 1)

    def test_rotation_larger_than_the_pool_answers_everything(self):
        self.server.put("small.test", a=["10.0.0.1", "10.0.0.2"], rotate=8)
        self.assertEqual(addresses(self.server.query("small.test")), ["10.0.0.1", "10.0.0.2"])

    def test_malformed_packets_get_formerr_and_the_server_keeps_serving(self):
        self.server.put("ok.test", a=["10.0.0.1"])
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(2)
        sock.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff", ("127.0.0.1",
                                                                                  self.server.port))
        data, _ = sock.recvfrom(512)
        sock.close()
        self.assertEqual(data[:2], b"\x12\x34")
        self.assertEqual(data[3] & 0x0F, RCODE.FORMERR)
        self.assertEqual(addresses(self.server.query("ok.test")), ["10.0.0.1"])
        self.assertEqual(self.server.call("GET", "/queries")[1]["malformed"], 1)

    def test_query_log_counts_and_clears(self):
        self.server.put("a.test", a=["10.0.0.1"])
        self.server.query("a.test")
        self.server.query("a.test", tcp=True)
        self.server.query("b.test", "AAAA")
        _, log = self.server.call("GET", "/queries")
        self.assertEqual(log["count"], 3)
        self.assertEqual(log["byName"], {"a.test": 2, "b.test": 1})
        self.assertEqual(log["byTransport"], {"udp": 2, "tcp": 1})
        self.assertEqual(log["byType"], {"A": 2, "AAAA": 1})
        self.assertEqual(log["udpClientPorts"], 2)  # one socket per UDP query here
        self.assertEqual(self.server.call("DELETE", "/queries")[0], 200)
        self.assertEqual(self.server.call("GET", "/queries")[1]["count"], 0)

    def test_control_rejects_bad_records(self):
        for body in ({"a": ["300.1.1.1"]}, {"aaaa": ["10.0.0.1"]}, {"mode": "sometimes"},
                     {"ttl": -1}, {"rotate": 0}, {"cname": "x.test", "a": ["10.0.0.1"]},
                     {"colour": "blue"}, ["10.0.0.1"], {"modeByType": {"MX": "timeout"}},
                     {"modeByType": {"AAAA": "sometimes"}}, {"modeByType": ["AAAA"]}):
            with self.subTest(body=body):
                status, reply = self.server.call("PUT", "/records/bad.test", body)
                self.assertEqual(status, 400)
                self.assertIn("error", reply)
        self.assertEqual(self.server.call("GET", "/records/bad.test")[0], 404)


class LifecycleTest(unittest.TestCase):
    def test_zone_file_preloads_and_reset_restores_it(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"Zone.Test.": {"a": ["10.9.0.1"], "ttl": 11}}, f)
        try:
            server = Server("--zone", f.name)
            try:
                reply = server.query("zone.test")
                self.assertEqual(addresses(reply), ["10.9.0.1"])
                self.assertEqual(reply.rr[0].ttl, 11)
                server.call("DELETE", "/records/zone.test")
                server.put("other.test", a=["10.9.0.2"])
                self.assertEqual(server.call("POST", "/reset")[0], 200)
                self.assertEqual(addresses(server.query("zone.test")), ["10.9.0.1"])
                self.assertEqual(server.query("other.test").header.rcode, RCODE.NXDOMAIN)
                self.assertEqual(server.call("GET", "/queries")[1]["count"], 2)
            finally:
                server.stop()
        finally:
            os.unlink(f.name)

    def test_sigterm_exits_promptly(self):
        server = Server()
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        self.assertEqual(server.proc.wait(timeout=5), 0)
        self.assertLess(time.monotonic() - started, 3)
        server.stop()

    def test_max_lifetime_exits(self):
        server = Server("--max-lifetime", "0.5")
        self.assertEqual(server.proc.wait(timeout=5), 0)
        server.stop()

    def test_exits_when_its_parent_dies(self):
        # An intermediate process starts the server, prints its READY line and then blocks;
        # killing it must make the orphaned server exit by itself.
        launcher = subprocess.Popen(
            [PYTHON, "-c",
             "import subprocess,sys,time\n"
             "p=subprocess.Popen([sys.argv[1],sys.argv[2],'--port','0'],stdout=subprocess.PIPE,"
             "text=True)\n"
             "print(p.pid, p.stdout.readline().strip(), flush=True)\n"
             "time.sleep(60)\n", PYTHON, SERVER],
            stdout=subprocess.PIPE, text=True)
        pid_text, ready = launcher.stdout.readline().split(" ", 1)
        self.assertRegex(ready.strip(), READY)
        pid = int(pid_text)
        launcher.kill()
        launcher.wait()
        launcher.stdout.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            # The orphan is reparented to a process that reaps it; if that is us (a subreaper)
            # reap it here.
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:
                pass
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        self.fail("server %d outlived its parent" % pid)


if __name__ == "__main__":
    unittest.main(verbosity=2)
