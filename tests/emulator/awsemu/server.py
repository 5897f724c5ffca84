"""The emulator process: one HTTP port for every emulated service plus the control API.

A request under /_emulator/ goes to the control API. Any other request is an AWS API call:
its service is the SigV4 credential scope's service name (a regional Host such as
`sts.us-east-1.amazonaws.com` must agree with it); an unsigned call is routed by Host, or by
an action a service accepts unsigned (STS AssumeRoleWithWebIdentity). Query-protocol calls
name their action in `Action`; AWS JSON 1.0 calls (SQS) in `X-Amz-Target`; REST-XML calls (Route
53, signed for its global endpoint's us-east-1; S3, path-style) by method and path. The pipeline per
call: parse -> authenticate -> fault rules (delay, throttle, 5xx, reset) -> token bucket ->
the action -> (afterApply faults) -> log. Each service words its own errors (EC2's
`<Response><Errors>`, SQS JSON's `__type`) and throttles (`RequestLimitExceeded` on EC2).
Timed world changes (instance transitions, Spot interruptions) run on the scheduler thread;
SQS long polls wait on `Emulator.changed`, which every world change notifies.

The process prints `READY http://127.0.0.1:<port>` as its first stdout line and nothing else
to stdout afterwards. It stops on SIGTERM/SIGINT, when its parent dies, after --max-lifetime
seconds, or on POST /_emulator/shutdown.
Thread-safety: ThreadingHTTPServer serves each connection on its own thread; Emulator.lock
(reentrant) guards all service state; Emulator.changed is a condition over it.
"""

import http.server
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

import botocore.session

from . import config as config_module
from .autoscaling import AutoScalingService
from .compute import Compute
from .control import ControlApi
from .credentials import Credential, CredentialStore
from .ec2 import Ec2Service
from .elbv2 import Elbv2Service
from .errors import AwsError
from .events import EventBus
from .faults import FaultInjector
from .query import RequestContext
from .requestlog import RequestLog
from .route53 import Route53Service
from .s3 import S3Service
from .scheduler import Scheduler
from .sigv4 import Verifier, parse_signature
from .sns import SnsService
from .sqs import SqsService
from .ssm import SsmService
from .sts import StsService
from .throttle import DEFAULT_QUOTAS, Throttler
from .world import World

REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")
FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPES = ("application/x-amz-json-1.0", "application/x-amz-json-1.1", "application/json")


class HttpResponse:
    def __init__(self, status, body=b"", content_type="text/xml", headers=None, reset=False,
                 error_code=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or []
        self.reset = reset
        self.error_code = error_code


class _Call:
    """Per-call facts gathered for the request log."""

    def __init__(self, start):
        self.start = start
        self.service = None
        self.action = None
        self.region = None
        self.access_key = None
        self.account = None  # the caller credential's account (None when unsigned)
        self.throttled = False
        self.fault = None
        self.protocol = "query"


class Emulator:
    def __init__(self, config):
        self.config = config
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # notified on every world change
        self.stop_event = threading.Event()
        self.base_url = f"http://{config['host']}:{config['port']}"  # set once bound
        self.started = time.time()
        self.pid = os.getpid()
        self.session = botocore.session.get_session()
        self.credentials = CredentialStore()
        for spec in config["credentials"]:
            self.credentials.add(Credential(spec["accessKeyId"], spec["secretAccessKey"],
                                            spec.get("sessionToken"), spec.get("expiresAt"),
                                            str(config["account"]), spec.get("arn")))
        self.verifier = Verifier(self.credentials)
        self.world = World(config["vpcs"], config["region"])
        self.settings = config_module.Settings(config)
        self.scheduler = Scheduler(self.lock, self.changed)
        self.throttler = Throttler(self._quotas(), enabled=config["throttle"])
        self.faults = FaultInjector(config["seed"])
        self.log = RequestLog()
        self.elbv2 = Elbv2Service(self.session, self)
        self.sts = StsService(self.session, self)
        self.sqs = SqsService(self.session, self)
        self.events = EventBus(self.sqs, lambda: self.settings)
        self.compute = Compute(self)
        self.ec2 = Ec2Service(self.session, self)
        self.autoscaling = AutoScalingService(self.session, self)
        self.ssm = SsmService(self.session, self)
        self.sns = SnsService(self.session, self)
        self.route53 = Route53Service(self.session, self)
        self.s3 = S3Service(self.session, self)
        self.services = {s.signing_name: s for s in (self.elbv2, self.sts, self.ec2,
                                                     self.autoscaling, self.sqs, self.ssm,
                                                     self.sns, self.route53, self.s3)}
        self.control = ControlApi(self)
        self.verbose = bool(config["verbose"])
        self.log_stream = sys.stderr
        self._seed()

    def _quotas(self):
        quotas = dict(DEFAULT_QUOTAS)
        quotas.update(self.config["quotas"])
        return quotas

    def _seed(self):
        """Applies the config file's instances, queues, target groups, roles and faults."""
        if self.config["instances"]:
            self.world.upsert_instances(self.config["instances"])
        for spec in self.config["queues"]:
            status, result = self.control.handle("POST", "/_emulator/queues", "",
                                                 json.dumps(spec).encode())
            if status != 200:
                raise config_module.ConfigError(f"config queues: {result['error']}")
        for spec in self.config["targetGroups"]:
            status, result = self.control.handle("POST", "/_emulator/target-groups", "",
                                                 json.dumps(spec).encode())
            if status != 200:
                raise config_module.ConfigError(f"config targetGroups: {result['error']}")
        for spec in self.config["roles"]:
            status, result = self.control.handle("POST", "/_emulator/roles", "",
                                                 json.dumps(spec).encode())
            if status != 200:
                raise config_module.ConfigError(f"config roles: {result['error']}")
        for rule in self.config["faults"]:
            self.faults.add(rule)

    def reset(self):
        """Back to the start-up state: config settings, quotas and seeded objects."""
        with self.lock:
            self.settings = config_module.Settings(self.config)
            self.scheduler.reset()
            self.world.reset()
            self.elbv2.reset()
            self.sts.reset()
            self.sqs.reset()
            self.ssm.reset()
            self.sns.reset()
            self.route53.reset()
            self.s3.reset()
            self.events.reset()
            self.compute.reset()
            self.changed.notify_all()  # long polls on dropped queues end
            self.throttler.set_quotas(self._quotas(), replace=True)
            self.throttler.enabled = self.config["throttle"]
            self.faults.clear()
            self.log.clear()
            self._seed()

    def write_log(self, line):
        if self.verbose:
            try:
                self.log_stream.write(line + "\n")
                self.log_stream.flush()
            except (OSError, ValueError):
                pass

    # ------------------------------------------------------------------ routing

    def handle(self, method, raw_path, raw_query, headers, body):
        """One HTTP request -> HttpResponse. `headers` are (name, value) pairs."""
        path = raw_path
        if path.startswith("/_emulator/") or path == "/_emulator":
            status, result = self.control.handle(method, path, raw_query, body)
            return HttpResponse(status, json.dumps(result).encode(), "application/json")
        return self._handle_aws(method, path, raw_query, headers, body)

    def _host_service(self, headers):
        host = ""
        for name, value in headers:
            if name.lower() == "host":
                host = value.strip().lower()
                break
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        labels = host.split(".")
        if len(labels) >= 3 and labels[-2:] == ["amazonaws", "com"]:
            for service in self.services.values():
                if labels[0] == service.host_prefix:
                    region = labels[1] if len(labels) >= 4 and REGION.match(labels[1]) else None
                    return service, region
        return None, None

    def _params(self, method, raw_query, headers, body):
        query_pairs = urllib.parse.parse_qsl(raw_query, keep_blank_values=True)
        params = dict(query_pairs)
        content_type = ""
        for name, value in headers:
            if name.lower() == "content-type":
                content_type = value.split(";", 1)[0].strip().lower()
        if body and content_type == FORM_TYPE:
            params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                                 keep_blank_values=True))
        return query_pairs, params

    def _handle_aws(self, method, path, raw_query, headers, body):
        now = time.time()
        call = _Call(now)
        request_id = str(uuid.uuid4())
        query_pairs, params = self._params(method, raw_query, headers, body)
        call.action = params.get("Action")
        host_service, host_region = self._host_service(headers)
        service = host_service or self._service_for_action(call.action)
        response = None
        target = self._json_target(headers)
        try:
            if target is not None:
                service, call.action, params = self._json_call(service, target, body)
                call.protocol = "json"
            signed = parse_signature(headers, query_pairs)
            if signed is not None and signed.service in self.services:
                service = self.services[signed.service]
            service, credential, region = self._authenticate(
                signed, host_service, host_region, call.action, method, path, query_pairs,
                headers, body, now)
            call.service = service.signing_name
            call.region = region
            call.access_key = credential.access_key if credential else None
            call.account = credential.account if credential else None
            if getattr(service, "rest_protocol", False):  # Route 53: method + path name it
                call.protocol = "rest-xml"
                call.action, params = service.route(method, path, query_pairs)
            # A call acts in its credential's account (AssumeRole credentials are another
            # account's); unsigned calls in the emulator's.
            ctx = RequestContext(request_id, region, call.account or self.settings.account,
                                 now, credential, service.signing_name, path)
            ctx.body = body
            response = self._run(service, ctx, call, params)
        except AwsError as error:
            response = self._error(service, error, request_id, call.protocol)
        except Exception:  # a bug: answer as AWS does, keep the traceback for the log
            self._report_bug()
            response = self._error(service, AwsError(
                "InternalFailure", "The request processing has failed because of an unknown "
                "error, exception or failure.", 500, sender=False), request_id, call.protocol)
        call.service = call.service or service.signing_name
        self._record(call, params, response)
        return response

    @staticmethod
    def _json_target(headers):
        content_type = ""
        target = None
        for name, value in headers:
            lowered = name.lower()
            if lowered == "x-amz-target":
                target = value.strip()
            elif lowered == "content-type":
                content_type = value.split(";", 1)[0].strip().lower()
        if target is None or content_type not in JSON_TYPES:
            return None
        return target

    def _json_call(self, service, target, body):
        """(service, action, params) of an AWS JSON 1.0 call `X-Amz-Target: Prefix.Action`."""
        prefix, _, action = target.partition(".")
        for candidate in self.services.values():
            if candidate.json_target_prefix == prefix:
                service = candidate
                break
        else:
            raise AwsError("UnknownOperationException", f"Unknown target {target}", 400)
        try:
            params = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            raise AwsError("SerializationException", "Start of structure or map found where "
                           "not expected.", 400) from None
        if not isinstance(params, dict):
            raise AwsError("SerializationException", "Start of list found where not "
                           "expected", 400)
        return service, action, params

    def _service_for_action(self, action):
        """The service an unsigned call is for when its Host does not say."""
        for service in self.services.values():
            if action in service.unsigned_actions:
                return service
        for service in self.services.values():
            if service.knows_action(action):
                return service
        return self.elbv2

    def _authenticate(self, signed, host_service, host_region, action, method, path,
                      query_pairs, headers, body, now):
        if signed is None:
            service = host_service or self._service_for_action(action)
            if action not in service.unsigned_actions:
                raise AwsError("MissingAuthenticationToken",
                               "Request is missing Authentication Token", 403)
            return service, None, host_region or self.settings.region
        service = self.services.get(signed.service)
        if host_service is not None and signed.service != host_service.signing_name:
            raise AwsError("SignatureDoesNotMatch", "Credential should be scoped to correct "
                           f"service: '{host_service.signing_name}'. ", 403)
        if service is None:
            raise AwsError("SignatureDoesNotMatch", "Credential should be scoped to correct "
                           f"service: the emulator serves {sorted(self.services)}, not "
                           f"'{signed.service}'. ", 403)
        fixed_region = getattr(service, "signing_region", None)  # global endpoints
        if not REGION.match(signed.region) or (host_region and signed.region != host_region) \
                or (fixed_region and signed.region != fixed_region):
            raise AwsError("SignatureDoesNotMatch", "Credential should be scoped to a valid "
                           f"region, not '{signed.region}'. ", 403)
        result = self.verifier.verify(method, path, query_pairs, headers, body, now, signed)
        return service, result.credential, signed.region

    def _run(self, service, ctx, call, params):
        decision = self.faults.decide(service.signing_name, call.action)
        if decision.delay > 0:
            time.sleep(decision.delay)
            ctx.now = time.time()
        if decision.kind is not None:
            call.fault = decision.kind
        if decision.kind == "throttle":
            call.throttled = True
            raise service.throttling_error()
        if decision.kind in ("error", "reset") and not decision.after_apply:
            return self._fault_response(service, decision, call, ctx)
        if not self.throttler.take((service.signing_name, ctx.region, ctx.account),
                                   call.action or "", ctx.now):
            call.throttled = True
            raise service.throttling_error()
        content_type = "text/xml"
        status, extra_headers = 200, []
        with self.lock:
            if call.protocol == "json":
                body = service.dispatch_json(ctx, call.action, params)
                content_type = "application/x-amz-json-1.0"
            else:
                body = service.dispatch(ctx, call.action, params)
            if isinstance(body, tuple):  # REST services answer (status, body, headers)
                status, body, extra_headers = body
        if decision.after_apply:
            return self._fault_response(service, decision, call, ctx)
        return HttpResponse(status, body, content_type,
                            headers=[("x-amzn-RequestId", ctx.request_id)] + extra_headers)

    def _fault_response(self, service, decision, call, ctx):
        if decision.kind == "reset":
            return HttpResponse(0, reset=True)
        rule = decision.rule
        status = rule.error_status
        code, message = service.fault_error(status, call.action)
        code = rule.error_code or code
        message = rule.error_message or message
        if status in (502, 504) and rule.error_code is None:
            # What a proxy in front of AWS answers: not XML at all.
            reason = "Bad Gateway" if status == 502 else "Gateway Timeout"
            return HttpResponse(status, f"<html><body><h1>{status} {reason}</h1></body></html>"
                                .encode(), "text/html")
        return self._error(service, AwsError(code, message, status, sender=status < 500),
                           ctx.request_id, call.protocol)

    def _error(self, service, error, request_id, protocol="query"):
        body, content_type, headers = service.error_response(error, request_id, protocol)
        return HttpResponse(error.status, body, content_type,
                            headers=[("x-amzn-RequestId", request_id)] + headers,
                            error_code=error.code)

    def _record(self, call, params, response):
        error_code = None
        if response.reset:
            status, error_code = 0, "ConnectionReset"
        else:
            status = response.status
            if status != 200:
                error_code = response.error_code
                if error_code is None:
                    match = re.search(rb"<Code>([^<]*)</Code>", response.body)
                    error_code = match.group(1).decode() if match else f"HTTP{status}"
        duration_ms = (time.time() - call.start) * 1000.0
        entry = {"seq": None, "time": call.start, "service": call.service,
                 "action": call.action, "status": status, "errorCode": error_code,
                 "throttled": call.throttled, "fault": call.fault, "region": call.region,
                 "account": call.account, "accessKeyId": call.access_key, "params": params,
                 "durationMs": round(duration_ms, 3)}
        self.log.add(entry)
        self.write_log(json.dumps({k: v for k, v in entry.items() if k != "params"}))

    def _report_bug(self):
        try:
            sys.stderr.write(traceback.format_exc())
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "awsemu"
    sys_version = ""
    timeout = 120  # idle keep-alive connections give their thread back

    def setup(self):
        super().setup()
        try:  # one response is one segment: no Nagle wait on the client's delayed ACK
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's name
        pass

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self):
        emulator = self.server.emulator
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        raw_path, _, raw_query = self.path.partition("?")
        try:
            path = raw_path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            path = raw_path
        response = emulator.handle(self.command, path, raw_query, list(self.headers.items()),
                                   body)
        if response.reset:
            self._reset_connection()
            return
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD":
                self._headers_buffer.append(response.body)
            self.flush_headers()  # headers and body in one write
        except OSError:
            self.close_connection = True

    def _reset_connection(self):
        """Closes with RST and no response, like a connection dropped mid-request."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if self.emulator.verbose:
            super().handle_error(request, client_address)


def _watch(emulator, config, server_stop, initial_ppid):
    """Sets the stop event when the parent is gone or the lifetime is over.

    `initial_ppid` is read before READY is printed: a parent that exits as soon as it has
    read READY must still be noticed.
    """
    parent = config["parentPid"]
    lifetime = float(config["maxLifetime"] or 0)
    while not server_stop.wait(0.5):
        if parent is None:
            if os.getppid() != initial_ppid:
                emulator.write_log('{"msg": "parent exited; stopping"}')
                server_stop.set()
        elif parent > 0:
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                server_stop.set()
            except PermissionError:
                pass
        if lifetime > 0 and time.time() - emulator.started >= lifetime:
            emulator.write_log('{"msg": "max lifetime reached; stopping"}')
            server_stop.set()


def main(argv=None):
    initial_ppid = os.getppid()
    try:
        config = config_module.load(sys.argv[1:] if argv is None else argv)
        emulator = Emulator(config)
    except (config_module.ConfigError, ValueError) as exc:
        sys.stderr.write(f"emulator: {exc}\n")
        return 2
    if config["logFile"]:
        emulator.log_stream = open(config["logFile"], "a", encoding="utf-8")
    server = Server((config["host"], int(config["port"])), Handler)
    server.emulator = emulator
    stop = emulator.stop_event
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    host, port = server.server_address[:2]
    emulator.base_url = f"http://{host}:{port}"
    sys.stdout.write(f"READY http://{host}:{port}\n")
    sys.stdout.flush()
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                               name="http", daemon=True)
    serving.start()
    watcher = threading.Thread(target=_watch, args=(emulator, config, stop, initial_ppid),
                               name="watch", daemon=True)
    watcher.start()
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0
