"""The control API under /_emulator/: plain JSON, unsigned, for tests and benchmarks.

It seeds and inspects state (target groups and targets of any account, instances, the roles
STS AssumeRole may assume, credentials), drives instance lifecycles,
Spot Fleet requests and Auto Scaling groups (which emit EventBridge events into queues),
creates SQS queues and pushes messages, injects faults, sets quotas, lag and dead targets, and
reads the request log, emitted events and process stats. The contract is documented in
README.md (and /work/notes/emulator-ec2.md); other engineers code against it, so keep it
stable.
Thread-safety: every handler takes the emulator lock.
"""

import ipaddress
import json
import re
import threading
import time
import urllib.parse
import uuid

from .compute import ComputeError
from .credentials import Credential
from .elbv2 import parse_arn
from .errors import AwsError
from .events import EventRule
from .query import RequestContext

ACCOUNT_ID = re.compile(r"^\d{12}$")
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
            ("POST", "instances/launch"): self.launch_instances,
            ("POST", "instances/stop"): self.stop_instances,
            ("POST", "instances/start"): self.start_instances,
            ("POST", "instances/terminate"): self.terminate_instances,
            ("POST", "instances/interrupt"): self.interrupt_instances,
            ("POST", "instances/rebalance"): self.rebalance_instances,
            ("GET", "spot-fleets"): self.get_fleets,
            ("POST", "spot-fleets"): self.create_fleet,
            ("POST", "spot-fleets/launch"): self.fleet_launch,
            ("POST", "spot-fleets/cancel"): self.cancel_fleet,
            ("POST", "spot-fleets/delete"): self.delete_fleet,
            ("GET", "autoscaling-groups"): self.get_groups,
            ("POST", "autoscaling-groups"): self.create_group,
            ("POST", "autoscaling-groups/launch"): self.group_launch,
            ("POST", "autoscaling-groups/terminate"): self.group_terminate,
            ("POST", "autoscaling-groups/set-state"): self.group_set_state,
            ("POST", "autoscaling-groups/complete-lifecycle-action"): self.group_complete,
            ("POST", "autoscaling-groups/delete"): self.delete_group,
            ("GET", "queues"): self.get_queues,
            ("POST", "queues"): self.create_queue,
            ("POST", "queues/send"): self.send_message,
            ("POST", "queues/purge"): self.purge_queue,
            ("POST", "queues/delete"): self.delete_queue,
            ("GET", "events"): self.get_events,
            ("GET", "requests"): self.get_requests,
            ("DELETE", "requests"): self.clear_requests,
            ("GET", "state"): self.state,
            ("GET", "stats"): self.stats,
            ("GET", "settings"): self.get_settings,
            ("POST", "settings"): self.set_settings,
            ("POST", "credentials"): self.add_credentials,
            ("GET", "roles"): self.get_roles,
            ("POST", "roles"): self.put_role,
            ("DELETE", "roles"): self.delete_role,
            ("POST", "shutdown"): self.shutdown,
        }
        self.routes.update(emulator.ssm.control_routes())
        self.routes.update(emulator.sns.control_routes())
        self.routes.update(emulator.route53.control_routes())
        self.routes.update(emulator.s3.control_routes())

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
        except ComputeError as exc:
            return exc.status, {"error": str(exc)}
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
        out["spotFleets"] = self.get_fleets({}, {})["spotFleets"]
        out["autoScalingGroups"] = self.get_groups({}, {})["autoScalingGroups"]
        out["queues"] = self.get_queues({}, {})["queues"]
        out["route53Zones"] = emulator.route53.control_zones({}, {})["zones"]
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
        account = self._account(body.get("account"))
        self.emulator.credentials.add(Credential(
            access_key, secret, body.get("sessionToken"),
            None if expires_at is None else float(expires_at), account,
            body.get("arn"), kind="temporary" if body.get("sessionToken") else "static"))
        return {"accessKeyId": access_key, "expiresAt": expires_at, "account": account}

    def _account(self, value):
        """A body's optional "account" (12 digits), else the emulator's account."""
        if value is None:
            return self.emulator.settings.account
        if not isinstance(value, str) or not ACCOUNT_ID.match(value):
            raise ControlError(400, f"'account' must be a 12-digit account id: {value!r}")
        return value

    # ------------------------------------------------------------------ roles

    def get_roles(self, body, params):
        roles = self.emulator.sts.roles.values()
        return {"roles": [role.describe() for role in sorted(roles, key=lambda r: r.arn)]}

    def put_role(self, body, params):
        """Adds or replaces (by ARN) a role AssumeRole may assume."""
        return {"role": self.emulator.sts.put_role(body).describe()}

    def delete_role(self, body, params):
        arn = params.get("arn")
        if not arn:
            raise ControlError(400, "missing query parameter 'arn'")
        if self.emulator.sts.roles.pop(arn, None) is None:
            raise ControlError(404, f"no role {arn}")
        return {"ok": True}

    # ------------------------------------------------------------ ELBv2 state

    def _context(self, region, account):
        return RequestContext(str(uuid.uuid4()), region, account, time.time())

    def create_target_group(self, body, params):
        settings = self.emulator.settings
        elbv2 = self.emulator.elbv2
        arn = body.get("arn")
        name = body.get("name")
        region = body.get("region") or settings.region
        account = self._account(body.get("account"))
        if arn is not None:
            parsed = parse_arn(arn)
            if parsed is None or not parsed[2].startswith("targetgroup/") or \
                    len(parsed[2].split("/")) != 3:
                raise ControlError(400, f"not a target group ARN: {arn}")
            if body.get("account") is not None and body["account"] != parsed[1]:
                raise ControlError(400, f"'account' {body['account']} differs from the ARN's "
                                   f"{parsed[1]}")
            region, account, resource = parsed
            arn_name = resource.split("/")[1]
            if name is not None and name != arn_name:
                raise ControlError(400, f"name '{name}' differs from the ARN's '{arn_name}'")
            name = arn_name
            if arn in elbv2.target_groups:
                raise ControlError(409, f"target group {arn} exists")
        if not name:
            raise ControlError(400, "missing 'name'")
        if any(g.name == name and g.region == region and g.account == account
               for g in elbv2.target_groups.values()):
            raise ControlError(409, f"a target group named {name} exists in account "
                               f"{account}, {region}")
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
        ctx = self._context(region, account)
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
        ctx = self._context(group.region, group.account)
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
        ctx = self._context(group.region, group.account)
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
            if not isinstance(spec, dict):
                raise ControlError(400, "each instance must be a JSON object")
            if spec.get("privateIp") is not None:
                ipaddress.IPv4Address(spec["privateIp"])
        ids = self.emulator.world.upsert_instances(specs)
        return {"ids": ids}

    # ------------------------------------------- instance lifecycles, fleets, groups

    def launch_instances(self, body, params):
        created = self.emulator.compute.launch(body)
        return {"reservationId": created[0].reservation_id, "ids": [i.id for i in created],
                "instances": [i.describe() for i in created]}

    def stop_instances(self, body, params):
        return {"ids": self.emulator.compute.stop(body)}

    def start_instances(self, body, params):
        return {"ids": self.emulator.compute.start(body)}

    def terminate_instances(self, body, params):
        return {"ids": self.emulator.compute.terminate(body)}

    def interrupt_instances(self, body, params):
        return {"ids": self.emulator.compute.interrupt(body)}

    def rebalance_instances(self, body, params):
        return {"ids": self.emulator.compute.rebalance(body)}

    def get_fleets(self, body, params):
        world = self.emulator.world
        return {"spotFleets": [f.describe(world)
                               for f in self.emulator.compute.fleets.values()]}

    def create_fleet(self, body, params):
        fleet, ids = self.emulator.compute.create_fleet(body)
        return {"id": fleet.id, "ids": ids}

    def fleet_launch(self, body, params):
        return {"ids": self.emulator.compute.fleet_launch(body)}

    def cancel_fleet(self, body, params):
        fleet = self.emulator.compute.cancel_fleet(body)
        return {"id": fleet.id, "state": fleet.state}

    def delete_fleet(self, body, params):
        return {"id": self.emulator.compute.delete_fleet(body).id}

    def get_groups(self, body, params):
        return {"autoScalingGroups": [g.describe()
                                      for g in self.emulator.compute.groups.values()]}

    def create_group(self, body, params):
        group, ids = self.emulator.compute.create_group(body)
        return {"name": group.name, "arn": group.arn, "ids": ids}

    def group_launch(self, body, params):
        return {"ids": self.emulator.compute.group_launch(body)}

    def group_terminate(self, body, params):
        return {"ids": self.emulator.compute.group_terminate(body)}

    def group_set_state(self, body, params):
        return {"ids": self.emulator.compute.set_members(body)}

    def group_complete(self, body, params):
        unknown = set(body) - {"name", "hook", "instanceId", "token", "result"}
        if unknown:
            raise ControlError(400, f"unknown fields: {sorted(unknown)}")
        instance_id = self.emulator.compute.complete_action(
            _require(body, "name", str), _require(body, "hook", str), body.get("token"),
            body.get("instanceId"), body.get("result", "CONTINUE"))
        return {"instanceId": instance_id}

    def delete_group(self, body, params):
        return {"name": self.emulator.compute.delete_group(body).name}

    # ----------------------------------------------------------- queues, events

    def get_queues(self, body, params):
        now = time.time()
        return {"queues": [q.describe(now) for q in self.emulator.sqs.queues.values()]}

    QUEUE_ATTRIBUTES = {"visibilityTimeout": "VisibilityTimeout",
                        "receiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
                        "delaySeconds": "DelaySeconds",
                        "messageRetentionPeriod": "MessageRetentionPeriod",
                        "maximumMessageSize": "MaximumMessageSize"}

    def create_queue(self, body, params):
        unknown = set(body) - set(self.QUEUE_ATTRIBUTES) - {"name", "region", "events",
                                                            "deadLetter"}
        if unknown:
            raise ControlError(400, f"unknown queue fields: {sorted(unknown)}")
        name = _require(body, "name", str)
        sqs = self.emulator.sqs
        if sqs.queue_by_name(name) is not None:
            raise ControlError(409, f"queue {name} exists")
        attributes = {aws: body[key] for key, aws in self.QUEUE_ATTRIBUTES.items()
                      if key in body}
        rule = EventRule(body["events"]) if body.get("events") else None
        dead_letter = None
        if body.get("deadLetter") is not None:
            spec = body["deadLetter"]
            if not isinstance(spec, dict) or set(spec) - {"queue", "maxReceiveCount"}:
                raise ControlError(400, "'deadLetter' is {\"queue\", \"maxReceiveCount\"}")
            count = int(spec.get("maxReceiveCount", 5))
            if not 1 <= count <= 1000:
                raise ControlError(400, "maxReceiveCount must be within 1..1000")
            if sqs.queue_by_name(_require(spec, "queue", str)) is None:
                raise ControlError(404, f"no dead-letter queue {spec['queue']}")
            dead_letter = (spec["queue"], count)
        try:
            queue = sqs.create_queue(name, body.get("region") or self.emulator.settings.region,
                                     attributes)
        except AwsError as exc:
            raise ControlError(400, exc.message) from None
        queue.event_rule = rule
        queue.dead_letter = dead_letter
        return {"name": queue.name, "url": queue.url, "arn": queue.arn}

    def _queue(self, body):
        ref = _require(body, "queue", str)
        sqs = self.emulator.sqs
        queue = sqs.queue_by_name(ref) or sqs.queue_by_url(ref)
        if queue is None:
            raise ControlError(404, f"no queue {ref}")
        return queue

    def send_message(self, body, params):
        unknown = set(body) - {"queue", "body", "delaySeconds"}
        if unknown:
            raise ControlError(400, f"unknown fields: {sorted(unknown)}")
        queue = self._queue(body)
        if "body" not in body:
            raise ControlError(400, "missing 'body'")
        text = body["body"] if isinstance(body["body"], str) else json.dumps(body["body"])
        delay = float(body.get("delaySeconds", 0))
        message = queue.send(text, time.time(), delay=delay)
        self.emulator.changed.notify_all()
        return {"messageId": message.id, "md5OfBody": message.md5}

    def purge_queue(self, body, params):
        queue = self._queue(body)
        queue.messages.clear()
        return {"name": queue.name}

    def delete_queue(self, body, params):
        queue = self._queue(body)
        del self.emulator.sqs.queues[queue.name]
        self.emulator.changed.notify_all()
        return {"name": queue.name}

    def get_events(self, body, params):
        since = params.get("since")
        return self.emulator.events.snapshot(
            since=int(since) if since not in (None, "") else None,
            detail_type=params.get("detailType") or None)

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
