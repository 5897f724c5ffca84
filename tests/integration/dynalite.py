"""A real DynamoDB-compatible server for leader-election tests: dynalite (npm), installed once
into the build directory (<build>/dynalite; `npm install` from the npm registry when missing),
started on 127.0.0.1 at a port chosen at run time, stopping by itself when the test process
goes. Plus TcpProxy, a loopback TCP relay that a test can black-hole to cut one replica off
from DynamoDB (its requests then time out) and heal again.

Run with Debian's interpreter: /usr/bin/python3 (botocore creates the table).
"""
import fcntl
import os
import shutil
import socket
import subprocess
import threading
import time

from harness import BIN_DIR, ROOT, _die_with_parent

DYNALITE_VERSION = "4.0.0"
SERVER_JS = os.path.join(ROOT, "tests", "integration", "dynalite_server.js")


def dynalite_module():
    """Path of node_modules/dynalite in the build directory, installing it the first time."""
    prefix = os.path.join(os.path.dirname(os.path.abspath(BIN_DIR)), "dynalite")
    module = os.path.join(prefix, "node_modules", "dynalite")
    os.makedirs(prefix, exist_ok=True)
    with open(os.path.join(prefix, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel tests install once
        if not os.path.exists(os.path.join(module, "package.json")):
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError("npm is not installed (hack/bootstrap installs nodejs and npm)")
            subprocess.run([npm, "install", "--prefix", prefix, "--no-audit", "--no-fund",
                            "--loglevel=error", f"dynalite@{DYNALITE_VERSION}"],
                           check=True, timeout=300, stdin=subprocess.DEVNULL)
    return module


class Dynalite:
    """dynalite on 127.0.0.1:<free port>; .url, .client() (botocore), .stop()."""

    def __init__(self):
        node = shutil.which("node") or shutil.which("nodejs")
        if node is None:
            raise RuntimeError("node is not installed (hack/bootstrap installs nodejs)")
        self.proc = subprocess.Popen([node, SERVER_JS, dynalite_module(), "600"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"dynalite did not start: {line!r} {err}")
        self.url = line.split()[1]
        self._client = None

    def client(self):
        if self._client is None:
            import botocore.session
            from botocore.config import Config
            session = botocore.session.get_session()
            self._client = session.create_client(
                "dynamodb", region_name="ap-northeast-1", endpoint_url=self.url,
                aws_access_key_id="test", aws_secret_access_key="test",
                config=Config(retries={"total_max_attempts": 3}))
        return self._client

    def create_lease_table(self, name):
        """The table --leader-election-table names: partition key leaseName (S), on demand."""
        self.client().create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "leaseName", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "leaseName", "KeyType": "HASH"}])
        deadline = time.monotonic() + 10
        while self.client().describe_table(TableName=name)["Table"]["TableStatus"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise RuntimeError(f"table {name} not ACTIVE")
            time.sleep(0.05)

    def lease(self, table, name):
        item = self.client().get_item(TableName=table, Key={"leaseName": {"S": name}},
                                      ConsistentRead=True).get("Item")
        if item is None:
            return None
        return {k: (v.get("S") if "S" in v else int(v["N"])) for k, v in item.items()}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()  # it exits when its stdin closes
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


class TcpProxy:
    """Relays 127.0.0.1:<port> to `target` ("http://host:port"). blackhole() keeps accepting
    and reading but forwards nothing, so requests through it time out (a network partition);
    heal() closes the half-dead connections and relays again. Threads are daemons; stop()
    closes everything."""

    def __init__(self, target_url):
        hostport = target_url.split("://", 1)[1].rstrip("/")
        host, port = hostport.rsplit(":", 1)
        self.target = (host, int(port))
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._blackholed = False
        self._conns = []
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def blackhole(self):
        with self._lock:
            self._blackholed = True

    def heal(self):
        with self._lock:
            self._blackholed = False
            conns, self._conns = self._conns, []
        for pair in conns:
            for s in pair:
                try:
                    s.close()
                except OSError:
                    pass

    def stop(self):
        self._stopped = True
        try:
            self.listener.close()
        except OSError:
            pass
        self.heal()

    def _accept(self):
        while not self._stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src, dst):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                break
            if not data:
                break
            with self._lock:
                dropped = self._blackholed
            if dropped:
                continue  # swallowed: the peer waits for an answer that never comes
            try:
                dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass
