"""The control API under /_emulator/: plain JSON, unsigned, for tests and benchmarks.

It seeds and inspects state (target groups, targets, instances), injects faults, sets
quotas, lag and dead targets, and reads the request log and process stats. The contract is
documented in README.md; other engineers code against it, so keep it stable.
Thread-safety: every handler takes the emulator lock.
"""

import ipaddress
import json
import threading
import time
import urllib.parse
import uuid

from .credentials import Credential
from .elbv2 import parse_arn
from .errors import AwsError
from .query import RequestContext

UNHEALTHY_REASONS = ("Target.Timeout", "Target.FailedHealthChecks",
                     "Target.ResponseCodeMismatch", "Elb.InternalError")


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _require(body, key, kind=None):
    if key not in body:
        raise ControlError(400, f"missing '{key}'")
    value = body[key]
    if kind is not None and not isinstance(value, kind):
        raise ControlError(400, f"'{key}' has the wrong type")
    return value


class ControlApi:
    def __init__(self, emulator):
        self.emulator = emulator
        self.routes = {
            ("GET", "health"): self.health,
            ("POST", "reset"): self.reset,
            ("POST", "target-groups"): self.create_target_group,
            ("POST", "target-groups/settings"): self.update_target_group,
            ("POST", "targets"): self.register_targets,
            ("GET", "faults"): self.list_faults,
            ("POST", "faults"): self.add_fault,
            ("DELETE", "faults"): self.clear_faults,
            ("GET", "consistency"): self.get_consistency,
            ("POST", "consistency"): self.set_consistency,
            ("GET", "dead-targets"): self.get_dead,
            ("POST", "dead-targets"): self.set_dead,
            ("GET", "quotas"): self.get_quotas,
            ("POST", "quotas"): self.set_quotas,
            ("GET", "instances"): self.get_instances,
            ("POST", "instances"): self.set_instances,
            ("GET", "requests"): self.get_requests,
            ("DELETE", "requests"): self.clear_requests,
            ("GET", "state"): self.state,
            ("GET", "stats"): self.stats,
            ("GET", "settings"): self.get_settings,
            ("POST", "settings"): self.set_settings,
            ("POST", "credentials"): self.add_credentials,
            ("POST", "shutdown"): self.shutdown,
        }

    def handle(self, method, path, query, body):
        """(status, JSON-able dict) for one control call."""
        name = path[len("/_emulator/"):].strip("/")
        handler = self.routes.get((method, name))
        if handler is None:
            if any(route_name == name for _, route_name in self.routes):
                return 405, {"error": f"method {method} not allowed on /_emulator/{name}"}
            return 404, {"error": f"no control endpoint /_emulator/{name}"}
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        try:
            data = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            return 400, {"error": f"body is not JSON: {exc}"}
        if not isinstance(data, dict):
            return 400, {"error": "body must be a JSON object"}
        try:
            with self.emulator.lock:
                return 200, handler(data, params)
        except ControlError as exc:
            return exc.status, {"error": exc.message}
        except AwsError as exc:
            return 400, {"error": exc.message, "code": exc.code}
        except (ValueError, TypeError, KeyError) as exc:
            return 400, {"error": str(exc)}

    # ------------------------------------------------------------------ basics

    def health(self, body, params):
        return {"ok": True}

    def reset(self, body, params):
        self.emulator.reset()
        return {"ok": True}

    def shutdown(self, body, params):
        self.emulator.stop_event.set()
        return {"ok": True}

    def stats(self, body, params):
        now = time.time()
        return {"cpuSeconds": time.process_time(), "requests": self.emulator.log.total,
                "uptime": now - self.emulator.started, "threads": threading.active_count(),
                "pid": self.emulator.pid}

    def state(self, body, params):
        emulator = self.emulator
        out = emulator.elbv2.state(time.time())
        out["instances"] = [i.describe() for i in emulator.world.instances.values()]
        out["deadTargets"] = emulator.world.dead_ids(time.time())
        return out

    def get_settings(self, body, params):
        out = self.emulator.settings.describe()
        out["throttle"] = self.emulator.throttler.enabled
        return out

    def set_settings(self, body, params):
        self.emulator.settings.update(body)
        if "throttle" in body:
            self.emulator.throttler.enabled = bool(body["throttle"])
        return self.get_settings({}, {})

    def add_credentials(self, body, params):
        access_key = _require(body, "accessKeyId", str)
        secret = _require(body, "secretAccessKey", str)
        expires_at = body.get("expiresAt")
        if body.get("expiresIn") is not None:
            expires_at = time.time() + float(body["expiresIn"])
        settings = self.emulator.settings
        self.emulator.credentials.add(Credential(
            access_key, secret, body.get("sessionToken"),
            None if expires_at is None else float(expires_at), settings.account,
            body.get("arn"), kind="temporary" if body.get("sessionToken") else "static"))
        return {"accessKeyId": access_key, "expiresAt": expires_at}

    # ------------------------------------------------------------ ELBv2 state

    def _context(self, region):
        settings = self.emulator.settings
        return RequestContext(str(uuid.uuid4()), region, settings.account, time.time())

    def create_target_group(self, body, params):
        settings = self.emulator.settings
        elbv2 = self.emulator.elbv2
        arn = body.get("arn")
        name = body.get("name")
        region = body.get("region") or settings.region
        if arn is not None:
            parsed = parse_arn(arn)
            if parsed is None or not parsed[2].startswith("targetgroup/") or \
                    len(parsed[2].split("/")) != 3:
                raise ControlError(400, f"not a target group ARN: {arn}")
            region, account, resource = parsed
            if account != settings.account:
                raise ControlError(400, f"the ARN's account {account} is not the emulator's "
                                   f"account {settings.account}")
            arn_name = resource.split("/")[1]
            if name is not None and name != arn_name:
                raise ControlError(400, f"name '{name}' differs from the ARN's '{arn_name}'")
            name = arn_name
            if arn in elbv2.target_groups:
                raise ControlError(409, f"target group {arn} exists")
        if not name:
            raise ControlError(400, "missing 'name'")
        if any(g.name == name and g.region == region for g in elbv2.target_groups.values()):
            raise ControlError(409, f"a target group named {name} exists in {region}")
        target_type = body.get("targetType", "ip")
        args = {"Name": name, "TargetType": target_type}
        if target_type != "lambda":
            args.update({"Protocol": body.get("protocol", "HTTPS"),
                         "Port": int(body.get("port", 443)),
                         "VpcId": body.get("vpcId") or self.emulator.world.default_vpc().id})
        if "healthCheckEnabled" in body:
            args["HealthCheckEnabled"] = bool(body["healthCheckEnabled"])
        if body.get("ipAddressType") is not None:
            if body["ipAddressType"] not in ("ipv4", "ipv6"):
                raise ControlError(400, "ipAddressType must be ipv4 or ipv6")
            if target_type == "lambda":
                raise ControlError(400, "ipAddressType cannot be set for lambda target groups")
            args["IpAddressType"] = body["ipAddressType"]
        tags = body.get("tags") or {}
        if not isinstance(tags, dict):
            raise ControlError(400, "'tags' must be an object")
        args["Tags"] = [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
        ctx = self._context(region)
        self._check_settings(body)
        group = elbv2.create_target_group(ctx, args, arn=arn)
        lb_arn = None
        try:
            self._apply_group_settings(ctx, group, body)
            if body.get("attachLoadBalancer", True):
                lb_arn = self._attach(ctx, group)
        except Exception:
            elbv2.target_groups.pop(group.arn, None)
            raise
        return {"arn": group.arn, "loadBalancerArn": lb_arn}

    @staticmethod
    def _check_settings(body):
        if "deregistrationDelay" in body:
            delay = int(body["deregistrationDelay"])
            if not 0 <= delay <= 3600:
                raise ControlError(400, "deregistrationDelay must be within 0..3600")
        if body.get("healthyAfter") is not None and float(body["healthyAfter"]) < 0:
            raise ControlError(400, "healthyAfter must be >= 0")

    def _apply_group_settings(self, ctx, group, body):
        self._check_settings(body)
        if "deregistrationDelay" in body:
            if "deregistration_delay.timeout_seconds" not in group.attributes:
                raise ControlError(400, "this target group has no deregistration delay")
            group.attributes["deregistration_delay.timeout_seconds"] = str(
                int(body["deregistrationDelay"]))
        if "healthyAfter" in body:
            value = body["healthyAfter"]
            group.healthy_after = None if value is None else float(value)

    def _attach(self, ctx, group):
        elbv2 = self.emulator.elbv2
        existing = elbv2.load_balancer_arns(group)
        if existing:
            return existing[0]
        protocol = group.spec.get("Protocol")
        application = group.target_type == "lambda" or protocol in ("HTTP", "HTTPS")
        vpc = self.emulator.world.vpc(group.spec.get("VpcId")) or \
            self.emulator.world.default_vpc()
        suffix = group.arn.rsplit("/", 1)[-1][:12]
        lb = elbv2.create_load_balancer(ctx, {
            "Name": f"emu-{suffix}", "Type": "application" if application else "network",
            "Scheme": "internal", "Subnets": [s.id for s in vpc.subnets],
            "Tags": [{"Key": "emulator:attached-to", "Value": group.name}]})
        elbv2.create_listener(ctx, {
            "LoadBalancerArn": lb.arn,
            "Protocol": "HTTP" if application else ("UDP" if protocol == "UDP" else "TCP"),
            "Port": group.port or 80,
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": group.arn}]})
        return lb.arn

    def _group(self, arn):
        group = self.emulator.elbv2.target_groups.get(arn)
        if group is None:
            raise ControlError(404, f"no target group {arn}")
        return group

    def update_target_group(self, body, params):
        group = self._group(_require(body, "arn", str))
        ctx = self._context(group.region)
        self._apply_group_settings(ctx, group, body)
        lb_arn = None
        if body.get("attachLoadBalancer"):
            lb_arn = self._attach(ctx, group)
        if "tags" in body:
            group.tags.update({str(k): str(v) for k, v in (body["tags"] or {}).items()})
        return {"arn": group.arn, "loadBalancerArn": lb_arn}

    def register_targets(self, body, params):
        """Registers targets without API quotas or the log; "state": "healthy" skips initial."""
        group = self._group(_require(body, "arn", str))
        targets = _require(body, "targets", list)
        descriptions = []
        for item in targets:
            if isinstance(item, str):
                item = {"id": item}
            description = {"Id": str(item["id"])}
            if item.get("port") is not None:
                description["Port"] = int(item["port"])
            if item.get("availabilityZone") is not None:
                description["AvailabilityZone"] = item["availabilityZone"]
            descriptions.append(description)
        ctx = self._context(group.region)
        elbv2 = self.emulator.elbv2
        checked = elbv2._check_targets(ctx, group, descriptions, registering=True)
        elbv2.register(ctx, group, checked, ctx.now,
                       skip_initial=body.get("state", "initial") == "healthy")
        return {"arn": group.arn, "registered": len(checked)}

    # ------------------------------------------------------------------ faults

    def list_faults(self, body, params):
        return {"rules": self.emulator.faults.rules()}

    def add_fault(self, body, params):
        return {"id": self.emulator.faults.add(body)}

    def clear_faults(self, body, params):
        self.emulator.faults.clear()
        return {"ok": True}

    # ---------------------------------------------------- health and timing

    def get_consistency(self, body, params):
        return {"describeLagMs": self.emulator.settings.describe_lag_ms}

    def set_consistency(self, body, params):
        lag = float(_require(body, "describeLagMs"))
        if lag < 0:
            raise ControlError(400, "describeLagMs must be >= 0")
        self.emulator.settings.describe_lag_ms = lag
        return {"describeLagMs": lag}

    def get_dead(self, body, params):
        return {"ids": self.emulator.world.dead_ids(time.time())}

    def set_dead(self, body, params):
        ids = _require(body, "ids", list)
        dead = bool(body.get("dead", True))
        reason = body.get("reason", "Target.Timeout")
        if reason not in UNHEALTHY_REASONS:
            raise ControlError(400, f"reason must be one of {list(UNHEALTHY_REASONS)}")
        self.emulator.world.mark_dead([str(i) for i in ids], dead, reason, time.time())
        return {"ids": self.emulator.world.dead_ids(time.time())}

    def get_quotas(self, body, params):
        return {"quotas": self.emulator.throttler.quotas(),
                "enabled": self.emulator.throttler.enabled}

    def set_quotas(self, body, params):
        self.emulator.throttler.set_quotas(body)
        return self.get_quotas({}, {})

    def get_instances(self, body, params):
        return {"instances": [i.describe() for i in self.emulator.world.instances.values()]}

    def set_instances(self, body, params):
        specs = _require(body, "instances", list)
        for spec in specs:
            if spec.get("privateIp") is not None:
                ipaddress.IPv4Address(spec["privateIp"])
        ids = self.emulator.world.upsert_instances(specs)
        return {"ids": ids}

    # -------------------------------------------------------------------- log

    def get_requests(self, body, params):
        since = params.get("since")
        return self.emulator.log.snapshot(
            since=int(since) if since not in (None, "") else None,
            action=params.get("action") or None,
            with_params=params.get("params", "1") not in ("0", "false"))

    def clear_requests(self, body, params):
        self.emulator.log.clear()
        return {"ok": True}
