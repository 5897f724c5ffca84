"""Elastic Load Balancing v2 (Query protocol, 2015-12-01): target groups, their targets and
health, tags and attributes; load balancers and listeners at the level needed to tie target
groups to a load balancer.

Target lifecycle (computed from timestamps, so reads at any time are consistent):
  register -> `initial` (Elb.RegistrationInProgress) for healthyAfter seconds -> `healthy`,
  or `unhealthy` (Target.Timeout by default) while the address is marked dead;
  deregister -> `draining` (Target.DeregistrationInProgress) for the group's
  deregistration_delay.timeout_seconds -> gone; registering a draining target starts over.
  With requireLoadBalancer, targets of a group no listener forwards to are `unused`
  (Target.NotInUse), as on AWS; by default groups behave as if attached.
Every write keeps a snapshot of the group's targets so DescribeTargetHealth can answer with
the state of describeLagMs ago (eventual consistency).
Accounts: every resource belongs to the account in its ARN, and a call acts in its caller
credential's account (ctx.account; AssumeRole credentials act in the role's account). Names
are unique per (account, Region). A resource ARN of another account is answered as AWS does
without a resource-based policy (ELBv2 has none): actions IAM authorises per resource
(RESOURCE_ACTIONS) are denied, 403 AccessDenied "User: <caller> is not authorized to perform:
elasticloadbalancing:<Action> on resource: <arn>"; Describe* actions, which IAM authorises on
"*" only, look in the caller's account and answer TargetGroupNotFound/LoadBalancerNotFound.
Thread-safety: every op_* and control method runs under the emulator lock (the caller's).
"""

import base64
import collections
import ipaddress
import re
import secrets

from .errors import AwsError, validation_error
from .query import QueryService
from .world import INSTANCE_ID

ARN = re.compile(r"^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):(\d{12}):(.+)$")
NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
ALLOWED_RANGES = [ipaddress.IPv4Network(c) for c in
                  ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")]
ALB_PROTOCOLS = ("HTTP", "HTTPS")
NLB_PROTOCOLS = ("TCP", "TLS", "UDP", "TCP_UDP")
TAGS_PER_RESOURCE = 50
DESCRIBE_TAGS_MAX = 20
SNAPSHOT_SECONDS = 120.0
# Actions whose IAM authorisation names the resource ARN (the Service Authorization
# Reference lists a resource type for them); ELBv2's Describe* actions only support "*".
RESOURCE_ACTIONS = frozenset({
    "RegisterTargets", "DeregisterTargets", "ModifyTargetGroup", "ModifyTargetGroupAttributes",
    "DeleteTargetGroup", "AddTags", "RemoveTags", "DeleteLoadBalancer", "CreateListener",
    "DeleteListener"})

DESCRIPTIONS = {
    "Elb.RegistrationInProgress": "Target registration is in progress",
    "Target.DeregistrationInProgress": "Target deregistration is in progress",
    "Target.NotRegistered": "Target is not registered to the target group",
    "Target.NotInUse": "Target group is not configured to receive traffic from the load "
                       "balancer",
    "Target.HealthCheckDisabled": "Health checks are disabled",
    "Target.Timeout": "Request timed out",
    "Target.FailedHealthChecks": "Health checks failed",
    "Target.ResponseCodeMismatch": "Health checks failed with these codes: [502]",
    "Target.InvalidState": "Target is in the stopped state",
    "Elb.InternalError": "Health checks failed due to an internal error",
}


def parse_arn(arn):
    """(region, account, resource) of an ELB ARN, or None."""
    match = ARN.match(arn or "")
    return match.groups() if match else None


def _hex16():
    return secrets.token_hex(8)


def _ip_of_family(target_id, ip_address_type):
    """The address of an `ip` target, which must be of the group's family. AWS refuses an IPv6
    address in an ipv4 group with exactly this ValidationError (seen in public bug reports);
    the ipv6 wording is the emulator's (AWS documents that IPv4 targets are refused)."""
    family = ipaddress.IPv6Address if ip_address_type == "ipv6" else ipaddress.IPv4Address
    try:
        address = ipaddress.ip_address(target_id)
    except ValueError:
        address = None
    if not isinstance(address, family) or getattr(address, "scope_id", None):
        label = "IPv6" if family is ipaddress.IPv6Address else "IPv4"
        raise validation_error(f"The IP address '{target_id}' is not a valid {label} address")
    return address


def _usable_ipv6(address):
    """Unicast addresses a target may have outside the VPC: global unicast or unique local."""
    return not (address.is_loopback or address.is_link_local or address.is_multicast or
                address.is_unspecified or address.ipv4_mapped is not None or
                address.is_site_local or address.is_reserved) and \
        (address.is_global or address in ipaddress.IPv6Network("fc00::/7"))


class Target:
    """One registration. Immutable: state changes replace the object (snapshots share it)."""

    __slots__ = ("id", "port", "az", "registered_at", "drain_until")

    def __init__(self, target_id, port, az, registered_at, drain_until=None):
        self.id = target_id
        self.port = port
        self.az = az
        self.registered_at = registered_at
        self.drain_until = drain_until

    def gone(self, when):
        return self.drain_until is not None and when >= self.drain_until


class TargetGroup:
    def __init__(self, arn, name, region, seq, now, spec, attributes, account):
        self.arn = arn
        self.name = name
        self.region = region
        self.account = account
        self.seq = seq
        self.created_at = now
        self.spec = spec  # the describable settings (TargetGroup shape members, minus ARNs)
        self.attributes = attributes
        self.tags = collections.OrderedDict()
        self.healthy_after = None  # per-group override of the emulator setting
        self.attached_since = None  # when a listener first forwarded to it
        self.targets = {}  # (id, port) -> Target
        self.history = collections.deque([(now, self.targets)])

    @property
    def target_type(self):
        return self.spec["TargetType"]

    @property
    def port(self):
        return self.spec.get("Port")

    @property
    def ip_address_type(self):
        return self.spec.get("IpAddressType", "ipv4")

    def deregistration_delay(self):
        return int(self.attributes.get("deregistration_delay.timeout_seconds", "0"))

    def commit(self, targets, now):
        """Replaces the target map (copy-on-write) and records it for lagged reads."""
        self.targets = {k: t for k, t in targets.items() if not t.gone(now)}
        self.history.append((now, self.targets))
        cutoff = now - SNAPSHOT_SECONDS
        while len(self.history) > 1 and self.history[1][0] <= cutoff:
            self.history.popleft()

    def targets_at(self, when):
        chosen = {}
        for stamp, targets in self.history:
            if stamp > when:
                break
            chosen = targets
        return chosen


class LoadBalancer:
    def __init__(self, arn, name, region, seq, now, lb_type, scheme, vpc_id, subnets,
                 security_groups, ip_address_type, dns_name, account):
        self.arn = arn
        self.name = name
        self.region = region
        self.account = account
        self.seq = seq
        self.created_at = now
        self.type = lb_type
        self.scheme = scheme
        self.vpc_id = vpc_id
        self.subnets = subnets  # [(subnet_id, az)]
        self.security_groups = security_groups
        self.ip_address_type = ip_address_type
        self.dns_name = dns_name
        self.tags = collections.OrderedDict()


class Listener:
    def __init__(self, arn, lb_arn, region, seq, protocol, port, actions, certificates,
                 ssl_policy, alpn, account):
        self.arn = arn
        self.lb_arn = lb_arn
        self.region = region
        self.account = account
        self.seq = seq
        self.protocol = protocol
        self.port = port
        self.actions = actions
        self.certificates = certificates
        self.ssl_policy = ssl_policy
        self.alpn = alpn
        self.tags = collections.OrderedDict()

    def target_group_arns(self):
        arns = set()
        for action in self.actions:
            if action.get("TargetGroupArn"):
                arns.add(action["TargetGroupArn"])
            for item in (action.get("ForwardConfig") or {}).get("TargetGroups") or []:
                if item.get("TargetGroupArn"):
                    arns.add(item["TargetGroupArn"])
        return arns


def default_attributes(spec):
    protocol = spec.get("Protocol")
    target_type = spec["TargetType"]
    if target_type == "lambda":
        return {"lambda.multi_value_headers.enabled": "false"}
    if protocol in NLB_PROTOCOLS or protocol == "GENEVE":
        preserve = "true" if target_type == "instance" or protocol in ("UDP", "TCP_UDP") \
            else "false"
        return collections.OrderedDict([
            ("deregistration_delay.timeout_seconds", "300"),
            ("deregistration_delay.connection_termination.enabled", "false"),
            ("stickiness.enabled", "false"),
            ("stickiness.type", "source_ip"),
            ("proxy_protocol_v2.enabled", "false"),
            ("preserve_client_ip.enabled", preserve),
            ("load_balancing.cross_zone.enabled", "use_load_balancer_configuration"),
        ])
    return collections.OrderedDict([
        ("deregistration_delay.timeout_seconds", "300"),
        ("stickiness.enabled", "false"),
        ("stickiness.type", "lb_cookie"),
        ("stickiness.lb_cookie.duration_seconds", "86400"),
        ("stickiness.app_cookie.cookie_name", ""),
        ("stickiness.app_cookie.duration_seconds", "86400"),
        ("slow_start.duration_seconds", "0"),
        ("load_balancing.algorithm.type", "round_robin"),
        ("load_balancing.cross_zone.enabled", "use_load_balancer_configuration"),
    ])


def _int_between(low, high):
    def check(value):
        return value.isdigit() and low <= int(value) <= high
    return check


_BOOL = ("true", "false")
ATTRIBUTE_RULES = {
    "deregistration_delay.timeout_seconds": (_int_between(0, 3600),
                                             "must be an integer between 0 and 3600"),
    "deregistration_delay.connection_termination.enabled": (lambda v: v in _BOOL,
                                                            "must be true or false"),
    "stickiness.enabled": (lambda v: v in _BOOL, "must be true or false"),
    "proxy_protocol_v2.enabled": (lambda v: v in _BOOL, "must be true or false"),
    "preserve_client_ip.enabled": (lambda v: v in _BOOL, "must be true or false"),
    "lambda.multi_value_headers.enabled": (lambda v: v in _BOOL, "must be true or false"),
    "stickiness.lb_cookie.duration_seconds": (_int_between(1, 604800),
                                              "must be an integer between 1 and 604800"),
    "stickiness.app_cookie.duration_seconds": (_int_between(1, 604800),
                                               "must be an integer between 1 and 604800"),
    "slow_start.duration_seconds": (lambda v: v.isdigit() and (int(v) == 0 or
                                                               30 <= int(v) <= 900),
                                    "must be 0 or an integer between 30 and 900"),
    "load_balancing.algorithm.type": (
        lambda v: v in ("round_robin", "least_outstanding_requests", "weighted_random"),
        "must be one of round_robin, least_outstanding_requests, weighted_random"),
    "load_balancing.cross_zone.enabled": (
        lambda v: v in ("true", "false", "use_load_balancer_configuration"),
        "must be true, false or use_load_balancer_configuration"),
}


def _encode_marker(seq):
    return base64.b64encode(f"emulator-marker:{seq}".encode()).decode()


def _decode_marker(marker):
    try:
        text = base64.b64decode(marker.encode(), validate=True).decode()
        prefix, _, seq = text.partition(":")
        if prefix != "emulator-marker":
            raise ValueError(marker)
        return int(seq)
    except (ValueError, UnicodeDecodeError):
        raise validation_error(f"Invalid marker '{marker}'") from None


def _page(items, args):
    """(page, next_marker) of objects with `.seq`, ordered by creation."""
    items = sorted(items, key=lambda item: item.seq)
    if args.get("Marker"):
        start = _decode_marker(args["Marker"])
        items = [item for item in items if item.seq >= start]
    size = args.get("PageSize") or 400
    if len(items) > size:
        return items[:size], _encode_marker(items[size].seq)
    return items, None


class Elbv2Service(QueryService):
    model_name = "elbv2"
    signing_name = "elasticloadbalancing"
    host_prefix = "elasticloadbalancing"

    def fault_error(self, status, action):
        if status == 500 and action == "DescribeTargetHealth":
            return "HealthUnavailable", "The health of the specified targets could not be " \
                "retrieved due to an internal error."
        return super().fault_error(status, action)

    def __init__(self, session, emulator):
        super().__init__(session)
        self.emulator = emulator  # settings, world; its lock guards this state
        self.reset()

    def reset(self):
        self.target_groups = {}
        self.load_balancers = {}
        self.listeners = {}
        self._seq = 0

    def _next_seq(self):
        self._seq += 1
        return self._seq

    @property
    def settings(self):
        return self.emulator.settings

    @property
    def world(self):
        return self.emulator.world

    # ----------------------------------------------------------------- lookups

    def _arn_of(self, arn, kind, ctx):
        parsed = parse_arn(arn)
        if parsed is None or not parsed[2].startswith(kind + "/"):
            label = {"targetgroup": "target group", "loadbalancer": "load balancer",
                     "listener": "listener"}[kind]
            raise validation_error(f"'{arn}' is not a valid {label} ARN")
        return parsed

    @staticmethod
    def _visible(resource, ctx):
        """True when the resource is in the caller's Region and account."""
        return resource.region == ctx.region and resource.account == ctx.account

    def authorize(self, ctx, action, arns):
        """AccessDenied, as IAM answers, for a resource ARN in another account."""
        if action not in RESOURCE_ACTIONS:
            return
        for arn in arns:
            parsed = parse_arn(arn)
            if parsed is not None and parsed[1] != ctx.account:
                caller = ctx.credential.arn if ctx.credential is not None else \
                    f"arn:aws:iam::{ctx.account}:root"
                raise AwsError("AccessDenied", f"User: {caller} is not authorized to perform: "
                               f"elasticloadbalancing:{action} on resource: {arn}", 403)

    def _target_group(self, ctx, arn):
        region, account, _ = self._arn_of(arn, "targetgroup", ctx)
        group = self.target_groups.get(arn)
        if group is None or region != ctx.region or account != ctx.account:
            raise self.error("TargetGroupNotFound", f"Target groups '{arn}' not found")
        return group

    def _load_balancer(self, ctx, arn):
        region, account, _ = self._arn_of(arn, "loadbalancer", ctx)
        lb = self.load_balancers.get(arn)
        if lb is None or region != ctx.region or account != ctx.account:
            raise self.error("LoadBalancerNotFound", f"Load balancer '{arn}' not found")
        return lb

    def _resource(self, ctx, arn):
        """Any taggable resource by ARN."""
        parsed = parse_arn(arn)
        if parsed is None:
            raise validation_error(f"'{arn}' is not a valid resource ARN")
        kind = parsed[2].split("/", 1)[0]
        if kind == "targetgroup":
            return self._target_group(ctx, arn)
        if kind == "loadbalancer":
            return self._load_balancer(ctx, arn)
        if kind == "listener":
            listener = self.listeners.get(arn)
            if listener is None or not self._visible(listener, ctx):
                raise self.error("ListenerNotFound", f"Listener '{arn}' not found")
            return listener
        if kind == "listener-rule":
            raise self.error("RuleNotFound", f"Rule '{arn}' not found")
        raise validation_error(f"'{arn}' is not a valid resource ARN")

    def _region_groups(self, ctx):
        return [g for g in self.target_groups.values() if self._visible(g, ctx)]

    def load_balancer_arns(self, group):
        arns = {listener.lb_arn for listener in self.listeners.values()
                if group.arn in listener.target_group_arns()}
        return sorted(arns)

    def _refresh_attachments(self, now):
        attached = set()
        for listener in self.listeners.values():
            attached |= listener.target_group_arns()
        for group in self.target_groups.values():
            if group.arn in attached:
                if group.attached_since is None:
                    group.attached_since = now
            else:
                group.attached_since = None

    # ------------------------------------------------------------- health model

    def healthy_after(self, group):
        return self.settings.healthy_after if group.healthy_after is None else group.healthy_after

    def health(self, group, target, when):
        """(state, reason) of a registered target at `when`, or None once it is gone."""
        if target.drain_until is not None:
            if when >= target.drain_until:
                return None
            return "draining", "Target.DeregistrationInProgress"
        start = target.registered_at
        if self.settings.require_load_balancer:
            if group.attached_since is None:
                return "unused", "Target.NotInUse"
            start = max(start, group.attached_since)
        if group.spec.get("HealthCheckEnabled") is False:
            return "unavailable", "Target.HealthCheckDisabled"
        if when < start + self.healthy_after(group):
            return "initial", "Elb.RegistrationInProgress"
        if group.target_type == "instance":
            instance = self.world.instances.get(target.id)
            if instance is not None and instance.state != "running":
                return "unhealthy", "Target.InvalidState"
        dead, reason = self.world.dead_state(target.id, when)
        if dead:
            return "unhealthy", reason or "Target.Timeout"
        return "healthy", None

    def _health_description(self, group, target_id, port, az, state, reason):
        hc_port = group.spec.get("HealthCheckPort", "traffic-port")
        target = {"Id": target_id}
        if port is not None:
            target["Port"] = port
        if az is not None:
            target["AvailabilityZone"] = az
        health = {"State": state}
        if reason is not None:
            health["Reason"] = reason
            health["Description"] = DESCRIPTIONS.get(reason, reason)
        out = {"Target": target, "TargetHealth": health}
        if hc_port is not None and group.target_type != "lambda":
            out["HealthCheckPort"] = str(port) if hc_port == "traffic-port" else hc_port
        return out

    # ----------------------------------------------------------- target checks

    def _check_targets(self, ctx, group, targets, registering):
        """Validates target descriptions for this group; returns [(id, port, az)]."""
        out = []
        invalid_instances, stopped, other_vpc, no_ipv6 = [], [], [], []
        vpc = self.world.vpc(group.spec.get("VpcId"))
        kind = group.target_type
        ip_type = group.ip_address_type
        for description in targets:
            target_id = description["Id"]
            port = description.get("Port", group.port)
            az = description.get("AvailabilityZone")
            if kind == "ip":
                address = _ip_of_family(target_id, ip_type)
                if registering:
                    subnet = vpc.subnet_for(address) if vpc is not None else None
                    if subnet is not None:
                        detected = subnet.az(ctx.region)
                        if az is not None and az != detected:
                            raise validation_error(
                                f"The IP address '{target_id}' is within the VPC, and cannot "
                                f"have its Availability Zone overridden to '{az}' from "
                                f"'{detected}'")
                    else:
                        in_vpc_cidr = vpc is not None and vpc.contains(address)
                        if address.version == 6:
                            if not in_vpc_cidr and not _usable_ipv6(address):
                                raise validation_error(
                                    f"The IP address '{target_id}' is not a valid target: it "
                                    "must be a global unicast or unique local IPv6 address")
                        elif not in_vpc_cidr and not any(address in r for r in ALLOWED_RANGES):
                            raise validation_error(
                                f"The IP address '{target_id}' is not a valid target: it must "
                                f"be within the VPC CIDR or the 10.0.0.0/8, 172.16.0.0/12, "
                                f"192.168.0.0/16 or 100.64.0.0/10 ranges")
                        if az is None:
                            raise validation_error(
                                f"The Availability Zone is required for IP address "
                                f"'{target_id}' because it is not in the VPC")
                        suffixes = vpc.az_suffixes() if vpc is not None else []
                        if az != "all" and az not in [ctx.region + s for s in suffixes]:
                            raise validation_error(
                                f"The Availability Zone '{az}' is not valid for target "
                                f"'{target_id}'; use 'all' or an Availability Zone of the VPC")
            elif kind == "instance":
                if not INSTANCE_ID.match(target_id):
                    raise validation_error(f"Instance ID '{target_id}' is not valid")
                if az is not None and registering:
                    raise validation_error(
                        "An Availability Zone cannot be specified for instance targets: "
                        f"'{target_id}'")
                if registering:
                    instance = self.world.instances.get(target_id)
                    if instance is None or instance.state == "terminated":
                        invalid_instances.append(target_id)
                    elif instance.state != "running":
                        stopped.append(target_id)
                    elif instance.vpc_id != group.spec.get("VpcId"):
                        other_vpc.append(target_id)
                    elif ip_type == "ipv6" and instance.ipv6_address is None:
                        no_ipv6.append(target_id)  # no primary IPv6 address
            elif kind == "alb":
                parsed = parse_arn(target_id)
                if parsed is None or not parsed[2].startswith("loadbalancer/app/"):
                    raise validation_error(
                        f"The target '{target_id}' is not a valid Application Load Balancer "
                        "ARN")
                if registering and target_id not in self.load_balancers:
                    raise self.error("InvalidTarget",
                                     f"The following targets are not valid: '{target_id}'")
            elif kind == "lambda":
                if not target_id.startswith("arn:aws:lambda:"):
                    raise validation_error(
                        f"The target '{target_id}' is not a valid Lambda function ARN")
                port = None
            if port is None and kind != "lambda":
                raise validation_error(f"A port must be specified for target '{target_id}'")
            out.append((target_id, port, az))
        if invalid_instances:
            raise self.error("InvalidTarget", "The following targets are not valid instances: "
                             + ", ".join(f"'{i}'" for i in invalid_instances))
        if stopped:
            raise self.error("InvalidTarget", "The following targets are not in a running state "
                             "and cannot be registered: " + ", ".join(f"'{i}'" for i in stopped))
        if other_vpc:
            raise self.error("InvalidTarget", "The following targets are not in the target "
                             f"group VPC '{group.spec.get('VpcId')}': "
                             + ", ".join(f"'{i}'" for i in other_vpc))
        if no_ipv6:
            # AWS's wording and quoting, as reported publicly (aws-load-balancer-controller
            # #3692): the ids are joined with "', '" and the outer quotes are missing.
            raise self.error("InvalidTarget", "The following targets cannot be used with this "
                             "IPv6 target group because of missing primary IPv6 addresses: "
                             + "', '".join(no_ipv6))
        return out

    def register(self, ctx, group, checked, now, skip_initial=False):
        targets = dict(group.targets)
        active = sum(1 for t in targets.values() if t.drain_until is None and not t.gone(now))
        additions = []
        seen = set()
        for target_id, port, az in checked:
            key = (target_id, port)
            if key in seen:
                continue
            seen.add(key)
            current = targets.get(key)
            if current is None or current.drain_until is not None or current.gone(now):
                additions.append((key, az))
        limit = self.settings.target_limit
        if active + len(additions) > limit:
            raise self.error("TooManyTargets", f"You have reached the maximum number of targets "
                             f"per target group ({limit}) for target group '{group.name}'")
        registered_at = now - self.healthy_after(group) if skip_initial else now
        for key, az in additions:
            targets[key] = Target(key[0], key[1], az, registered_at)
        group.commit(targets, now)

    def deregister(self, group, checked, now):
        targets = dict(group.targets)
        delay = group.deregistration_delay()
        for target_id, port, _ in checked:
            current = targets.get((target_id, port))
            if current is None or current.drain_until is not None:
                continue  # absent or already draining: AWS answers success
            targets[(target_id, port)] = Target(current.id, current.port, current.az,
                                                current.registered_at, now + delay)
        group.commit(targets, now)

    # ---------------------------------------------------------- target groups

    def _describe_group(self, group):
        out = {"TargetGroupArn": group.arn, "TargetGroupName": group.name}
        out.update(group.spec)
        out["LoadBalancerArns"] = self.load_balancer_arns(group)
        return out

    def _group_spec(self, args):
        target_type = args.get("TargetType", "instance")
        protocol = args.get("Protocol")
        spec = {"TargetType": target_type}
        if target_type == "lambda":
            for name in ("Protocol", "Port", "VpcId"):
                if args.get(name) is not None:
                    raise validation_error(
                        f"{name} cannot be specified for target groups with target type "
                        "'lambda'")
        else:
            if protocol is None:
                raise validation_error("A protocol must be specified")
            if args.get("Port") is None:
                raise validation_error("A port must be specified")
            if not args.get("VpcId"):
                raise validation_error("A VPC ID must be specified")
            if self.world.vpc(args["VpcId"]) is None:
                raise validation_error(f"The VPC ID '{args['VpcId']}' is not found")
            if target_type == "alb" and protocol != "TCP":
                raise validation_error("Target groups with target type 'alb' support only the "
                                       "TCP protocol")
            spec.update({"Protocol": protocol, "Port": args["Port"], "VpcId": args["VpcId"]})
        http = protocol in ALB_PROTOCOLS or target_type == "lambda"
        hc_protocol = args.get("HealthCheckProtocol") or (protocol if protocol in ALB_PROTOCOLS
                                                          else ("HTTP" if target_type == "lambda"
                                                                else "TCP"))
        hc_http = hc_protocol in ALB_PROTOCOLS
        if args.get("HealthCheckPath") and not hc_http:
            raise validation_error("Health check path cannot be specified for health check "
                                   f"protocol '{hc_protocol}'")
        if target_type != "lambda":
            spec["HealthCheckProtocol"] = hc_protocol
            spec["HealthCheckPort"] = args.get("HealthCheckPort", "traffic-port")
        spec["HealthCheckEnabled"] = args.get("HealthCheckEnabled",
                                              target_type != "lambda")
        spec["HealthCheckIntervalSeconds"] = args.get("HealthCheckIntervalSeconds",
                                                      35 if target_type == "lambda" else 30)
        spec["HealthCheckTimeoutSeconds"] = args.get(
            "HealthCheckTimeoutSeconds", 30 if target_type == "lambda" else (5 if http else 10))
        spec["HealthyThresholdCount"] = args.get("HealthyThresholdCount", 5)
        spec["UnhealthyThresholdCount"] = args.get("UnhealthyThresholdCount", 2)
        if hc_http:
            spec["HealthCheckPath"] = args.get("HealthCheckPath", "/")
            spec["Matcher"] = args.get("Matcher") or {"HttpCode": "200"}
        if protocol in ALB_PROTOCOLS:
            spec["ProtocolVersion"] = args.get("ProtocolVersion", "HTTP1")
        if target_type != "lambda":
            spec["IpAddressType"] = args.get("IpAddressType", "ipv4")
        return spec

    @staticmethod
    def _check_name(name, label="Target group"):
        if len(name) > 32:
            raise validation_error(f"{label} name '{name}' cannot be longer than '32' characters")
        if name.startswith("-") or name.endswith("-"):
            raise validation_error(f"{label} name '{name}' cannot begin or end with '-'")
        if not NAME.match(name):
            raise validation_error(f"{label} name '{name}' can only contain characters that are "
                                   "alphanumeric characters or hyphens(-)")

    def _apply_tags(self, resource, tags, label):
        merged = collections.OrderedDict(resource.tags)
        keys = [tag["Key"] for tag in tags]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise self.error("DuplicateTagKeys", "Duplicate tag keys are not allowed: "
                             + ", ".join(f"'{k}'" for k in duplicates))
        for tag in tags:
            merged[tag["Key"]] = tag.get("Value", "")
        if len(merged) > TAGS_PER_RESOURCE:
            raise self.error("TooManyTags", f"The quota for the number of tags that can be "
                             f"assigned to a {label} has been reached")
        return merged

    def create_target_group(self, ctx, args, arn=None, now=None):
        name = args["Name"]
        self._check_name(name)
        spec = self._group_spec(args)
        now = ctx.now if now is None else now
        for group in self._region_groups(ctx):
            if group.name == name:
                if group.spec == spec:
                    return group
                raise self.error("DuplicateTargetGroupName",
                                 f"A target group with the same name '{name}' exists, but with "
                                 "different settings")
        if len(self._region_groups(ctx)) >= self.settings.target_group_limit:
            raise self.error("TooManyTargetGroups",
                             "You have reached the maximum number of target groups allowed "
                             "for your AWS account")
        if arn is None:
            arn = (f"arn:aws:elasticloadbalancing:{ctx.region}:{ctx.account}:targetgroup/"
                   f"{name}/{_hex16()}")
        attributes = default_attributes(spec)
        if "deregistration_delay.timeout_seconds" in attributes:
            attributes["deregistration_delay.timeout_seconds"] = str(
                int(self.settings.deregistration_delay))
        group = TargetGroup(arn, name, ctx.region, self._next_seq(), now, spec, attributes,
                            ctx.account)
        group.tags = self._apply_tags(group, args.get("Tags") or [], "target group")
        self.target_groups[arn] = group
        return group

    def op_CreateTargetGroup(self, ctx, args):
        group = self.create_target_group(ctx, args)
        return {"TargetGroups": [self._describe_group(group)]}

    def op_DeleteTargetGroup(self, ctx, args):
        arn = args["TargetGroupArn"]
        self._arn_of(arn, "targetgroup", ctx)
        self.authorize(ctx, "DeleteTargetGroup", [arn])
        group = self.target_groups.get(arn)
        if group is None or not self._visible(group, ctx):
            return {}  # deleting what is not there succeeds, as on AWS
        if self.load_balancer_arns(group):
            raise self.error("ResourceInUse", f"Target group '{arn}' is currently in use by a "
                             "listener or a rule")
        del self.target_groups[arn]
        return {}

    def op_DescribeTargetGroups(self, ctx, args):
        selectors = [k for k in ("LoadBalancerArn", "TargetGroupArns", "Names") if args.get(k)]
        if len(selectors) > 1:
            raise validation_error("Only one of LoadBalancerArn, TargetGroupArns or Names can "
                                   "be specified")
        groups = self._region_groups(ctx)
        if args.get("LoadBalancerArn"):
            lb = self._load_balancer(ctx, args["LoadBalancerArn"])
            groups = [g for g in groups if lb.arn in self.load_balancer_arns(g)]
        elif args.get("TargetGroupArns"):
            wanted = args["TargetGroupArns"]
            for arn in wanted:
                self._arn_of(arn, "targetgroup", ctx)
            by_arn = {g.arn: g for g in groups}
            if any(arn not in by_arn for arn in wanted):
                raise self.error("TargetGroupNotFound", "One or more target groups not found")
            groups = [by_arn[arn] for arn in dict.fromkeys(wanted)]
        elif args.get("Names"):
            by_name = {g.name: g for g in groups}
            if any(name not in by_name for name in args["Names"]):
                raise self.error("TargetGroupNotFound", "One or more target groups not found")
            groups = [by_name[name] for name in dict.fromkeys(args["Names"])]
        page, marker = _page(groups, args)
        out = {"TargetGroups": [self._describe_group(g) for g in page]}
        if marker:
            out["NextMarker"] = marker
        return out

    def op_RegisterTargets(self, ctx, args):
        self.authorize(ctx, "RegisterTargets", [args["TargetGroupArn"]])
        group = self._target_group(ctx, args["TargetGroupArn"])
        checked = self._check_targets(ctx, group, args["Targets"], registering=True)
        self.register(ctx, group, checked, ctx.now)
        return {}

    def op_DeregisterTargets(self, ctx, args):
        self.authorize(ctx, "DeregisterTargets", [args["TargetGroupArn"]])
        group = self._target_group(ctx, args["TargetGroupArn"])
        checked = self._check_targets(ctx, group, args["Targets"], registering=False)
        self.deregister(group, checked, ctx.now)
        return {}

    def describe_health(self, group, when, wanted=None):
        """TargetHealthDescriptions of a group as of `when` (all, or the `wanted` ones)."""
        targets = group.targets_at(when)
        if wanted is None:
            out = []
            for key in sorted(targets, key=lambda k: (targets[k].registered_at, k)):
                target = targets[key]
                state = self.health(group, target, when)
                if state is not None:
                    out.append(self._health_description(group, target.id, target.port,
                                                        target.az, *state))
            return out
        out = []
        by_id = collections.defaultdict(list)
        for (tid, _), target in targets.items():
            by_id[tid].append(target)
        for target_id, port, explicit_port in wanted:
            if explicit_port:
                matches = [targets.get((target_id, port))]
            else:
                matches = sorted(by_id.get(target_id, []), key=lambda t: t.port)
            found = False
            for target in matches:
                state = self.health(group, target, when) if target is not None else None
                if state is not None:
                    found = True
                    out.append(self._health_description(group, target.id, target.port,
                                                        target.az, *state))
            if not found:
                out.append(self._health_description(group, target_id, port, None, "unused",
                                                    "Target.NotRegistered"))
        return out

    def op_DescribeTargetHealth(self, ctx, args):
        group = self._target_group(ctx, args["TargetGroupArn"])
        when = ctx.now - self.settings.describe_lag_ms / 1000.0
        wanted = None
        if args.get("Targets"):
            checked = self._check_targets(ctx, group, args["Targets"], registering=False)
            if group.target_type == "instance":
                registered = {tid for tid, _ in group.targets}
                unknown = [tid for tid, _, _ in checked
                           if tid not in self.world.instances and tid not in registered]
                if unknown:
                    raise self.error("InvalidTarget", "The following targets are not valid "
                                     "instances: " + ", ".join(f"'{i}'" for i in unknown))
            wanted = [(tid, port, "Port" in desc)
                      for (tid, port, _), desc in zip(checked, args["Targets"])]
        return {"TargetHealthDescriptions": self.describe_health(group, when, wanted)}

    def op_DescribeTargetGroupAttributes(self, ctx, args):
        group = self._target_group(ctx, args["TargetGroupArn"])
        return {"Attributes": [{"Key": k, "Value": v} for k, v in group.attributes.items()]}

    def op_ModifyTargetGroupAttributes(self, ctx, args):
        self.authorize(ctx, "ModifyTargetGroupAttributes", [args["TargetGroupArn"]])
        group = self._target_group(ctx, args["TargetGroupArn"])
        updated = dict(group.attributes)
        for attribute in args["Attributes"]:
            key = attribute.get("Key")
            value = attribute.get("Value", "")
            if not key:
                raise validation_error("An attribute key must be specified")
            if key not in group.attributes:
                raise validation_error(f"Target group attribute key '{key}' is not recognized")
            rule = ATTRIBUTE_RULES.get(key)
            if rule is not None and not rule[0](value):
                raise validation_error(f"Target group attribute '{key}' {rule[1]}, not "
                                       f"'{value}'")
            updated[key] = value
        group.attributes = collections.OrderedDict(
            (k, updated[k]) for k in group.attributes)
        return {"Attributes": [{"Key": k, "Value": v} for k, v in group.attributes.items()]}

    # ------------------------------------------------------------------- tags

    def op_DescribeTags(self, ctx, args):
        arns = args["ResourceArns"]
        if len(arns) > DESCRIBE_TAGS_MAX:
            raise validation_error(
                f"1 validation error detected: Value '[{', '.join(arns)}]' at 'resourceArns' "
                f"failed to satisfy constraint: Member must have length less than or equal to "
                f"{DESCRIBE_TAGS_MAX}")
        resources = [self._resource(ctx, arn) for arn in arns]
        return {"TagDescriptions": [
            {"ResourceArn": r.arn,
             "Tags": [{"Key": k, "Value": v} for k, v in r.tags.items()]} for r in resources]}

    def op_AddTags(self, ctx, args):
        self.authorize(ctx, "AddTags", args["ResourceArns"])
        resources = [self._resource(ctx, arn) for arn in args["ResourceArns"]]
        merged = [self._apply_tags(r, args["Tags"], self._label(r)) for r in resources]
        for resource, tags in zip(resources, merged):
            resource.tags = tags
        return {}

    def op_RemoveTags(self, ctx, args):
        self.authorize(ctx, "RemoveTags", args["ResourceArns"])
        resources = [self._resource(ctx, arn) for arn in args["ResourceArns"]]
        for resource in resources:
            resource.tags = collections.OrderedDict(
                (k, v) for k, v in resource.tags.items() if k not in args["TagKeys"])
        return {}

    @staticmethod
    def _label(resource):
        if isinstance(resource, TargetGroup):
            return "target group"
        if isinstance(resource, LoadBalancer):
            return "load balancer"
        return "listener"

    # --------------------------------------------------------- load balancers

    def _describe_lb(self, lb):
        out = {
            "LoadBalancerArn": lb.arn, "DNSName": lb.dns_name,
            "CanonicalHostedZoneId": "Z35SXDOTRQ7X7K" if lb.type == "application"
            else "Z26RNL4JYFTOTI",
            "CreatedTime": lb.created_at, "LoadBalancerName": lb.name, "Scheme": lb.scheme,
            "VpcId": lb.vpc_id, "State": {"Code": "active"}, "Type": lb.type,
            "AvailabilityZones": [{"ZoneName": az, "SubnetId": subnet_id}
                                  for subnet_id, az in lb.subnets],
            "IpAddressType": lb.ip_address_type,
        }
        if lb.type == "application":
            out["SecurityGroups"] = lb.security_groups
        return out

    def create_load_balancer(self, ctx, args, now=None):
        name = args["Name"]
        self._check_name(name, "Load balancer")
        if name.startswith("internal-"):
            raise validation_error(f"Load balancer name '{name}' cannot begin with 'internal-'")
        lb_type = args.get("Type", "application")
        if lb_type == "gateway":
            raise AwsError("NotImplemented", "The emulator does not implement Gateway Load "
                           "Balancers", 501, sender=False)
        subnet_ids = list(args.get("Subnets") or [])
        subnet_ids += [m["SubnetId"] for m in args.get("SubnetMappings") or []
                       if m.get("SubnetId")]
        if args.get("Subnets") and args.get("SubnetMappings"):
            raise validation_error("You can specify subnets or subnet mappings, not both")
        subnets = []
        for subnet_id in subnet_ids:
            subnet = self.world.subnet(subnet_id)
            if subnet is None:
                raise self.error("SubnetNotFound", f"The subnet ID '{subnet_id}' is not valid")
            subnets.append(subnet)
        if not subnets:
            raise validation_error("At least one subnet must be specified")
        if len({s.vpc_id for s in subnets}) > 1:
            raise self.error("InvalidSubnet", "The subnets must all be in the same VPC")
        azs = [s.az(ctx.region) for s in subnets]
        if len(set(azs)) != len(azs):
            raise self.error("InvalidConfigurationRequest",
                             "A load balancer cannot be attached to multiple subnets in the "
                             "same Availability Zone")
        if lb_type == "application" and len(set(azs)) < 2:
            raise validation_error("At least two subnets in two different Availability Zones "
                                   "must be specified")
        vpc = self.world.vpc(subnets[0].vpc_id)
        scheme = args.get("Scheme", "internet-facing")
        security_groups = args.get("SecurityGroups") or (
            [vpc.security_group] if lb_type == "application" else [])
        for lb in self.load_balancers.values():
            if self._visible(lb, ctx) and lb.name == name:
                if lb.type == lb_type and lb.scheme == scheme and \
                        [s for s, _ in lb.subnets] == [s.id for s in subnets]:
                    return lb
                raise self.error("DuplicateLoadBalancerName",
                                 f"A load balancer with the same name '{name}' exists, but "
                                 "with different settings")
        short = "app" if lb_type == "application" else "net"
        lb_id = _hex16()
        arn = (f"arn:aws:elasticloadbalancing:{ctx.region}:{ctx.account}:loadbalancer/{short}/"
               f"{name}/{lb_id}")
        prefix = "internal-" if scheme == "internal" else ""
        if lb_type == "application":
            dns = f"{prefix}{name}-{secrets.randbelow(10**10):010d}.{ctx.region}.elb.amazonaws.com"
        else:
            dns = f"{prefix}{name}-{lb_id}.elb.{ctx.region}.amazonaws.com"
        lb = LoadBalancer(arn, name, ctx.region, self._next_seq(),
                          ctx.now if now is None else now, lb_type, scheme, vpc.id,
                          [(s.id, s.az(ctx.region)) for s in subnets], security_groups,
                          args.get("IpAddressType", "ipv4"), dns, ctx.account)
        lb.tags = self._apply_tags(lb, args.get("Tags") or [], "load balancer")
        self.load_balancers[arn] = lb
        return lb

    def op_CreateLoadBalancer(self, ctx, args):
        return {"LoadBalancers": [self._describe_lb(self.create_load_balancer(ctx, args))]}

    def op_DescribeLoadBalancers(self, ctx, args):
        if args.get("LoadBalancerArns") and args.get("Names"):
            raise validation_error("Load balancer names and load balancer ARNs cannot be "
                                   "specified at the same time")
        lbs = [lb for lb in self.load_balancers.values() if self._visible(lb, ctx)]
        if args.get("LoadBalancerArns"):
            for arn in args["LoadBalancerArns"]:
                self._arn_of(arn, "loadbalancer", ctx)
            by_arn = {lb.arn: lb for lb in lbs}
            if any(arn not in by_arn for arn in args["LoadBalancerArns"]):
                raise self.error("LoadBalancerNotFound", "One or more load balancers not found")
            lbs = [by_arn[arn] for arn in dict.fromkeys(args["LoadBalancerArns"])]
        elif args.get("Names"):
            by_name = {lb.name: lb for lb in lbs}
            missing = [n for n in args["Names"] if n not in by_name]
            if missing:
                raise self.error("LoadBalancerNotFound",
                                 f"Load balancers '[{', '.join(missing)}]' not found")
            lbs = [by_name[name] for name in dict.fromkeys(args["Names"])]
        page, marker = _page(lbs, args)
        out = {"LoadBalancers": [self._describe_lb(lb) for lb in page]}
        if marker:
            out["NextMarker"] = marker
        return out

    def op_DeleteLoadBalancer(self, ctx, args):
        arn = args["LoadBalancerArn"]
        self._arn_of(arn, "loadbalancer", ctx)
        self.authorize(ctx, "DeleteLoadBalancer", [arn])
        lb = self.load_balancers.pop(arn, None)
        if lb is not None:
            for listener_arn in [l.arn for l in self.listeners.values() if l.lb_arn == arn]:
                del self.listeners[listener_arn]
            self._refresh_attachments(ctx.now)
        return {}

    # --------------------------------------------------------------- listeners

    def _describe_listener(self, listener):
        out = {"ListenerArn": listener.arn, "LoadBalancerArn": listener.lb_arn,
               "Port": listener.port, "Protocol": listener.protocol,
               "DefaultActions": listener.actions}
        if listener.certificates:
            out["Certificates"] = listener.certificates
        if listener.ssl_policy:
            out["SslPolicy"] = listener.ssl_policy
        if listener.alpn:
            out["AlpnPolicy"] = listener.alpn
        return out

    def create_listener(self, ctx, args, now=None):
        lb = self._load_balancer(ctx, args["LoadBalancerArn"])
        protocol = args.get("Protocol")
        port = args.get("Port")
        if protocol is None:
            raise validation_error("A protocol must be specified")
        if port is None:
            raise validation_error("A port must be specified")
        allowed = ALB_PROTOCOLS if lb.type == "application" else NLB_PROTOCOLS
        if protocol not in allowed:
            raise self.error("UnsupportedProtocol",
                             f"Protocol '{protocol}' is not supported by {lb.type} load "
                             "balancers")
        if protocol in ("HTTPS", "TLS") and not args.get("Certificates"):
            raise validation_error(f"A certificate must be specified for {protocol} listeners")
        for listener in self.listeners.values():
            if listener.lb_arn == lb.arn and listener.port == port:
                raise self.error("DuplicateListener",
                                 "A listener already exists on this port for this load balancer")
        actions = []
        for action in args["DefaultActions"]:
            action = dict(action)
            if action["Type"] == "forward":
                arns = []
                if action.get("TargetGroupArn"):
                    arns.append(action["TargetGroupArn"])
                for item in (action.get("ForwardConfig") or {}).get("TargetGroups") or []:
                    arns.append(item.get("TargetGroupArn"))
                if not arns:
                    raise validation_error("A target group ARN must be specified for forward "
                                           "actions")
                for arn in arns:
                    group = self._target_group(ctx, arn)
                    group_protocol = group.spec.get("Protocol")
                    if lb.type == "application" and group.target_type != "lambda" and \
                            group_protocol not in ALB_PROTOCOLS:
                        raise validation_error(f"The target group '{arn}' with protocol "
                                               f"'{group_protocol}' cannot be used with an "
                                               "Application Load Balancer")
                    if lb.type == "network" and group_protocol not in NLB_PROTOCOLS:
                        raise validation_error(f"The target group '{arn}' with protocol "
                                               f"'{group_protocol}' cannot be used with a "
                                               "Network Load Balancer")
                    others = [a for a in self.load_balancer_arns(group) if a != lb.arn]
                    if others:
                        raise self.error("TargetGroupAssociationLimit",
                                         "The following target groups cannot be associated "
                                         f"with more than one load balancer: {arn}")
                if action.get("TargetGroupArn") and not action.get("ForwardConfig"):
                    action["ForwardConfig"] = {
                        "TargetGroups": [{"TargetGroupArn": action["TargetGroupArn"],
                                          "Weight": 1}],
                        "TargetGroupStickinessConfig": {"Enabled": False}}
            actions.append(action)
        lb_name, lb_id = lb.arn.split("/")[-2:]
        short = "app" if lb.type == "application" else "net"
        arn = (f"arn:aws:elasticloadbalancing:{ctx.region}:{ctx.account}:listener/{short}/"
               f"{lb_name}/{lb_id}/{_hex16()}")
        ssl_policy = args.get("SslPolicy")
        if protocol in ("HTTPS", "TLS") and ssl_policy is None:
            ssl_policy = "ELBSecurityPolicy-2016-08"
        listener = Listener(arn, lb.arn, ctx.region, self._next_seq(), protocol, port, actions,
                            args.get("Certificates"), ssl_policy, args.get("AlpnPolicy"),
                            ctx.account)
        listener.tags = self._apply_tags(listener, args.get("Tags") or [], "listener")
        self.listeners[arn] = listener
        self._refresh_attachments(ctx.now if now is None else now)
        return listener

    def op_CreateListener(self, ctx, args):
        self.authorize(ctx, "CreateListener", [args["LoadBalancerArn"]])
        return {"Listeners": [self._describe_listener(self.create_listener(ctx, args))]}

    def op_DescribeListeners(self, ctx, args):
        if not args.get("LoadBalancerArn") and not args.get("ListenerArns"):
            raise validation_error("You must specify either listener ARNs or a load balancer "
                                   "ARN")
        listeners = [l for l in self.listeners.values() if self._visible(l, ctx)]
        if args.get("LoadBalancerArn"):
            lb = self._load_balancer(ctx, args["LoadBalancerArn"])
            listeners = [l for l in listeners if l.lb_arn == lb.arn]
        if args.get("ListenerArns"):
            by_arn = {l.arn: l for l in listeners}
            missing = [a for a in args["ListenerArns"] if a not in by_arn]
            if missing:
                raise self.error("ListenerNotFound", "One or more listeners not found")
            listeners = [by_arn[a] for a in dict.fromkeys(args["ListenerArns"])]
        page, marker = _page(listeners, args)
        out = {"Listeners": [self._describe_listener(l) for l in page]}
        if marker:
            out["NextMarker"] = marker
        return out

    def op_DeleteListener(self, ctx, args):
        arn = args["ListenerArn"]
        self.authorize(ctx, "DeleteListener", [arn])
        listener = self.listeners.get(arn)
        if listener is None or not self._visible(listener, ctx):
            raise self.error("ListenerNotFound", f"Listener '{arn}' not found")
        del self.listeners[arn]
        self._refresh_attachments(ctx.now)
        return {}

    # ------------------------------------------------------------ control API

    def state(self, now):
        groups = []
        for group in sorted(self.target_groups.values(), key=lambda g: g.seq):
            targets = []
            for target in sorted(group.targets.values(), key=lambda t: (t.registered_at, t.id)):
                state = self.health(group, target, now)
                if state is None:
                    continue
                targets.append({"id": target.id, "port": target.port,
                                "availabilityZone": target.az, "state": state[0],
                                "reason": state[1]})
            groups.append({
                "arn": group.arn, "name": group.name, "region": group.region,
                "account": group.account,
                "port": group.port, "protocol": group.spec.get("Protocol"),
                "targetType": group.target_type, "vpcId": group.spec.get("VpcId"),
                "ipAddressType": group.ip_address_type,
                "tags": dict(group.tags), "deregistrationDelay": group.deregistration_delay(),
                "healthyAfter": self.healthy_after(group),
                "loadBalancerArns": self.load_balancer_arns(group), "targets": targets})
        lbs = [{"arn": lb.arn, "name": lb.name, "region": lb.region, "account": lb.account,
                "type": lb.type,
                "dnsName": lb.dns_name, "tags": dict(lb.tags)}
               for lb in sorted(self.load_balancers.values(), key=lambda x: x.seq)]
        listeners = [{"arn": l.arn, "loadBalancerArn": l.lb_arn, "protocol": l.protocol,
                      "port": l.port, "targetGroupArns": sorted(l.target_group_arns())}
                     for l in sorted(self.listeners.values(), key=lambda x: x.seq)]
        return {"targetGroups": groups, "loadBalancers": lbs, "listeners": listeners}
