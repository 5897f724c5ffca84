"""Amazon EC2 (EC2 Query protocol, 2016-11-15): DescribeInstances, DescribeSpotFleetInstances,
DescribeSpotFleetRequests, over the instances and Spot Fleet requests of world.py/compute.py.

The EC2 protocol differs from the other Query services: parameters are named after the
capitalized locationName and lists are numbered directly (`Filter.1.Value.2`,
`InstanceId.1`); answers have no result wrapper, start with `<requestId>`, and list `<item>`s;
errors are `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`
(HTTP 400; throttling is `RequestLimitExceeded` with HTTP 503).

DescribeInstances filters as EC2 evaluates them: values of one filter OR, filters AND, values
compared case-sensitively with `*` (any run) and `?` (one character) wildcards and `\\` escapes;
`tag:<key>` matches the key exactly and the value by pattern. Only the signed Region's
instances are listed, in launch order, grouped into their reservations; without MaxResults
everything comes in one answer, with it pages of that many instances and a NextToken.
Thread-safety: ops run under the emulator lock.
"""

import base64
import datetime
import json
import re

from . import xml
from .errors import AwsError
from .query import EC2, QueryService, parse_input
from .world import INSTANCE_ID, STATE_CODES

MAX_FILTER_VALUES = 200
IMAGE_ID = "ami-0abcdef1234567890"
SIMPLE_FILTERS = {
    "instance-id": lambda i: [i.id],
    "instance-type": lambda i: [i.instance_type],
    "image-id": lambda i: [IMAGE_ID],  # every emulated instance runs the one image
    "instance-state-name": lambda i: [i.state],
    "instance-state-code": lambda i: [str(STATE_CODES[i.state])],
    "vpc-id": lambda i: [] if i.state == "terminated" else [i.vpc_id],
    "subnet-id": lambda i: [] if i.state == "terminated" else [i.subnet_id],
    "availability-zone": lambda i: [i.az],
    "private-ip-address": lambda i: [] if i.state == "terminated" or not i.private_ip
    else [i.private_ip],
    "network-interface.addresses.private-ip-address": lambda i: [] if i.state ==
    "terminated" or not i.private_ip else [i.private_ip],
    "ipv6-address": lambda i: [i.ipv6_address] if i.ipv6_address and
    i.state != "terminated" else [],
    "instance-lifecycle": lambda i: [i.lifecycle] if i.lifecycle else [],
    "spot-instance-request-id": lambda i: [i.spot_request_id] if i.spot_request_id else [],
    "reservation-id": lambda i: [i.reservation_id],
    "tag-key": lambda i: list(i.tags),
    "tag-value": lambda i: list(i.tags.values()),
}


def wildcard(value):
    """A compiled full-match regex for an EC2 filter value (`*`, `?`, `\\` escapes)."""
    out = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            out.append(re.escape(value[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        index += 1
    return re.compile("".join(out), re.DOTALL)


class Filter:
    def __init__(self, name, values):
        self.name = name
        if name.startswith("tag:") and len(name) > 4:
            key = name[4:]
            self.fields = lambda i: [i.tags[key]] if key in i.tags else []
        elif name in SIMPLE_FILTERS:
            self.fields = SIMPLE_FILTERS[name]
        else:
            raise AwsError("InvalidParameterValue", f"The filter '{name}' is invalid", 400)
        self.patterns = [wildcard(v) for v in values]

    def matches(self, instance):
        return any(p.fullmatch(value) for value in self.fields(instance)
                   for p in self.patterns)


def _token(data):
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def _untoken(token, kind):
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode() + b"==="))
        if isinstance(data, dict) and data.get("k") == kind:
            return data
    except (ValueError, UnicodeDecodeError):
        pass
    raise AwsError("InvalidPaginationToken", f"The pagination token '{token}' is not valid or "
                   "is expired.", 400)


def _when(value):
    return datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)


class Ec2Service(QueryService):
    model_name = "ec2"
    signing_name = "ec2"
    host_prefix = "ec2"
    parse_style = EC2

    def __init__(self, session, emulator):
        super().__init__(session)
        self.emulator = emulator

    # ------------------------------------------------------------------ protocol

    def throttling_error(self):
        return AwsError("RequestLimitExceeded", "Request limit exceeded.", 503, sender=False)

    def fault_error(self, status, action):
        if status == 503:
            return "Unavailable", "The server is overloaded and can't handle the request."
        if status >= 500:
            return "InternalError", "An internal error has occurred."
        return "InvalidParameterValue", "Injected client error"

    def error_response(self, error, request_id, protocol="query"):
        return xml.serialize_ec2_error(error.code, error.message, request_id), "text/xml", []

    def dispatch(self, ctx, action, params):
        if not action:
            raise AwsError("MissingAction", "The request must contain the parameter Action",
                           400)
        version = params.get("Version")
        if version is None:
            raise AwsError("MissingParameter",
                           "The request must contain the parameter Version", 400)
        if action not in self.model.operation_names:
            raise AwsError("InvalidAction",
                           f"The action {action} is not valid for this web service.", 400)
        if version != self.api_version:
            raise AwsError("InvalidAction", f"The action {action} is not valid for version "
                           f"{version}.", 400)
        if action not in self.actions:
            raise AwsError("NotImplemented", f"The emulator does not implement {action}", 501,
                           sender=False)
        operation = self.model.operation_model(action)
        args = parse_input(operation.input_shape, params, EC2)
        if args.get("DryRun"):
            raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag "
                           "is set.", 412)
        result = getattr(self, f"op_{action}")(ctx, args)
        return xml.serialize_ec2_result(operation, self.namespace, result, ctx.request_id,
                                        self.timestamp_style)

    # ------------------------------------------------------------------ instances

    @staticmethod
    def _filters(args):
        filters = args.get("Filters") or []
        total = sum(len(f.get("Values") or []) for f in filters)
        if total > MAX_FILTER_VALUES:
            raise AwsError("FilterLimitExceeded", "The maximum number of filter values "
                           f"specified on a single call is {MAX_FILTER_VALUES}", 400)
        out = []
        for item in filters:
            name = item.get("Name")
            if not name:
                raise AwsError("InvalidParameterValue", "The filter 'null' is invalid", 400)
            values = item.get("Values") or []
            if not values:  # emulator wording: AWS refuses a filter without values
                raise AwsError("InvalidParameterValue",
                               f"The filter '{name}' must have at least one value", 400)
            out.append(Filter(name, values))
        return out

    def _visible(self, ctx):
        return sorted((i for i in self.emulator.world.instances.values()
                       if i.region == ctx.region and i.state in STATE_CODES),
                      key=lambda i: i.seq)

    def op_DescribeInstances(self, ctx, args):
        ids = args.get("InstanceIds") or []
        max_results = args.get("MaxResults")
        if ids and max_results is not None:
            raise AwsError("InvalidParameterCombination", "The parameter instancesSet cannot "
                           "be used with the parameter maxResults", 400)
        if max_results is not None and not 5 <= max_results <= 1000:
            bound = "greater than 5" if max_results < 5 else "less than 1000"
            raise AwsError("InvalidParameterValue", f"Value ( {max_results} ) for parameter "
                           f"maxResults is invalid. Expecting a value {bound}.", 400)
        for instance_id in ids:
            if not INSTANCE_ID.match(instance_id):
                raise AwsError("InvalidInstanceID.Malformed", f'Invalid id: "{instance_id}"',
                               400)
        filters = self._filters(args)
        instances = self._visible(ctx)
        if ids:
            known = {i.id: i for i in instances}
            missing = [i for i in dict.fromkeys(ids) if i not in known]
            if len(missing) == 1:
                raise AwsError("InvalidInstanceID.NotFound",
                               f"The instance ID '{missing[0]}' does not exist", 400)
            if missing:
                raise AwsError("InvalidInstanceID.NotFound", "The instance IDs '"
                               + ", ".join(missing) + "' do not exist", 400)
            wanted = set(ids)
            instances = [i for i in instances if i.id in wanted]
        instances = [i for i in instances if all(f.matches(i) for f in filters)]
        if args.get("NextToken"):
            after = _untoken(args["NextToken"], "instances").get("after", 0)
            instances = [i for i in instances if i.seq > after]
        next_token = None
        if max_results is not None and len(instances) > max_results:
            instances = instances[:max_results]
            next_token = _token({"k": "instances", "after": instances[-1].seq})
        reservations = []
        for instance in instances:
            if not reservations or reservations[-1]["ReservationId"] != \
                    instance.reservation_id:
                reservations.append({"ReservationId": instance.reservation_id,
                                     "OwnerId": ctx.account, "Groups": [], "Instances": []})
            reservations[-1]["Instances"].append(self._describe_instance(instance))
        out = {"Reservations": reservations}
        if next_token:
            out["NextToken"] = next_token
        return out

    def _describe_instance(self, instance):
        vpc = self.emulator.world.vpc(instance.vpc_id)
        terminated = instance.state == "terminated"
        out = {"InstanceId": instance.id, "ImageId": IMAGE_ID,
               "State": {"Code": STATE_CODES[instance.state], "Name": instance.state},
               "PrivateDnsName": "", "PublicDnsName": "",
               "StateTransitionReason": "", "AmiLaunchIndex": 0,
               "ProductCodes": [], "InstanceType": instance.instance_type,
               "LaunchTime": _when(instance.launch_time),
               "Placement": {"AvailabilityZone": instance.az, "GroupName": "",
                             "Tenancy": "default"},
               "Monitoring": {"State": "disabled"}, "Architecture": "x86_64",
               "RootDeviceType": "ebs", "RootDeviceName": "/dev/xvda",
               "Hypervisor": "xen", "VirtualizationType": "hvm", "EbsOptimized": False,
               "EnaSupport": True, "SourceDestCheck": True,
               "Tags": [{"Key": k, "Value": v} for k, v in instance.tags.items()]}
        if not terminated:
            dns_suffix = "ec2.internal" if instance.region == "us-east-1" else \
                f"{instance.region}.compute.internal"
            if instance.private_ip:
                out["PrivateDnsName"] = "ip-" + instance.private_ip.replace(".", "-") + \
                    "." + dns_suffix
                out["PrivateIpAddress"] = instance.private_ip
            if instance.ipv6_address:
                out["Ipv6Address"] = instance.ipv6_address
            out["SubnetId"] = instance.subnet_id
            out["VpcId"] = instance.vpc_id
            out["SecurityGroups"] = [{"GroupName": "default",
                                      "GroupId": vpc.security_group if vpc else ""}]
        if instance.lifecycle:
            out["InstanceLifecycle"] = instance.lifecycle
        if instance.spot_request_id:
            out["SpotInstanceRequestId"] = instance.spot_request_id
        if instance.state_reason and instance.state in ("stopping", "stopped",
                                                        "shutting-down", "terminated"):
            out["StateReason"] = {"Code": instance.state_reason[0],
                                  "Message": instance.state_reason[1]}
            out["StateTransitionReason"] = "User initiated" \
                if instance.state_reason[0].startswith("Client.") else \
                "Service initiated"
        return out

    # ------------------------------------------------------------------ Spot Fleets

    def _fleet(self, ctx, fleet_id):
        fleet = self.emulator.compute.fleets.get(fleet_id)
        if fleet is None or fleet.region != ctx.region:
            raise AwsError("InvalidSpotFleetRequestId.NotFound",
                           f"The spot fleet request ID '{fleet_id}' does not exist", 400)
        return fleet

    def op_DescribeSpotFleetInstances(self, ctx, args):
        fleet = self._fleet(ctx, args["SpotFleetRequestId"])
        world = self.emulator.world
        active = [world.instances[i] for i in fleet.instance_ids
                  if world.instances[i].state in ("pending", "running")]
        start = 0
        if args.get("NextToken"):
            data = _untoken(args["NextToken"], "fleet")
            if data.get("id") != fleet.id:
                raise AwsError("InvalidPaginationToken", "The pagination token "
                               f"'{args['NextToken']}' is not valid or is expired.", 400)
            after = data.get("after", 0)
            start = next((n for n, i in enumerate(active) if i.seq > after), len(active))
        size = args.get("MaxResults") or 1000
        page = active[start:start + size]
        out = {"SpotFleetRequestId": fleet.id, "ActiveInstances": [
            {"InstanceId": i.id, "InstanceType": i.instance_type,
             "SpotInstanceRequestId": i.spot_request_id, "InstanceHealth": "healthy"}
            for i in page]}
        if start + size < len(active):
            out["NextToken"] = _token({"k": "fleet", "id": fleet.id, "after": page[-1].seq})
        return out

    def op_DescribeSpotFleetRequests(self, ctx, args):
        compute = self.emulator.compute
        ids = args.get("SpotFleetRequestIds") or []
        if ids:
            fleets = [self._fleet(ctx, i) for i in dict.fromkeys(ids)]
        else:
            fleets = [f for f in compute.fleets.values() if f.region == ctx.region]
        start = 0
        if args.get("NextToken"):
            start = int(_untoken(args["NextToken"], "fleets").get("start", 0))
        size = args.get("MaxResults") or 1000
        page = fleets[start:start + size]
        world = self.emulator.world
        configs = []
        for fleet in page:
            fulfilled = sum(1 for i in fleet.instance_ids
                            if world.instances[i].state in ("pending", "running"))
            config = {"SpotFleetRequestId": fleet.id,
                      "SpotFleetRequestState": fleet.state,
                      "CreateTime": _when(fleet.created),
                      "SpotFleetRequestConfig": {
                          "AllocationStrategy": "lowestPrice",
                          "IamFleetRole": fleet.iam_fleet_role,
                          "TargetCapacity": fleet.target_capacity,
                          "FulfilledCapacity": float(fulfilled),
                          "Type": fleet.fleet_type,
                          "TerminateInstancesWithExpiration": True,
                          "ReplaceUnhealthyInstances": False,
                          "InstanceInterruptionBehavior": "terminate"},
                      "Tags": [{"Key": k, "Value": v} for k, v in fleet.tags.items()]}
            if fleet.state == "active":
                config["ActivityStatus"] = "fulfilled" if fulfilled >= \
                    fleet.target_capacity else "pending_fulfillment"
            elif fleet.state == "cancelled_terminating":
                config["ActivityStatus"] = "pending_termination"
            configs.append(config)
        out = {"SpotFleetRequestConfigs": configs}
        if start + size < len(fleets):
            out["NextToken"] = _token({"k": "fleets", "start": start + size})
        return out
