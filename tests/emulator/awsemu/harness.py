"""Start and drive an emulator process from Python tests.

    with EmulatorProcess("--healthy-after", "0.2") as emu:
        elbv2 = emu.client("elbv2")
        emu.post("/_emulator/faults", {"action": "*", "errorRate": 1.0})

The emulator runs as a child process on a free port; stop() (or leaving the `with`) ends it.
Not thread-safe: one test thread drives one EmulatorProcess.
"""

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

EMULATOR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "emulator.py")

# Traffic to the emulator must never go through a proxy from the environment.
_no_proxy = {"127.0.0.1", "localhost"}
for _var in ("NO_PROXY", "no_proxy"):
    _current = {h for h in os.environ.get(_var, "").split(",") if h}
    os.environ[_var] = ",".join(sorted(_current | _no_proxy))

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ControlError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class EmulatorProcess:
    def __init__(self, *args, python=None, startup_timeout=30.0):
        self.args = list(args)
        self.python = python or sys.executable
        self.startup_timeout = startup_timeout
        self.process = None
        self.url = None
        self._stderr = None
        self._clients = []

    def start(self):
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [self.python, EMULATOR, "--port", "0", *self.args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr)
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + self.startup_timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                self._fail("no READY line in time")
            chunk = os.read(self.process.stdout.fileno(), 1)
            if not chunk:
                self._fail("exited before READY")
            line += chunk
        selector.close()
        text = line.decode().strip()
        if not text.startswith("READY "):
            self._fail(f"first line was {text!r}")
        self.url = text.split(" ", 1)[1]
        return self

    def _fail(self, why):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._stderr.seek(0)
        raise RuntimeError(f"emulator {why}: {self._stderr.read().decode(errors='replace')}")

    def stderr_text(self):
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self):
        for client in self._clients:
            client.close()
        self._clients = []
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self._stderr.close()
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------ control API

    def call(self, method, path, body=None):
        """(status, parsed JSON) of a control API call."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with _OPENER.open(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def _ok(self, method, path, body=None):
        status, result = self.call(method, path, body)
        if status != 200:
            raise ControlError(status, result)
        return result

    def get(self, path):
        return self._ok("GET", path)

    def post(self, path, body=None):
        return self._ok("POST", path, body or {})

    def delete(self, path):
        return self._ok("DELETE", path)

    def reset(self):
        return self.post("/_emulator/reset")

    # ---------------------------------------------------------------- clients

    def client(self, service, region="us-east-1", access_key="test", secret_key="test",
               session_token=None, attempts=1, validate=True):
        """A boto3 client for the emulator, closed by stop(). `attempts` counts the first
        try too (botocore's total_max_attempts), so the default 1 means no retries."""
        import boto3
        from botocore.config import Config
        client = boto3.client(
            service, endpoint_url=self.url, region_name=region, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key, aws_session_token=session_token,
            config=Config(retries={"total_max_attempts": attempts, "mode": "standard"},
                          parameter_validation=validate, connect_timeout=5, read_timeout=30))
        self._clients.append(client)
        return client


class AwsErrorAssertions:
    """unittest.TestCase mixin for conformance tests: an AWS error as botocore parses it."""

    def assertAwsError(self, code, status, call, *args, message=None, contains=None, **kwargs):
        """`call(*args, **kwargs)` fails with error `code`, HTTP `status` and a request id; the
        message equals `message` and contains `contains` when given. Returns the error dict."""
        import botocore.exceptions
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            call(*args, **kwargs)
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], code, error)
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
        self.assertTrue(caught.exception.response["ResponseMetadata"]["RequestId"])
        if message is not None:
            self.assertEqual(error["Message"], message)
        if contains is not None:
            self.assertIn(contains, error["Message"])
        return error
