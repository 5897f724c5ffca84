"""A local Slack-compatible incoming webhook for scenario tests: an HTTP(S) server on 127.0.0.1
(port chosen at run time) that records every POST and answers as told, per request in order:
200 "ok", 429 with Retry-After, 500, 404, or a hang (the connection is accepted and read,
and never answered). HTTPS uses a throwaway self-signed certificate for 127.0.0.1/localhost
made with the openssl command; give its PEM to the controller as its CA bundle.

    hook = Webhook(tls=True)
    hook.script([("429", 2), "200"])   # the first request gets 429 Retry-After: 2, then 200s
    url = hook.url("/services/T000/B000/secret")
    ...
    hook.stop()
Thread-safety: the server thread records; accessors take the lock.
"""

import http.server
import json
import os
import ssl
import subprocess
import tempfile
import threading
import time


def make_certificate(directory):
    """(certificate path, key path) of a fresh self-signed EC certificate for 127.0.0.1."""
    cert = os.path.join(directory, "webhook.pem")
    key = os.path.join(directory, "webhook.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True)
    return cert, key


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_POST(self):  # noqa: N802
        hook = self.server.hook
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = hook._record(self.command, self.path, dict(self.headers.items()), body)
        if answer == "hang":
            hook._hang.wait(120)
            self.close_connection = True
            return
        status, retry_after = answer if isinstance(answer, tuple) else (answer, None)
        status = int(status)
        payload = {200: b"ok", 429: b"rate_limited", 404: b"no_service",
                   500: b"internal_error"}.get(status, b"error")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.end_headers()
        self.wfile.write(payload)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Webhook:
    def __init__(self, tls=False):
        self._lock = threading.Lock()
        self._hang = threading.Event()
        self._script = []
        self._default = "200"
        self.requests = []
        self.tmp = tempfile.TemporaryDirectory(prefix="eb-webhook-")
        self.ca_bundle = None
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.hook = self
        self.scheme = "http"
        if tls:
            cert, key = make_certificate(self.tmp.name)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.ca_bundle = cert
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def script(self, answers, default="200"):
        """Answers for the next requests, in order ("200", "500", "hang", ("429", seconds)),
        then `default` for the rest."""
        with self._lock:
            self._script = list(answers)
            self._default = default

    def _record(self, method, path, headers, body):
        with self._lock:
            answer = self._script.pop(0) if self._script else self._default
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            self.requests.append({"time": time.monotonic(), "method": method, "path": path,
                                  "headers": headers, "body": parsed, "answer": answer})
            return answer

    def received(self):
        with self._lock:
            return list(self.requests)

    def delivered(self):
        """Requests answered 200: the messages Slack would show."""
        return [r for r in self.received() if r["answer"] in ("200", 200)]

    def stop(self):
        self._hang.set()
        self.server.shutdown()
        self.server.server_close()
        self.tmp.cleanup()
