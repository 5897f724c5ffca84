#!/usr/bin/python3
"""Scriptable authoritative DNS server for endpoint-binder's tests (see README.md here).

Serves UDP and TCP on 127.0.0.1 (the same port number for both) and a JSON-over-HTTP control
API that sets records, failure modes and answer rotation at run time and reports the queries
received. It answers from its own table only: it never recurses and never talks to another
server.

The first line on stdout is

    READY dns=127.0.0.1:<port> control=http://127.0.0.1:<control port>

and nothing else is ever written to stdout (diagnostics go to stderr with --verbose), so a
parent that stops reading the pipe never blocks the server. The server exits on SIGTERM or
SIGINT, when its parent process dies, and after --max-lifetime seconds.

Debian's /usr/bin/python3 with python3-dnslib and the standard library only.
"""

import argparse
import ipaddress
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dnslib import AAAA, CNAME, EDNS0, QTYPE, RCODE, RR, A, DNSRecord

MODES = ("ok", "servfail", "nxdomain", "refused", "timeout", "empty", "truncate")
RECORD_KEYS = ("a", "aaaa", "cname", "ttl", "rotate", "mode", "modeByType")
MODE_TYPES = ("A", "AAAA")
DEFAULT_TTL = 30
MAX_CNAME_CHAIN = 16
# RFC 1035 limit for UDP answers when the query carries no EDNS0 OPT record.
CLASSIC_UDP_LIMIT = 512
MAX_EDNS_UDP = 4096


class BadRecord(ValueError):
    """A control request whose body is not a valid record."""


def normalize_name(name):
    """Lowercase, without the trailing dot: the key of the record table."""
    name = name.strip().lower()
    if name.endswith("."):
        name = name[:-1]
    return name


def check_name(name):
    if not name or len(name) > 253:
        raise BadRecord("name must have 1..253 characters: %r" % name)
    for label in name.split("."):
        if not label or len(label) > 63:
            raise BadRecord("bad label in name %r" % name)


def parse_record(body):
    """Validates a control-API record and returns it with every field present."""
    if not isinstance(body, dict):
        raise BadRecord("record must be a JSON object")
    unknown = set(body) - set(RECORD_KEYS)
    if unknown:
        raise BadRecord("unknown fields: %s" % ", ".join(sorted(unknown)))
    record = {"a": [], "aaaa": [], "cname": None, "ttl": DEFAULT_TTL, "rotate": None, "mode": "ok",
              "modeByType": {}}
    for key, version in (("a", 4), ("aaaa", 6)):
        values = body.get(key, [])
        if not isinstance(values, list):
            raise BadRecord("%s must be a list of addresses" % key)
        for value in values:
            try:
                address = ipaddress.ip_address(value)
            except (ValueError, TypeError):
                raise BadRecord("%s: %r is not an IP address" % (key, value))
            if address.version != version:
                raise BadRecord("%s: %r is not an IPv%d address" % (key, value, version))
            record[key].append(str(address))
    if body.get("cname") is not None:
        if not isinstance(body["cname"], str):
            raise BadRecord("cname must be a name")
        record["cname"] = normalize_name(body["cname"])
        check_name(record["cname"])
        if record["a"] or record["aaaa"]:
            raise BadRecord("a name with a cname can have no other data")
    ttl = body.get("ttl", DEFAULT_TTL)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 <= ttl <= 2147483647:
        raise BadRecord("ttl must be an integer in 0..2147483647")
    record["ttl"] = ttl
    rotate = body.get("rotate")
    if rotate is not None:
        if not isinstance(rotate, int) or isinstance(rotate, bool) or rotate < 1:
            raise BadRecord("rotate must be a positive integer")
        record["rotate"] = rotate
    mode = body.get("mode", "ok")
    if mode not in MODES:
        raise BadRecord("mode must be one of %s" % ", ".join(MODES))
    record["mode"] = mode
    by_type = body.get("modeByType", {})
    if not isinstance(by_type, dict):
        raise BadRecord("modeByType must be an object of query type -> mode")
    for qtype, value in by_type.items():
        if qtype not in MODE_TYPES:
            raise BadRecord("modeByType: query type must be one of %s" % ", ".join(MODE_TYPES))
        if value not in MODES:
            raise BadRecord("modeByType: mode must be one of %s" % ", ".join(MODES))
    record["modeByType"] = dict(by_type)
    return record


class State:
    """Records and the query log, shared by the DNS and control threads under one lock."""

    def __init__(self, zone, seed):
        self.lock = threading.Lock()
        self.initial_zone = dict(zone)
        self.records = dict(zone)
        self.random = random.Random(seed)
        self.seed = seed
        self.clear_queries()

    def clear_queries(self):
        self.queries = {"count": 0, "byName": {}, "byTransport": {"udp": 0, "tcp": 0},
                        "byType": {}, "malformed": 0, "udpClientPorts": 0}
        self.udp_ports = set()

    def log_udp_client(self, port):
        """Counts the distinct UDP source ports queries came from (a resolver's sockets)."""
        with self.lock:
            self.udp_ports.add(port)
            self.queries["udpClientPorts"] = len(self.udp_ports)

    def reset(self):
        with self.lock:
            self.records = dict(self.initial_zone)
            self.random = random.Random(self.seed)
            self.clear_queries()

    def log_query(self, name, qtype, transport):
        self.queries["count"] += 1
        self.queries["byName"][name] = self.queries["byName"].get(name, 0) + 1
        self.queries["byTransport"][transport] += 1
        self.queries["byType"][qtype] = self.queries["byType"].get(qtype, 0) + 1

    def log_malformed(self):
        with self.lock:
            self.queries["malformed"] += 1

    def answer(self, query, transport):
        """The reply to `query` (a DNSRecord), or None to drop it (mode "timeout")."""
        with self.lock:
            return self._answer_locked(query, transport)

    def _answer_locked(self, query, transport):
        reply = query.reply(ra=0, aa=1)
        if len(query.questions) != 1 or query.header.opcode != 0:
            if query.questions:
                self.log_query(normalize_name(str(query.q.qname)), QTYPE.get(query.q.qtype),
                               transport)
            reply.header.rcode = RCODE.NOTIMP if query.header.opcode else RCODE.FORMERR
            return reply
        qname = normalize_name(str(query.q.qname))
        qtype = query.q.qtype
        self.log_query(qname, QTYPE.get(qtype), transport)

        name = qname
        owner = query.q.qname
        seen = set()
        for _ in range(MAX_CNAME_CHAIN + 1):
            record = self.records.get(name)
            if record is None:
                reply.header.rcode = RCODE.NXDOMAIN
                break
            mode = record["modeByType"].get(QTYPE.get(qtype), record["mode"])
            if mode == "timeout":
                return None
            if mode in ("servfail", "refused"):
                reply.rr = []
                reply.header.rcode = RCODE.SERVFAIL if mode == "servfail" else RCODE.REFUSED
                break
            if mode == "nxdomain":
                reply.header.rcode = RCODE.NXDOMAIN
                break
            if mode == "truncate" and transport == "udp":
                reply.rr = []
                reply.header.tc = 1
                return reply
            if mode == "empty":
                break
            if record["cname"] is not None:
                reply.add_answer(RR(owner, QTYPE.CNAME, rdata=CNAME(record["cname"]),
                                    ttl=record["ttl"]))
                if qtype == QTYPE.CNAME:
                    break
                seen.add(name)
                name = record["cname"]
                owner = name
                if name in seen:
                    break
                continue
            addresses = []
            if qtype in (QTYPE.A, QTYPE.ANY):
                addresses += [(QTYPE.A, A(value)) for value in record["a"]]
            if qtype in (QTYPE.AAAA, QTYPE.ANY):
                addresses += [(QTYPE.AAAA, AAAA(value)) for value in record["aaaa"]]
            if record["rotate"] is not None:
                addresses = self.random.sample(addresses, min(record["rotate"], len(addresses)))
            for rtype, rdata in addresses:
                reply.add_answer(RR(owner, rtype, rdata=rdata, ttl=record["ttl"]))
            break
        return reply

    # Control API helpers; each takes the lock itself.
    def put(self, name, record):
        with self.lock:
            self.records[name] = record

    def delete(self, name):
        with self.lock:
            return self.records.pop(name, None) is not None

    def get(self, name):
        with self.lock:
            record = self.records.get(name)
            return None if record is None else dict(record)

    def all_records(self):
        with self.lock:
            return {name: dict(record) for name, record in self.records.items()}

    def query_log(self):
        with self.lock:
            return json.loads(json.dumps(self.queries))

    def delete_queries(self):
        with self.lock:
            self.clear_queries()


def udp_limit(query):
    """The largest UDP reply the querier accepts: EDNS0's payload size, else 512."""
    for rr in query.ar:
        if rr.rtype == QTYPE.OPT:
            return max(CLASSIC_UDP_LIMIT, min(int(rr.rclass), MAX_EDNS_UDP))
    return CLASSIC_UDP_LIMIT


def respond(state, data, transport):
    """Wire bytes answering `data`, or None to send nothing."""
    try:
        query = DNSRecord.parse(data)
    except Exception:  # dnslib raises several types for bad input; never let one escape
        state.log_malformed()
        if len(data) >= 12:
            # Header-only FORMERR: id from the query, QR set, opcode copied, rcode 1.
            ident, flags = struct.unpack("!HH", data[:4])
            flags = 0x8000 | (flags & 0x7800) | 1
            return struct.pack("!HHHHHH", ident, flags, 0, 0, 0, 0)
        return None
    if query.header.qr:
        return None  # a response, not a query: ignore
    reply = state.answer(query, transport)
    if reply is None:
        return None
    has_edns = any(rr.rtype == QTYPE.OPT for rr in query.ar)
    if has_edns:
        reply.add_ar(EDNS0(udp_len=MAX_EDNS_UDP))
    wire = reply.pack()
    if transport == "udp" and len(wire) > udp_limit(query):
        reply.rr = []
        reply.header.tc = 1
        wire = reply.pack()
    return wire


def serve_udp(sock, state, stop):
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(65535)
        except socket.timeout:
            continue
        except OSError:
            return
        try:
            state.log_udp_client(peer[1])
            wire = respond(state, data, "udp")
            if wire is not None:
                sock.sendto(wire, peer)
        except Exception as error:  # keep serving whatever one packet did
            log("udp: %r" % error)


def recv_exact(conn, size, stop):
    chunks = b""
    while len(chunks) < size:
        if stop.is_set():
            return None
        try:
            chunk = conn.recv(size - len(chunks))
        except socket.timeout:
            continue
        if not chunk:
            return None
        chunks += chunk
    return chunks


def serve_tcp_connection(conn, state, stop):
    conn.settimeout(0.2)
    idle_deadline = time.monotonic() + 30
    try:
        while not stop.is_set() and time.monotonic() < idle_deadline:
            header = recv_exact(conn, 2, stop)
            if header is None:
                return
            (length,) = struct.unpack("!H", header)
            data = recv_exact(conn, length, stop)
            if data is None:
                return
            idle_deadline = time.monotonic() + 30
            wire = respond(state, data, "tcp")
            if wire is not None:
                conn.sendall(struct.pack("!H", len(wire)) + wire)
    except OSError as error:
        log("tcp: %r" % error)
    finally:
        conn.close()


def serve_tcp(sock, state, stop):
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except socket.timeout:
            continue
        except OSError:
            return
        threading.Thread(target=serve_tcp_connection, args=(conn, state, stop),
                         daemon=True).start()


def make_control_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, fmt, *args):
            log("control: " + fmt % args)

        def reply(self, status, body):
            data = json.dumps(body, sort_keys=True).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def record_name(self):
            path = urllib.parse.urlparse(self.path).path
            if not path.startswith("/records/"):
                return None
            return normalize_name(urllib.parse.unquote(path[len("/records/"):]))

        def route(self):
            return urllib.parse.urlparse(self.path).path

        def do_GET(self):
            route = self.route()
            if route == "/queries":
                return self.reply(200, state.query_log())
            if route == "/records":
                return self.reply(200, state.all_records())
            if route == "/health":
                return self.reply(200, {"ok": True})
            name = self.record_name()
            if name:
                record = state.get(name)
                if record is None:
                    return self.reply(404, {"error": "no record %s" % name})
                return self.reply(200, record)
            self.reply(404, {"error": "no route %s" % route})

        def do_PUT(self):
            name = self.record_name()
            if not name:
                return self.reply(404, {"error": "PUT /records/<name> only"})
            try:
                check_name(name)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                record = parse_record(body)
            except (BadRecord, ValueError) as error:
                return self.reply(400, {"error": str(error)})
            state.put(name, record)
            self.reply(200, dict(record, name=name))

        def do_DELETE(self):
            route = self.route()
            if route == "/queries":
                state.delete_queries()
                return self.reply(200, {"ok": True})
            name = self.record_name()
            if not name:
                return self.reply(404, {"error": "no route %s" % route})
            if not state.delete(name):
                return self.reply(404, {"error": "no record %s" % name})
            self.reply(200, {"ok": True})

        def do_POST(self):
            if self.route() == "/reset":
                state.reset()
                return self.reply(200, {"ok": True})
            self.reply(404, {"error": "no route %s" % self.route()})

    return Handler


VERBOSE = False


def log(message):
    if VERBOSE:
        print("dns_server: %s" % message, file=sys.stderr, flush=True)


def bind_dns_sockets(port):
    """A UDP and a TCP socket on 127.0.0.1 with the same port number."""
    attempts = 1 if port else 50
    last_error = None
    for _ in range(attempts):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", port))
        chosen = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", chosen))
            tcp.listen(64)
            return udp, tcp, chosen
        except OSError as error:
            last_error = error
            udp.close()
            tcp.close()
    raise SystemExit("dns_server: cannot bind UDP and TCP on one port: %s" % last_error)


def load_zone(path):
    with open(path) as f:
        body = json.load(f)
    if isinstance(body, dict) and isinstance(body.get("records"), dict):
        body = body["records"]
    if not isinstance(body, dict):
        raise SystemExit("dns_server: zone file must be a JSON object of name -> record")
    zone = {}
    for name, record in body.items():
        name = normalize_name(name)
        try:
            check_name(name)
            zone[name] = parse_record(record)
        except BadRecord as error:
            raise SystemExit("dns_server: zone %s: %s: %s" % (path, name, error))
    return zone


def main():
    global VERBOSE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="DNS port (UDP and TCP); 0 = any")
    parser.add_argument("--control-port", type=int, default=0, help="HTTP control port; 0 = any")
    parser.add_argument("--zone", help="JSON file of name -> record to preload")
    parser.add_argument("--seed", type=int, default=None, help="seed for answer rotation")
    parser.add_argument("--max-lifetime", type=float, default=3600.0,
                        help="exit after this many seconds (default 3600)")
    parser.add_argument("--verbose", action="store_true", help="log to stderr")
    args = parser.parse_args()
    VERBOSE = args.verbose

    zone = load_zone(args.zone) if args.zone else {}
    state = State(zone, args.seed)
    stop = threading.Event()
    parent = os.getppid()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    udp, tcp, port = bind_dns_sockets(args.port)
    control = ThreadingHTTPServer(("127.0.0.1", args.control_port), make_control_handler(state))
    control.daemon_threads = True
    threads = [
        threading.Thread(target=serve_udp, args=(udp, state, stop), daemon=True),
        threading.Thread(target=serve_tcp, args=(tcp, state, stop), daemon=True),
        threading.Thread(target=control.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True),
    ]
    for thread in threads:
        thread.start()

    print("READY dns=127.0.0.1:%d control=http://127.0.0.1:%d" %
          (port, control.server_address[1]), flush=True)

    deadline = time.monotonic() + args.max_lifetime
    while not stop.is_set():
        if os.getppid() != parent:
            log("parent %d died; exiting" % parent)
            break
        if time.monotonic() >= deadline:
            log("max lifetime reached; exiting")
            break
        stop.wait(0.2)
    stop.set()
    control.shutdown()
    udp.close()
    tcp.close()
    # Daemon threads (open TCP connections) die with the process.
    os._exit(0)


if __name__ == "__main__":
    main()
