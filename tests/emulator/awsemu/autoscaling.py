"""Amazon EC2 Auto Scaling (Query protocol, 2011-01-01): DescribeAutoScalingGroups,
DescribeLifecycleHooks and CompleteLifecycleAction over the groups of compute.py.

DescribeAutoScalingGroups lists the signed Region's groups (all, or those named; unknown
names are simply absent, as on AWS) with their members' LifecycleState and HealthStatus,
`MaxRecords` groups per page (default 50, at most 100) and a NextToken. Errors are the Query
protocol's `<ErrorResponse>`; throttling is `Throttling`.
Thread-safety: ops run under the emulator lock.
"""

import base64
import datetime

from .compute import ComputeError
from .errors import AwsError, validation_error
from .query import QueryService


def _when(value):
    return datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)


class AutoScalingService(QueryService):
    model_name = "autoscaling"
    signing_name = "autoscaling"
    host_prefix = "autoscaling"

    def __init__(self, session, emulator):
        super().__init__(session)
        self.emulator = emulator

    def _groups(self, ctx):
        return [g for g in self.emulator.compute.groups.values() if g.region == ctx.region]

    def _describe(self, group):
        out = {"AutoScalingGroupName": group.name, "AutoScalingGroupARN": group.arn,
               "LaunchTemplate": {"LaunchTemplateId": "lt-0abcdef1234567890",
                                  "LaunchTemplateName": f"{group.name}-template",
                                  "Version": "$Default"},
               "MinSize": group.min_size, "MaxSize": group.max_size,
               "DesiredCapacity": group.desired, "DefaultCooldown": 300,
               "AvailabilityZones": group.availability_zones(),
               "LoadBalancerNames": [], "TargetGroupARNs": list(group.target_group_arns),
               "HealthCheckType": "EC2", "HealthCheckGracePeriod": group.health_check_grace,
               "Instances": [{"InstanceId": m.instance_id, "InstanceType": m.instance_type,
                              "AvailabilityZone": m.az, "LifecycleState": m.lifecycle_state,
                              "HealthStatus": m.health_status,
                              "LaunchTemplate": {"LaunchTemplateId": "lt-0abcdef1234567890",
                                                 "LaunchTemplateName":
                                                     f"{group.name}-template",
                                                 "Version": "1"},
                              "ProtectedFromScaleIn": m.protected}
                             for m in group.members.values()],
               "CreatedTime": _when(group.created), "SuspendedProcesses": [],
               "VPCZoneIdentifier": ",".join(s.id for s in group.subnets),
               "EnabledMetrics": [],
               "Tags": [{"ResourceId": group.name, "ResourceType": "auto-scaling-group",
                         "Key": k, "Value": v, "PropagateAtLaunch": True}
                        for k, v in group.tags.items()],
               "TerminationPolicies": ["Default"], "NewInstancesProtectedFromScaleIn": False,
               "ServiceLinkedRoleARN": f"arn:aws:iam::{self.emulator.settings.account}:role/"
                                       "aws-service-role/autoscaling.amazonaws.com/"
                                       "AWSServiceRoleForAutoScaling",
               "CapacityRebalance": False}
        return out

    def op_DescribeAutoScalingGroups(self, ctx, args):
        if args.get("Filters"):
            raise AwsError("NotImplemented", "The emulator does not implement Filters of "
                           "DescribeAutoScalingGroups", 501, sender=False)
        size = args.get("MaxRecords")
        if size is not None and not 1 <= size <= 100:
            raise validation_error(f"1 validation error detected: Value '{size}' at "
                                   "'maxRecords' failed to satisfy constraint: Member must "
                                   "have value " + ("less than or equal to 100" if size > 100
                                                    else "greater than or equal to 1"))
        size = size or 50
        groups = self._groups(ctx)
        names = args.get("AutoScalingGroupNames")
        if names:
            wanted = set(names)
            groups = [g for g in groups if g.name in wanted]
        start = 0
        token = args.get("NextToken")
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token.encode() + b"===").decode()
                            .split(":", 1)[1])
            except (ValueError, IndexError, UnicodeDecodeError):
                raise self.error("InvalidNextToken",
                                 f"The token '{token}' is invalid.") from None
        page = groups[start:start + size]
        out = {"AutoScalingGroups": [self._describe(g) for g in page]}
        if start + size < len(groups):
            out["NextToken"] = base64.urlsafe_b64encode(
                f"groups:{start + size}".encode()).decode()
        return out

    def op_DescribeLifecycleHooks(self, ctx, args):
        name = args["AutoScalingGroupName"]
        group = self.emulator.compute.groups.get(name)
        if group is None or group.region != ctx.region:
            raise validation_error(f"AutoScalingGroup name not found - {name}")
        wanted = args.get("LifecycleHookNames")
        hooks = [h.describe(group.name) for h in group.hooks.values()
                 if not wanted or h.name in wanted]
        return {"LifecycleHooks": hooks}

    def op_CompleteLifecycleAction(self, ctx, args):
        name = args["AutoScalingGroupName"]
        group = self.emulator.compute.groups.get(name)
        if group is None or group.region != ctx.region:
            raise validation_error(f"AutoScalingGroup name not found - {name}")
        if args["LifecycleHookName"] not in group.hooks:
            raise validation_error(f"No Lifecycle Hook found with name "
                                   f"{args['LifecycleHookName']} for group {name}")
        token = args.get("LifecycleActionToken")
        instance_id = args.get("InstanceId")
        if token is None and instance_id is None:
            raise validation_error("Either LifecycleActionToken or InstanceId is required")
        try:
            self.emulator.compute.complete_action(name, args["LifecycleHookName"], token,
                                                  instance_id, args["LifecycleActionResult"])
        except ComputeError as error:
            raise validation_error(str(error)) from None
        return {}
