"""Instance lifecycles, Spot Fleet requests and Auto Scaling groups, and the EventBridge events
every change emits.

EC2 states move as on AWS: launch/start -> pending -> running; stop -> stopping -> stopped;
terminate -> shutting-down -> terminated, each step emitting "EC2 Instance State-change
Notification". The time spent in the transitional state is `transitionSeconds` (per call, or
the setting; 0 applies both steps at once, in order). A Spot interruption emits the warning
(and optionally a rebalance recommendation) and terminates the instance `warningSeconds` later.

Spot Fleet requests (`sfr-<uuid>`) own spot instances (`instanceLifecycle: spot`,
`sir-` request ids, tag `aws:ec2spot:fleet-request-id`); an instance leaves its fleet when it
is terminated. Cancelling with termination goes cancelled_terminating -> cancelled once every
instance is gone; without, cancelled_running.

Auto Scaling groups own members with lifecycle states. Scale out: Pending -> (launch hook:
Pending:Wait + "EC2 Instance-launch Lifecycle Action" until CompleteLifecycleAction or the
heartbeat timeout -> Pending:Proceed) -> InService + "EC2 Instance Launch Successful" once the
instance runs. Scale in: Terminating (or Terminating:Wait + "...-terminate Lifecycle Action",
then Terminating:Proceed) -> EC2 termination -> the member leaves + "EC2 Instance Terminate
Successful". An instance EC2 terminates or stops on its own is marked Unhealthy/Terminating
and leaves the same way. `set_members` changes states directly (no events), for tests.
Thread-safety: callers hold the emulator lock (control API, scheduler callbacks).
"""

import collections
import re
import secrets
import time
import uuid

from . import events
from .world import Instance, new_instance_id

FLEET_ID = re.compile(r"^sfr-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
GROUP_NAME = re.compile(r"^[^:]{1,255}$")
LIFECYCLE_STATES = ("Pending", "Pending:Wait", "Pending:Proceed", "Quarantined", "InService",
                    "Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated",
                    "Detaching", "Detached", "EnteringStandby", "Standby")
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"


class ComputeError(ValueError):
    """Bad control-API input; `status` is the HTTP status the control API answers with."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def _check_fields(spec, allowed, what):
    if not isinstance(spec, dict):
        raise ComputeError(f"{what} must be a JSON object")
    unknown = set(spec) - set(allowed)
    if unknown:
        raise ComputeError(f"unknown {what} fields: {sorted(unknown)}")


def _seconds(value, name):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ComputeError(f"'{name}' must be a number of seconds") from None
    if number < 0:
        raise ComputeError(f"'{name}' must be >= 0")
    return number


class SpotFleet:
    def __init__(self, fleet_id, region, now, spec):
        self.id = fleet_id
        self.region = region
        self.created = now
        self.state = "active"
        self.instance_type = str(spec.get("instanceType", "c5.large"))
        self.iam_fleet_role = str(spec.get("iamFleetRole") or
                                  "arn:aws:iam::{account}:role/aws-ec2-spot-fleet-tagging-role")
        self.fleet_type = spec.get("type", "maintain")
        self.target_capacity = 0
        self.tags = dict(spec.get("tags") or {})
        self.instance_ids = []  # members, launch order

    def describe(self, world):
        return {"id": self.id, "region": self.region, "state": self.state,
                "targetCapacity": self.target_capacity, "instanceType": self.instance_type,
                "type": self.fleet_type, "tags": self.tags, "ids": list(self.instance_ids),
                "activeIds": [i for i in self.instance_ids
                              if world.instances[i].state in ("pending", "running")]}


class LifecycleHook:
    FIELDS = {"name", "transition", "heartbeatTimeout", "defaultResult", "notificationMetadata"}

    def __init__(self, spec):
        _check_fields(spec, self.FIELDS, "lifecycle hook")
        self.name = spec.get("name")
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9\-_/]{1,255}",
                                                              self.name):
            raise ComputeError(f"lifecycle hook name is invalid: {self.name!r}")
        self.transition = spec.get("transition")
        if self.transition not in (LAUNCHING, TERMINATING):
            raise ComputeError(f"lifecycle hook transition must be {LAUNCHING} or "
                               f"{TERMINATING}")
        # AWS allows 30..7200 s; shorter ones are allowed here so tests can time out fast.
        self.heartbeat_timeout = _seconds(spec.get("heartbeatTimeout", 3600),
                                          "heartbeatTimeout")
        self.default_result = spec.get("defaultResult", "ABANDON")
        if self.default_result not in ("CONTINUE", "ABANDON"):
            raise ComputeError("defaultResult must be CONTINUE or ABANDON")
        self.notification_metadata = spec.get("notificationMetadata")

    def describe(self, group_name):
        out = {"LifecycleHookName": self.name, "AutoScalingGroupName": group_name,
               "LifecycleTransition": self.transition,
               "HeartbeatTimeout": int(self.heartbeat_timeout),
               "GlobalTimeout": int(min(self.heartbeat_timeout * 100, 172800)),
               "DefaultResult": self.default_result}
        if self.notification_metadata is not None:
            out["NotificationMetadata"] = self.notification_metadata
        return out


class Member:
    """An instance's membership of a group."""

    def __init__(self, instance, state, health="Healthy"):
        self.instance_id = instance.id
        self.az = instance.az
        self.instance_type = instance.instance_type
        self.lifecycle_state = state
        self.health_status = health
        self.protected = False
        self.started = time.time()
        self.action = None  # (hook, token) while in a :Wait state

    def describe(self):
        return {"id": self.instance_id, "lifecycleState": self.lifecycle_state,
                "healthStatus": self.health_status, "availabilityZone": self.az}


class AutoScalingGroup:
    def __init__(self, name, region, account, now, spec, subnets):
        self.name = name
        self.region = region
        self.arn = (f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:{uuid.uuid4()}:"
                    f"autoScalingGroupName/{name}")
        self.created = now
        self.min_size = int(spec.get("minSize", 0))
        self.max_size = int(spec.get("maxSize", max(10, int(spec.get("desiredCapacity", 0)))))
        self.desired = 0
        self.instance_type = str(spec.get("instanceType", "t3.micro"))
        self.subnets = subnets
        self.tags = {str(k): str(v) for k, v in (spec.get("tags") or {}).items()}
        self.target_group_arns = list(spec.get("targetGroupARNs") or [])
        self.health_check_grace = int(spec.get("healthCheckGracePeriod", 300))
        self.hooks = collections.OrderedDict()
        for hook_spec in spec.get("lifecycleHooks") or []:
            hook = LifecycleHook(hook_spec)
            if hook.name in self.hooks:
                raise ComputeError(f"lifecycle hook {hook.name} is listed twice")
            self.hooks[hook.name] = hook
        self.members = collections.OrderedDict()  # instance id -> Member
        self._next_subnet = 0

    def hook_for(self, transition):
        for hook in self.hooks.values():
            if hook.transition == transition:
                return hook
        return None

    def next_subnet(self):
        subnet = self.subnets[self._next_subnet % len(self.subnets)]
        self._next_subnet += 1
        return subnet

    def availability_zones(self):
        return sorted({s.az(self.region) for s in self.subnets})

    def describe(self):
        return {"name": self.name, "arn": self.arn, "region": self.region,
                "minSize": self.min_size, "maxSize": self.max_size,
                "desiredCapacity": self.desired,
                "lifecycleHooks": [h.describe(self.name) for h in self.hooks.values()],
                "instances": [m.describe() for m in self.members.values()]}


class Compute:
    def __init__(self, emulator):
        self.emulator = emulator
        self.reset()

    def reset(self):
        self.fleets = collections.OrderedDict()  # id -> SpotFleet
        self.groups = collections.OrderedDict()  # name -> AutoScalingGroup
        self._transitions = {}  # instance id -> token of its latest scheduled step

    @property
    def world(self):
        return self.emulator.world

    @property
    def account(self):
        return self.emulator.settings.account

    def _emit(self, event):
        self.emulator.events.emit(event, time.time())
        self.emulator.changed.notify_all()

    def _after(self, delay, callback):
        if delay <= 0:
            callback()
        else:
            self.emulator.scheduler.schedule(time.time() + delay, callback)

    def _delay(self, body):
        if body.get("transitionSeconds") is None:
            return self.emulator.settings.transition_seconds
        return _seconds(body["transitionSeconds"], "transitionSeconds")

    def _instance(self, instance_id):
        instance = self.world.instances.get(instance_id)
        if instance is None:
            raise ComputeError(f"no instance {instance_id}", 404)
        return instance

    def _instances(self, ids):
        if not isinstance(ids, list) or not ids:
            raise ComputeError("'ids' must be a non-empty list of instance ids")
        return [self._instance(str(i)) for i in ids]

    # ------------------------------------------------------------ EC2 states

    def _step(self, instance, state, then=None, delay=0.0, reason=None):
        """Moves `instance` to `state` now (event), then to `then` after `delay` seconds,
        unless another step replaced this one in between."""
        token = object()
        self._transitions[instance.id] = token
        self._set_state(instance, state, reason)
        if then is None:
            return

        def finish():
            if self._transitions.get(instance.id) is token and \
                    self.world.instances.get(instance.id) is instance:
                self._set_state(instance, then, reason)
        self._after(delay, finish)

    def _set_state(self, instance, state, reason=None):
        if instance.state == state:
            return
        instance.state = state
        if reason is not None:
            instance.state_reason = reason
        self._emit(events.state_change(self.account, instance, state, time.time()))
        self._on_state(instance)

    def launch(self, body, region=None, subnets=None, prepare=None):
        """Launches instances (control API body); returns them, already `pending`."""
        _check_fields(body, {"count", "instanceType", "subnetId", "az", "tags", "region",
                             "transitionSeconds", "instances", "ipv6", "vpcId"}, "launch")
        delay = self._delay(body)
        specs = body.get("instances")
        if specs is None:
            count = int(body.get("count", 1))
            if not 1 <= count <= 1000:
                raise ComputeError("'count' must be within 1..1000")
            specs = [{} for _ in range(count)]
        elif not isinstance(specs, list) or not specs:
            raise ComputeError("'instances' must be a non-empty list")
        region = body.get("region") or region or self.emulator.settings.region
        used = self.world.used_addresses()
        created = []
        taken = set()
        reservation = "r-" + secrets.token_hex(9)[:17]
        for index, item in enumerate(specs):
            _check_fields(item, Instance.FIELDS, "instance")
            spec = {"region": region}
            for key in ("instanceType", "subnetId", "az", "vpcId"):
                if body.get(key) is not None:
                    spec[key] = body[key]
            spec["tags"] = dict(body.get("tags") or {})
            spec.update({k: v for k, v in item.items() if k != "tags"})
            spec["tags"].update(item.get("tags") or {})
            spec["state"] = "pending"
            spec.setdefault("id", new_instance_id())
            if spec["id"] in self.world.instances or spec["id"] in taken:
                raise ComputeError(f"instance {spec['id']} exists", 409)
            taken.add(spec["id"])
            if subnets and not spec.get("subnetId") and not spec.get("az"):
                # A list of subnets (one per instance) or a function picking the next one.
                subnet = subnets() if callable(subnets) else subnets[index % len(subnets)]
                spec["subnetId"] = subnet.id
            instance = Instance(spec, self.world)
            if instance.private_ip is None:
                instance.private_ip = self.world.allocate_address(instance.subnet, 4, used)
            elif instance.private_ip in used:
                raise ComputeError(f"address {instance.private_ip} is in use", 409)
            used.add(instance.private_ip)
            if body.get("ipv6") and instance.ipv6_address is None:
                instance.ipv6_address = self.world.allocate_address(instance.subnet, 6, used)
                used.add(instance.ipv6_address)
            instance.reservation_id = reservation
            created.append(instance)
        for instance in created:
            instance.state = "launching"  # not yet visible as a state: pending comes next
            self.world.instances[instance.id] = instance
            if prepare is not None:
                prepare(instance)
        for instance in created:
            self._step(instance, "pending", "running", delay)
        return created

    def stop(self, body):
        _check_fields(body, {"ids", "transitionSeconds"}, "stop")
        instances = self._instances(body.get("ids"))
        bad = [i.id for i in instances if i.state in ("shutting-down", "terminated")]
        if bad:
            raise ComputeError(f"cannot stop {bad}: terminated or terminating", 409)
        delay = self._delay(body)
        for instance in instances:
            if instance.state in ("pending", "running"):
                self._step(instance, "stopping", "stopped", delay,
                           ("Client.UserInitiatedShutdown",
                            "Client.UserInitiatedShutdown: User initiated shutdown"))
        return [i.id for i in instances]

    def start(self, body):
        _check_fields(body, {"ids", "transitionSeconds"}, "start")
        instances = self._instances(body.get("ids"))
        bad = [i.id for i in instances if i.state not in ("stopped", "running", "pending")]
        if bad:
            raise ComputeError(f"cannot start {bad}: only stopped instances start", 409)
        delay = self._delay(body)
        for instance in instances:
            if instance.state == "stopped":
                instance.state_reason = None
                self._step(instance, "pending", "running", delay)
        return [i.id for i in instances]

    def terminate(self, body, reason=None):
        _check_fields(body, {"ids", "transitionSeconds"}, "terminate")
        instances = self._instances(body.get("ids"))
        self._terminate(instances, self._delay(body), reason)
        return [i.id for i in instances]

    def _terminate(self, instances, delay, reason=None):
        reason = reason or ("Client.UserInitiatedShutdown",
                            "Client.UserInitiatedShutdown: User initiated shutdown")
        for instance in instances:
            if instance.state not in ("shutting-down", "terminated"):
                self._step(instance, "shutting-down", "terminated", delay, reason)

    def interrupt(self, body):
        _check_fields(body, {"ids", "warningSeconds", "action", "rebalance",
                             "transitionSeconds", "replace"}, "interrupt")
        instances = self._instances(body.get("ids"))
        bad = [i.id for i in instances if i.state not in ("pending", "running")]
        if bad:
            raise ComputeError(f"cannot interrupt {bad}: not pending or running", 409)
        warning = self.emulator.settings.spot_warning_seconds \
            if body.get("warningSeconds") is None else _seconds(body["warningSeconds"],
                                                                "warningSeconds")
        action = body.get("action", "terminate")
        if action not in ("terminate", "stop", "hibernate"):
            raise ComputeError("'action' must be terminate, stop or hibernate")
        delay = self._delay(body)
        now = time.time()
        for instance in instances:
            if body.get("rebalance"):
                self._emit(events.rebalance(self.account, instance, now))
            self._emit(events.spot_warning(self.account, instance, action, now))

        def act(instance=None):
            for target in instances:
                if self.world.instances.get(target.id) is not target or \
                        target.state not in ("pending", "running"):
                    continue
                reason = ("Server.SpotInstanceTermination",
                          "Server.SpotInstanceTermination: Spot Instance termination")
                if action == "terminate":
                    self._terminate([target], delay, reason)
                    if body.get("replace") and target.fleet_id in self.fleets:
                        self.fleet_launch({"id": target.fleet_id, "count": 1})
                else:
                    self._step(target, "stopping", "stopped", delay,
                               ("Server.SpotInstanceShutdown",
                                "Server.SpotInstanceShutdown: Spot Instance shutdown"))
        self._after(warning, act)
        return [i.id for i in instances]

    def rebalance(self, body):
        _check_fields(body, {"ids"}, "rebalance")
        instances = self._instances(body.get("ids"))
        now = time.time()
        for instance in instances:
            self._emit(events.rebalance(self.account, instance, now))
        return [i.id for i in instances]

    def _on_state(self, instance):
        """What an EC2 state change means for the instance's fleet and group."""
        group = self.groups.get(instance.group_name) if instance.group_name else None
        member = group.members.get(instance.id) if group else None
        if member is not None:
            if instance.state == "running" and member.lifecycle_state == "Pending":
                self._launched(group, member)
            elif instance.state in ("shutting-down", "stopping", "stopped") and \
                    not member.lifecycle_state.startswith("Terminating"):
                # EC2 took it away (interruption, user): the group replaces it.
                member.health_status = "Unhealthy"
                member.lifecycle_state = "Terminating"
                member.action = None
                if instance.state == "stopped":
                    self._terminate([instance], self.emulator.settings.transition_seconds)
            elif instance.state == "terminated":
                self._leave(group, member, instance)
        if instance.state == "terminated" and instance.fleet_id in self.fleets:
            fleet = self.fleets[instance.fleet_id]
            if instance.id in fleet.instance_ids:
                fleet.instance_ids.remove(instance.id)
            if fleet.state == "cancelled_terminating" and not any(
                    self.world.instances[i].state != "terminated" for i in fleet.instance_ids):
                fleet.state = "cancelled"

    # ------------------------------------------------------------ Spot Fleets

    def create_fleet(self, body):
        _check_fields(body, {"id", "targetCapacity", "instanceType", "subnetIds", "tags",
                             "region", "transitionSeconds", "iamFleetRole", "type"},
                      "spot fleet")
        fleet_id = body.get("id") or f"sfr-{uuid.uuid4()}"
        if not isinstance(fleet_id, str) or not FLEET_ID.match(fleet_id):
            raise ComputeError(f"spot fleet id must be sfr-<uuid>: {fleet_id!r}")
        if fleet_id in self.fleets:
            raise ComputeError(f"spot fleet {fleet_id} exists", 409)
        if body.get("type", "maintain") not in ("maintain", "request"):
            raise ComputeError("'type' must be maintain or request")
        region = body.get("region") or self.emulator.settings.region
        subnets = self._subnets(body.get("subnetIds"))
        count = int(body.get("targetCapacity", 0))
        if count < 0 or count > 1000:
            raise ComputeError("'targetCapacity' must be within 0..1000")
        fleet = SpotFleet(fleet_id, region, time.time(), body)
        fleet.iam_fleet_role = fleet.iam_fleet_role.replace("{account}", self.account)
        fleet.subnets = subnets
        self.fleets[fleet_id] = fleet
        ids = []
        if count:
            ids = self.fleet_launch({"id": fleet_id, "count": count,
                                     "transitionSeconds": body.get("transitionSeconds")})
        return fleet, ids

    def _fleet(self, fleet_id):
        fleet = self.fleets.get(fleet_id)
        if fleet is None:
            raise ComputeError(f"no spot fleet {fleet_id}", 404)
        return fleet

    def fleet_launch(self, body):
        _check_fields(body, {"id", "count", "transitionSeconds"}, "spot fleet launch")
        fleet = self._fleet(body.get("id"))
        if fleet.state != "active":
            raise ComputeError(f"spot fleet {fleet.id} is {fleet.state}", 409)
        count = int(body.get("count", 1))
        start = len(fleet.instance_ids)
        subnets = [fleet.subnets[(start + i) % len(fleet.subnets)] for i in range(count)]
        tags = dict(fleet.tags)
        tags["aws:ec2spot:fleet-request-id"] = fleet.id

        def prepare(instance):
            instance.lifecycle = "spot"
            instance.spot_request_id = "sir-" + secrets.token_hex(4)
            instance.fleet_id = fleet.id
            fleet.instance_ids.append(instance.id)
        launch = {"count": count, "instanceType": fleet.instance_type, "tags": tags}
        if body.get("transitionSeconds") is not None:
            launch["transitionSeconds"] = body["transitionSeconds"]
        created = self.launch(launch, fleet.region, subnets, prepare)
        fleet.target_capacity += count
        return [i.id for i in created]

    def cancel_fleet(self, body):
        _check_fields(body, {"id", "terminateInstances", "transitionSeconds"},
                      "spot fleet cancel")
        fleet = self._fleet(body.get("id"))
        if fleet.state.startswith("cancelled"):
            return fleet
        live = [self.world.instances[i] for i in fleet.instance_ids
                if self.world.instances[i].state != "terminated"]
        if body.get("terminateInstances", True):
            fleet.state = "cancelled_terminating" if live else "cancelled"
            self._terminate(live, self._delay(body))
        else:
            fleet.state = "cancelled_running"
        return fleet

    def delete_fleet(self, body):
        _check_fields(body, {"id"}, "spot fleet delete")
        fleet = self._fleet(body.get("id"))
        del self.fleets[fleet.id]
        return fleet

    # ------------------------------------------------------- Auto Scaling

    def _subnets(self, subnet_ids):
        if subnet_ids is None:
            return list(self.world.default_vpc().subnets)
        if not isinstance(subnet_ids, list) or not subnet_ids:
            raise ComputeError("'subnetIds' must be a non-empty list")
        subnets = []
        for subnet_id in subnet_ids:
            subnet = self.world.subnet(subnet_id)
            if subnet is None:
                raise ComputeError(f"unknown subnet {subnet_id}")
            subnets.append(subnet)
        return subnets

    def create_group(self, body):
        _check_fields(body, {"name", "region", "minSize", "maxSize", "desiredCapacity",
                             "instanceType", "subnetIds", "tags", "lifecycleHooks",
                             "targetGroupARNs", "healthCheckGracePeriod", "transitionSeconds",
                             "lifecycleState"}, "auto scaling group")
        name = body.get("name")
        if not isinstance(name, str) or not GROUP_NAME.match(name):
            raise ComputeError(f"group name must be 1-255 characters without ':': {name!r}")
        if name in self.groups:
            raise ComputeError(f"auto scaling group {name} exists", 409)
        region = body.get("region") or self.emulator.settings.region
        group = AutoScalingGroup(name, region, self.account, time.time(), body,
                                 self._subnets(body.get("subnetIds")))
        if not 0 <= group.min_size <= group.max_size:
            raise ComputeError("need 0 <= minSize <= maxSize")
        self.groups[name] = group
        count = int(body.get("desiredCapacity", 0))
        ids = []
        if count:
            ids = self.group_launch({"name": name, "count": count,
                                     "transitionSeconds": body.get("transitionSeconds"),
                                     "lifecycleState": body.get("lifecycleState")})
        return group, ids

    def _group(self, name):
        group = self.groups.get(name)
        if group is None:
            raise ComputeError(f"no auto scaling group {name}", 404)
        return group

    def group_launch(self, body):
        """Scale out by `count`; `lifecycleState: InService` skips Pending and hooks."""
        _check_fields(body, {"name", "count", "transitionSeconds", "lifecycleState"},
                      "auto scaling launch")
        group = self._group(body.get("name"))
        count = int(body.get("count", 1))
        if count < 1:
            raise ComputeError("'count' must be >= 1")
        if len(group.members) + count > group.max_size:
            raise ComputeError(f"group {group.name} would exceed its maxSize "
                               f"{group.max_size}", 409)
        initial = body.get("lifecycleState") or "Pending"
        if initial not in ("Pending", "InService"):
            raise ComputeError("'lifecycleState' of a launch must be Pending or InService")
        tags = dict(group.tags)
        tags["aws:autoscaling:groupName"] = group.name

        def prepare(instance):
            instance.group_name = group.name
            group.members[instance.id] = Member(instance, initial)
        launch = {"count": count, "instanceType": group.instance_type, "tags": tags}
        if body.get("transitionSeconds") is not None:
            launch["transitionSeconds"] = body["transitionSeconds"]
        created = self.launch(launch, group.region, group.next_subnet, prepare)
        group.desired = min(group.max_size, max(group.desired, 0) + count)
        return [i.id for i in created]

    def _launched(self, group, member):
        """The instance of a Pending member runs: hook wait, or in service."""
        hook = group.hook_for(LAUNCHING)
        if hook is not None:
            self._wait(group, member, hook, "Pending:Wait")
        else:
            self._in_service(group, member)

    def _in_service(self, group, member):
        member.lifecycle_state = "InService"
        member.action = None
        instance = self.world.instances[member.instance_id]
        now = time.time()
        cause = (f"At {events.event_time(member.started)} an instance was started in response "
                 "to a difference between desired and actual capacity, increasing the "
                 "capacity.")
        self._emit(events.scaling_result(self.account, group, instance, True, member.started,
                                         now, cause))

    def _wait(self, group, member, hook, state):
        token = str(uuid.uuid4())
        member.lifecycle_state = state
        member.action = (hook, token)
        self._emit(events.lifecycle_action(self.account, group, hook, member.instance_id,
                                           token, time.time()))

        def timeout():
            if group.members.get(member.instance_id) is member and member.action and \
                    member.action[1] == token:
                self._complete(group, member, hook.default_result)
        self._after(float(hook.heartbeat_timeout), timeout)

    def complete_action(self, group_name, hook_name, token=None, instance_id=None,
                        result="CONTINUE"):
        """CompleteLifecycleAction; raises ComputeError with AWS's wording."""
        group = self._group(group_name)
        if result not in ("CONTINUE", "ABANDON"):
            raise ComputeError("LifecycleActionResult must be CONTINUE or ABANDON")
        for member in group.members.values():
            if member.action is None or member.action[0].name != hook_name:
                continue
            if (token is not None and member.action[1] == token) or \
                    (token is None and member.instance_id == instance_id):
                self._complete(group, member, result)
                return member.instance_id
        if token is not None:
            raise ComputeError(f"No active Lifecycle Action found with token {token}")
        raise ComputeError(f"No active Lifecycle Action found with instance ID {instance_id}")

    def _complete(self, group, member, result):
        hook, _ = member.action
        member.action = None
        instance = self.world.instances[member.instance_id]
        if hook.transition == LAUNCHING:
            if result == "CONTINUE":
                member.lifecycle_state = "Pending:Proceed"
                self._in_service(group, member)
            else:
                member.lifecycle_state = "Terminating"
                self._terminate([instance], self.emulator.settings.transition_seconds)
        else:
            member.lifecycle_state = "Terminating:Proceed"
            self._terminate([instance], self.emulator.settings.transition_seconds)

    def group_terminate(self, body):
        """Scale in: the listed members (or the newest `count`) go Terminating[:Wait]."""
        _check_fields(body, {"name", "ids", "count", "transitionSeconds", "decrement"},
                      "auto scaling terminate")
        group = self._group(body.get("name"))
        if body.get("ids") is not None:
            ids = [str(i) for i in body["ids"]]
            missing = [i for i in ids if i not in group.members]
            if missing:
                raise ComputeError(f"not members of {group.name}: {missing}", 404)
        else:
            count = int(body.get("count", 1))
            candidates = [m.instance_id for m in group.members.values()
                          if not m.lifecycle_state.startswith("Terminating")]
            ids = candidates[::-1][:count]
        delay = self._delay(body)
        hook = group.hook_for(TERMINATING)
        for instance_id in ids:
            member = group.members[instance_id]
            if member.lifecycle_state.startswith("Terminating"):
                continue
            member.started = time.time()
            if hook is not None:
                self._wait(group, member, hook, "Terminating:Wait")
            else:
                member.lifecycle_state = "Terminating"
                self._terminate([self.world.instances[instance_id]], delay)
        if body.get("decrement", True):
            group.desired = max(group.min_size, group.desired - len(ids))
        return ids

    def _leave(self, group, member, instance):
        del group.members[member.instance_id]
        instance.group_name = None
        cause = (f"At {events.event_time(member.started)} an instance was taken out of "
                 "service in response to a user request.")
        self._emit(events.scaling_result(self.account, group, instance, False, member.started,
                                         time.time(), cause))

    def set_members(self, body):
        """Sets members' lifecycle/health states directly (attaching ids not yet members);
        `remove` detaches them. No events: for steady states like Standby."""
        _check_fields(body, {"name", "ids", "lifecycleState", "healthStatus", "remove",
                             "protectedFromScaleIn"}, "auto scaling set-state")
        group = self._group(body.get("name"))
        instances = self._instances(body.get("ids"))
        state = body.get("lifecycleState")
        if state is not None and state not in LIFECYCLE_STATES:
            raise ComputeError(f"lifecycleState must be one of {list(LIFECYCLE_STATES)}")
        health = body.get("healthStatus")
        if health is not None and health not in ("Healthy", "Unhealthy"):
            raise ComputeError("healthStatus must be Healthy or Unhealthy")
        for instance in instances:
            other = instance.group_name
            if other is not None and other != group.name and other in self.groups:
                raise ComputeError(f"{instance.id} is a member of {other}", 409)
        for instance in instances:
            if body.get("remove"):
                group.members.pop(instance.id, None)
                if instance.group_name == group.name:
                    instance.group_name = None
                continue
            member = group.members.get(instance.id)
            if member is None:
                member = group.members[instance.id] = Member(instance, state or "InService")
                instance.group_name = group.name
            if state is not None:
                member.lifecycle_state = state
                member.action = None
            if health is not None:
                member.health_status = health
            if body.get("protectedFromScaleIn") is not None:
                member.protected = bool(body["protectedFromScaleIn"])
        return [i.id for i in instances]

    def delete_group(self, body):
        _check_fields(body, {"name"}, "auto scaling delete")
        group = self._group(body.get("name"))
        for instance_id in group.members:
            instance = self.world.instances.get(instance_id)
            if instance is not None:
                instance.group_name = None
        del self.groups[group.name]
        return group
