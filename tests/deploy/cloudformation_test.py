"""Structural checks of deploy/cloudformation/endpoint-binder.yaml: every reference resolves,
every parameter and condition is used, IAM actions exist in the AWS service models (botocore)
and are least-privilege, and the ECS settings run two non-root, read-only replicas that elect
one writer through the DynamoDB lease table. The instance-source resources (IAM, the events
queue and its EventBridge rules) exist only when asked for, grant what `iam-policy` grants, and
the rules' event patterns (evaluated here as EventBridge evaluates them) route exactly the event
types the controller acts on, as the emulator emits them."""
import os
import re
import sys
import types
import unittest

import botocore.session
import yaml

ROOT = os.environ.get("EB_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATE = os.path.join(ROOT, "deploy", "cloudformation", "endpoint-binder.yaml")
IAM_POLICY_CC = os.path.join(ROOT, "controller", "main", "cmd_iam_policy.cc")
INSTANCE_EVENTS_CC = os.path.join(ROOT, "controller", "runtime", "instance_events.cc")
sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))
from awsemu import events as emulator_events  # noqa: E402
PSEUDO = {"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName", "AWS::StackId",
          "AWS::NoValue", "AWS::URLSuffix"}
# IAM service prefix -> botocore service model name
IAM_SERVICES = {"elasticloadbalancing": "elbv2", "sts": "sts", "logs": "logs", "ecr": "ecr",
                "dynamodb": "dynamodb", "ssm": "ssm", "kms": "kms", "sns": "sns", "ec2": "ec2",
                "autoscaling": "autoscaling", "sqs": "sqs", "route53": "route53"}
GETATT = {"AWS::IAM::Role": {"Arn", "RoleId"}, "AWS::Logs::LogGroup": {"Arn"},
          "AWS::ECS::Service": {"Name", "ServiceArn"}, "AWS::EC2::SecurityGroup": {"GroupId", "VpcId"},
          "AWS::DynamoDB::Table": {"Arn", "StreamArn"}, "AWS::SQS::Queue": {"Arn", "QueueName", "QueueUrl"},
          "AWS::Events::Rule": {"Arn"}}
INSTANCE_SOURCE_CONDITIONS = {"HasInstanceSources", "HasInstanceEvents", "MakeInstanceSourceEndpoints",
                              "MakeInstanceEventsEndpoint"}


class Tag:
    def __init__(self, name, value):
        self.name, self.value = name, value

    def __repr__(self):
        return f"!{self.name} {self.value!r}"


class Loader(yaml.SafeLoader):
    pass


def _construct(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tag(suffix, value)


Loader.add_multi_constructor("!", _construct)


def walk(node, visit):
    visit(node)
    if isinstance(node, Tag):
        walk(node.value, visit)
    elif isinstance(node, dict):
        for v in node.values():
            walk(v, visit)
    elif isinstance(node, list):
        for v in node:
            walk(v, visit)


class CloudFormationTemplate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(TEMPLATE) as f:
            cls.t = yaml.load(f, Loader=Loader)
        cls.params = set(cls.t["Parameters"])
        cls.resources = cls.t["Resources"]
        cls.conditions = set(cls.t.get("Conditions", {}))
        cls.tags = []
        walk(cls.t, lambda n: cls.tags.append(n) if isinstance(n, Tag) else None)
        cls.session = botocore.session.get_session()

    def refs(self):
        out = []
        for tag in self.tags:
            if tag.name == "Ref":
                out.append(tag.value)
            elif tag.name == "Sub":
                text, local = (tag.value, {}) if isinstance(tag.value, str) else tag.value
                out += [v.split(".")[0] for v in re.findall(r"\$\{([^}!]+)\}", text) if v not in local]
        return out

    def test_every_ref_and_sub_variable_resolves(self):
        for name in self.refs():
            self.assertTrue(name in self.params or name in self.resources or name in PSEUDO,
                            f"!Ref/!Sub {name} names nothing")

    def test_every_getatt_names_a_resource_attribute(self):
        for tag in self.tags:
            if tag.name == "GetAtt":
                res, attr = tag.value.split(".") if isinstance(tag.value, str) else tag.value
                self.assertIn(res, self.resources, f"!GetAtt {res}")
                self.assertIn(attr, GETATT[self.resources[res]["Type"]], f"!GetAtt {res}.{attr}")
            if tag.name == "Sub":
                text = tag.value if isinstance(tag.value, str) else tag.value[0]
                for var in re.findall(r"\$\{([^}!]+)\}", text):
                    if "." in var and not var.startswith("AWS::"):
                        res, attr = var.split(".")
                        self.assertIn(attr, GETATT[self.resources[res]["Type"]], var)

    def test_every_parameter_and_condition_is_used(self):
        used = set(self.refs())
        for p in self.params:
            self.assertIn(p, used, f"parameter {p} is never used")
        used_conditions = {t.value for t in self.tags if t.name == "Condition"}
        used_conditions |= {t.value[0] for t in self.tags if t.name == "If"}
        used_conditions |= {r["Condition"] for r in self.resources.values() if "Condition" in r}
        for c in self.conditions:
            self.assertIn(c, used_conditions, f"condition {c} is never used")
        for c in used_conditions:
            self.assertIn(c, self.conditions, f"condition {c} is not defined")

    def iam_statements(self, role):
        for policy in self.resources[role]["Properties"]["Policies"]:
            yield from policy["PolicyDocument"]["Statement"]

    def test_iam_actions_exist_in_the_service_models(self):
        for role in ("TaskRole", "ExecutionRole"):
            for st in self.iam_statements(role):
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                for action in actions:
                    prefix, op = action.split(":")
                    model = self.session.get_service_model(IAM_SERVICES[prefix])
                    self.assertIn(op, model.operation_names, f"{action} is not an AWS action")

    def test_task_role_is_least_privilege(self):
        writes = {"elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets",
                  "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"}
        seen = set()
        for st in self.iam_statements("TaskRole"):
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            for a in actions:
                self.assertNotIn("*", a, "no wildcard actions")
                seen.add(a)
            if writes & set(actions):
                self.assertIsInstance(st["Resource"], Tag, "writes must be scoped to the target groups")
                self.assertEqual("TargetGroupArns", st["Resource"].value)
            elif any(a.startswith("dynamodb:") for a in actions):
                self.assertEqual({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, set(actions))
                self.assertIsInstance(st["Resource"], Tag, "the lease calls are scoped to the table")
                self.assertEqual(("GetAtt", "LeaseTable.Arn"), (st["Resource"].name, st["Resource"].value))
            elif st["Resource"] == "*":
                self.assertTrue(all(a.split(":")[1].startswith(("Describe", "GetCallerIdentity")) for a in actions),
                                f"only Describe*/GetCallerIdentity may use Resource '*': {actions}")
        self.assertTrue(writes <= seen)

    def test_container_is_read_only_non_root_and_small(self):
        td = self.resources["TaskDefinition"]["Properties"]
        self.assertEqual(256, self.t["Parameters"]["Cpu"]["Default"])
        self.assertEqual(512, self.t["Parameters"]["Memory"]["Default"])
        c = td["ContainerDefinitions"][0]
        self.assertTrue(c["ReadonlyRootFilesystem"])
        self.assertFalse(c["User"].startswith("0"), "non-root")
        self.assertEqual("awslogs", c["LogConfiguration"]["LogDriver"])
        self.assertIn("healthcheck", c["HealthCheck"]["Command"])
        self.assertEqual(["FARGATE"], td["RequiresCompatibilities"])

    def test_two_replicas_elect_one_writer_through_the_lease_table(self):
        svc = self.resources["Service"]["Properties"]
        self.assertEqual(2, svc["DesiredCount"])
        # Rolling deployments start the new tasks before stopping the old ones.
        self.assertEqual(200, svc["DeploymentConfiguration"]["MaximumPercent"])
        self.assertEqual(100, svc["DeploymentConfiguration"]["MinimumHealthyPercent"])
        self.assertEqual("DISABLED", svc["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"])
        # Every task runs leader election on the stack's table (without it both would write).
        env = {e["Name"]: e["Value"] for e in
               self.resources["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]["Environment"]}
        table_ref = env["ENDPOINT_BINDER_LEADER_ELECTION_TABLE"]
        self.assertIsInstance(table_ref, Tag)
        self.assertEqual(("Ref", "LeaseTable"), (table_ref.name, table_ref.value))
        table = self.resources["LeaseTable"]
        self.assertEqual("AWS::DynamoDB::Table", table["Type"])
        props = table["Properties"]
        self.assertEqual("PAY_PER_REQUEST", props["BillingMode"])
        self.assertTrue(props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"])
        self.assertEqual([{"AttributeName": "leaseName", "KeyType": "HASH"}], props["KeySchema"])
        self.assertEqual([{"AttributeName": "leaseName", "AttributeType": "S"}], props["AttributeDefinitions"])
        # The tasks reach DynamoDB through the gateway endpoint's prefix list only.
        egress = self.resources["TaskDynamoDbEgress"]["Properties"]
        self.assertEqual(443, egress["FromPort"])
        self.assertEqual("DynamoDbPrefixListId", egress["DestinationPrefixListId"].value)

    def test_egress_only_to_endpoints_and_the_vpc_resolver(self):
        sg = self.resources["TaskSecurityGroup"]["Properties"]
        for rule in sg["SecurityGroupEgress"]:
            self.assertNotEqual("0.0.0.0/0", rule.get("CidrIp"), "no egress to the internet")
            if rule["FromPort"] == 443:
                self.assertIn("DestinationSecurityGroupId", rule)
            else:
                self.assertEqual(53, rule["FromPort"])
        ingress_ports = {r["FromPort"] for r in sg["SecurityGroupIngress"]}
        self.assertEqual({8080, 8081}, ingress_ports)
        for r in sg["SecurityGroupIngress"]:
            self.assertEqual("PrometheusSecurityGroupId", r["SourceSecurityGroupId"].value)

    def test_vpc_endpoints_cover_what_the_task_needs(self):
        services = set()
        for r in self.resources.values():
            if r["Type"] == "AWS::EC2::VPCEndpoint":
                services.add(r["Properties"]["ServiceName"].value.rsplit(".", 1)[-1]
                             if not r["Properties"]["ServiceName"].value.endswith(("ecr.api", "ecr.dkr"))
                             else ".".join(r["Properties"]["ServiceName"].value.rsplit(".", 2)[-2:]))
        self.assertEqual({"elasticloadbalancing", "sts", "logs", "ecr.api", "ecr.dkr", "s3", "dynamodb",
                          "ssm", "sns", "kms", "ec2", "autoscaling", "sqs"}, services)
        # The notification endpoints only when asked for.
        for name in ("SsmEndpoint", "SnsEndpoint", "KmsEndpoint"):
            self.assertEqual("MakeNotificationEndpoints", self.resources[name]["Condition"])
        self.assertEqual("false", self.t["Parameters"]["CreateNotificationEndpoints"]["Default"])

    def test_notifications_are_scoped_and_optional(self):
        webhooks = self.resources["NotificationParametersPolicy"]
        topics = self.resources["NotificationTopicsPolicy"]
        self.assertEqual("HasSlackParameters", webhooks["Condition"])
        self.assertEqual("HasNotificationTopics", topics["Condition"])
        for policy in (webhooks, topics):
            self.assertEqual([("Ref", "TaskRole")], [(r.name, r.value) for r in policy["Properties"]["Roles"]])
            for st in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                for action in actions:
                    prefix, op = action.split(":")
                    self.assertIn(op, self.session.get_service_model(IAM_SERVICES[prefix]).operation_names)
                self.assertNotEqual("*", st["Resource"])
        read, decrypt = webhooks["Properties"]["PolicyDocument"]["Statement"]
        self.assertEqual("ssm:GetParameter", read["Action"])
        self.assertTrue(read["Resource"].value.endswith(":parameter${SlackWebhookParameterPrefix}*"))
        self.assertEqual("kms:Decrypt", decrypt["Action"])
        self.assertEqual("ssm.${AWS::Region}.${AWS::URLSuffix}",
                         decrypt["Condition"]["StringEquals"]["kms:ViaService"].value)
        publish = topics["Properties"]["PolicyDocument"]["Statement"][0]
        self.assertEqual({"sns:Publish", "sns:GetTopicAttributes"}, set(publish["Action"]))
        self.assertEqual(("Ref", "NotificationTopicArns"), (publish["Resource"].name, publish["Resource"].value))
        # Slack egress only when given; the proxy keeps AWS endpoints direct.
        egress = self.resources["TaskWebhookEgress"]
        self.assertEqual("HasWebhookEgress", egress["Condition"])
        self.assertEqual("", self.t["Parameters"]["WebhookEgressCidr"]["Default"])
        env = {e["Name"]: e["Value"] for e in
               self.resources["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]["Environment"]}
        self.assertEqual(("Ref", "HttpsProxy"), (env["HTTPS_PROXY"].name, env["HTTPS_PROXY"].value))
        # The Region's endpoints bypass the proxy (checked with the controller's rules below).
        self.assertIn(".${AWS::Region}.${AWS::URLSuffix}", env["NO_PROXY"].value.split(","))

    def statement(self, resource, sid):
        for st in self.resources[resource]["Properties"]["PolicyDocument"]["Statement"]:
            if st["Sid"] == sid:
                return st
        raise AssertionError(f"{resource} has no statement {sid}")

    def test_record_zones_are_scoped_optional_and_reach_route53_through_the_proxy(self):
        params = self.t["Parameters"]
        self.assertEqual("CommaDelimitedList", params["RecordHostedZoneIds"]["Type"])
        self.assertEqual("", params["RecordHostedZoneIds"]["Default"], "off by default")
        policy = self.resources["RecordZonesPolicy"]
        self.assertEqual("HasRecordZones", policy["Condition"])
        self.assertEqual([("Ref", "TaskRole")], [(r.name, r.value) for r in policy["Properties"]["Roles"]])
        change = self.statement("RecordZonesPolicy", "ChangeBoundRecords")
        wait = self.statement("RecordZonesPolicy", "WaitForRecordChanges")

        # The same actions as `iam-policy` prints for DNSRecordBindings.
        with open(IAM_POLICY_CC) as f:
            text = f.read()
        m = re.search(r'\{"ChangeBoundRecords",\s*\{([^}]*)\}', text)
        self.assertIsNotNone(m, "the ChangeBoundRecords statement of iam-policy")
        self.assertEqual(set(re.findall(r'"([a-z0-9]+:[A-Za-z]+)"', m.group(1))), set(change["Action"]))
        self.assertIn("route53:GetHostedZone", change["Action"])
        self.assertEqual(["route53:GetChange"], wait["Action"])
        self.assertIn('"arn:{}:route53:::change/*"', text)
        for st in (change, wait):
            for action in st["Action"]:
                prefix, op = action.split(":")
                self.assertIn(op, self.session.get_service_model(IAM_SERVICES[prefix]).operation_names, action)

        # Evaluate the resources as CloudFormation would: one ARN per zone, nothing else.
        def evaluate(node, values):
            if isinstance(node, str):
                return node
            if isinstance(node, list):
                return [evaluate(n, values) for n in node]
            if node.name == "Ref":
                return values[node.value]
            if node.name == "Join":
                sep, items = evaluate(node.value[0], values), evaluate(node.value[1], values)
                return sep.join(items)
            if node.name == "Split":
                return evaluate(node.value[1], values).split(evaluate(node.value[0], values))
            if node.name == "If":
                # Only partition conditions here: !Equals [!Ref AWS::Partition, <partition>].
                name, then, otherwise = node.value
                condition = self.t["Conditions"][name]
                self.assertEqual("Equals", condition.name)
                self.assertEqual(("Ref", "AWS::Partition"), (condition.value[0].name, condition.value[0].value))
                holds = values["AWS::Partition"] == condition.value[1]
                return evaluate(then if holds else otherwise, values)
            if node.name == "Sub":
                text, variables = (node.value, {}) if isinstance(node.value, str) else node.value
                env = dict(values, **{k: evaluate(v, values) for k, v in variables.items()})
                return re.sub(r"\$\{([^}]+)\}", lambda v: env[v.group(1)], text)
            raise AssertionError(f"unexpected !{node.name}")
        for partition, zones in (("aws", ["Z04517273P2QJMRVBE6KD", "Z07615331DW2RVXN8PQ4K"]),
                                 ("aws-cn", ["ZONLYONE"]), ("aws-us-gov", ["ZA", "ZB", "ZC"])):
            values = {"AWS::Partition": partition, "RecordHostedZoneIds": zones}
            self.assertEqual([f"arn:{partition}:route53:::hostedzone/{z}" for z in zones],
                             evaluate(change["Resource"], values))
            self.assertEqual(f"arn:{partition}:route53:::change/*", evaluate(wait["Resource"], values))

        # Route 53 is global with no VPC endpoint: the proxy must carry route53.amazonaws.com while
        # the Region's endpoints (VPC endpoints) stay direct. NO_PROXY matched as controller/aws/proxy.h
        # says: an entry matches the host and its subdomains.
        env = {e["Name"]: e["Value"] for e in
               self.resources["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]["Environment"]}
        def bypasses(no_proxy, host):
            for entry in (e.strip().lower() for e in no_proxy.split(",")):
                domain = entry.lstrip("*").lstrip(".")
                if entry and (host == domain or host.endswith("." + domain)):
                    return True
            return False
        for region, suffix, route53 in (("ap-northeast-1", "amazonaws.com", "route53.amazonaws.com"),
                                        ("cn-north-1", "amazonaws.com.cn", "route53.amazonaws.com.cn")):
            no_proxy = evaluate(env["NO_PROXY"], {"AWS::Region": region, "AWS::URLSuffix": suffix})
            self.assertFalse(bypasses(no_proxy, route53), f"{route53} must go through the proxy: {no_proxy}")
            for service in ("elasticloadbalancing", "sts", "ec2", "autoscaling", "sqs", "dynamodb", "ssm",
                            "sns", "kms"):
                self.assertTrue(bypasses(no_proxy, f"{service}.{region}.{suffix}"), service)
            self.assertTrue(bypasses(no_proxy, "169.254.170.2"), "the ECS credentials endpoint")
        # The old list would have sent Route 53 direct (and so into a timeout).
        self.assertTrue(bypasses(".amazonaws.com,169.254.170.2", "route53.amazonaws.com"))

        # Asking for zones without instance sources or a way out is refused at stack creation.
        rule = self.t["Rules"]["RecordZonesNeedInstanceSourcesAndEgress"]
        self.assertEqual("Not", rule["RuleCondition"].name)
        asserted = [a["Assert"] for a in rule["Assertions"]]
        self.assertIn("InstanceSources", repr(asserted[0]))
        self.assertIn("WebhookEgressCidr", repr(asserted[1]))
        for a in rule["Assertions"]:
            self.assertIn("RecordHostedZoneIds", a["AssertDescription"])

    def test_manifests_from_s3_are_scoped_optional_and_go_through_the_gateway(self):
        params = self.t["Parameters"]
        self.assertEqual("", params["ManifestsBucket"]["Default"], "off by default")
        self.assertRegex("endpoint-binder/prod/", params["ManifestsPrefix"]["AllowedPattern"])
        self.assertNotRegex("prod", params["ManifestsPrefix"]["AllowedPattern"], "ends in /")
        policy = self.resources["ManifestsPolicy"]
        self.assertEqual("HasManifestsBucket", policy["Condition"])
        self.assertEqual([("Ref", "TaskRole")], [(r.name, r.value) for r in policy["Properties"]["Roles"]])
        listing = self.statement("ManifestsPolicy", "ManifestsList")
        reading = self.statement("ManifestsPolicy", "ManifestsRead")
        self.assertEqual(["s3:ListBucket"], listing["Action"])
        self.assertEqual("arn:${AWS::Partition}:s3:::${ManifestsBucket}", listing["Resource"].value)
        prefix = listing["Condition"]["StringEquals"]["s3:prefix"]
        self.assertEqual([("Ref", "ManifestsPrefix")], [(p.name, p.value) for p in prefix])
        self.assertEqual(["s3:GetObject"], reading["Action"])
        self.assertEqual("arn:${AWS::Partition}:s3:::${ManifestsBucket}/${ManifestsPrefix}*",
                         reading["Resource"].value)
        # The same actions as `iam-policy --manifests s3://...`; ListBucket allows ListObjectsV2.
        with open(IAM_POLICY_CC) as f:
            text = f.read()
        self.assertIn('{"s3:ListBucket"}', text)
        self.assertIn('{"s3:GetObject"}', text)
        s3 = self.session.get_service_model("s3").operation_names
        self.assertIn("ListObjectsV2", s3)
        self.assertIn("GetObject", s3)
        # The tasks read s3://bucket/prefix when a bucket is given, the image's files otherwise.
        env = {e["Name"]: e["Value"] for e in
               self.resources["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]["Environment"]}
        manifests = env["ENDPOINT_BINDER_MANIFESTS"]
        self.assertEqual("If", manifests.name)
        self.assertEqual("HasManifestsBucket", manifests.value[0])
        self.assertEqual("s3://${ManifestsBucket}/${ManifestsPrefix}", manifests.value[1].value)
        self.assertEqual("/etc/endpoint-binder/manifests", manifests.value[2])
        # S3 through the gateway endpoint: a bucket without a prefix or the S3 prefix list (the
        # task's egress to the gateway) is refused at stack creation.
        self.assertEqual("HasS3PrefixList", self.resources["TaskS3Egress"]["Condition"])
        self.assertEqual("Gateway", self.resources["S3GatewayEndpoint"]["Properties"]["VpcEndpointType"])
        rule = self.t["Rules"]["ManifestsBucketNeedsPrefixAndS3Route"]
        asserted = [repr(a["Assert"]) for a in rule["Assertions"]]
        self.assertIn("ManifestsPrefix", asserted[0])
        self.assertIn("S3PrefixListId", asserted[1])


# ---- EventBridge event patterns ------------------------------------------------------------------

def pattern_matches(pattern, event):
    """Whether an EventBridge event pattern matches `event`, for the subset of the pattern
    language a rule here may use: nested objects, lists of exact values (strings, numbers,
    null), {"prefix": ...}, {"anything-but": value or [values]} and {"exists": bool}. Every
    field of the pattern must match; a list matches when any of its values matches the event's
    value (or, for an array in the event, any of its elements). Anything else is an error."""
    if not isinstance(pattern, dict) or not pattern:
        raise ValueError(f"a pattern (or nested pattern) must be a non-empty object: {pattern!r}")
    for key, want in pattern.items():
        present = isinstance(event, dict) and key in event
        value = event.get(key) if present else None
        if isinstance(want, dict):
            if not isinstance(value, dict) or not pattern_matches(want, value):
                return False
        elif isinstance(want, list):
            if not want:
                raise ValueError(f"empty value list for {key!r}")
            if not _field_matches(want, present, value):
                return False
        else:
            raise ValueError(f"{key!r}: a leaf of a pattern must be a list, not {want!r}")
    return True


def _field_matches(want, present, value):
    values = value if isinstance(value, list) else [value]
    for w in want:
        if isinstance(w, dict):
            if len(w) != 1:
                raise ValueError(f"one operator per matcher: {w!r}")
            (op, arg), = w.items()
            if op == "exists":
                if present == arg:
                    return True
            elif op == "prefix":
                if present and any(isinstance(v, str) and v.startswith(arg) for v in values):
                    return True
            elif op == "anything-but":
                banned = arg if isinstance(arg, list) else [arg]
                if present and any(v not in banned for v in values):
                    return True
            else:
                raise ValueError(f"unsupported EventBridge operator {op!r}")
        elif isinstance(w, (str, int, float)) or w is None:
            if present and any(v == w and type(v) is type(w) for v in values):
                return True
        else:
            raise ValueError(f"unsupported pattern value {w!r}")
    return False


def controller_event_types():
    """{(source, detail-type)} the controller acts on (controller/runtime/instance_events.cc)."""
    with open(INSTANCE_EVENTS_CC) as f:
        text = f.read()
    out = set()
    for array, source in (("kEc2Types", "aws.ec2"), ("kAutoScalingTypes", "aws.autoscaling")):
        m = re.search(array + r"\s*=\s*\{(.*?)\};", text, re.S)
        if not m:
            raise AssertionError(f"{array} not found in {INSTANCE_EVENTS_CC}")
        out |= {(source, t) for t in re.findall(r'"([^"]+)"', m.group(1))}
    return out


def emulator_sample_events():
    """One event of each kind the emulator emits (built by tests/emulator/awsemu/events.py),
    plus the two Auto Scaling failures the emulator never emits, shaped like AWS's examples."""
    account, when = "123456789012", 1767225600
    instance = types.SimpleNamespace(id="i-0123456789abcdef0", region="ap-northeast-1",
                                     az="ap-northeast-1a", subnet_id="subnet-0123")
    group = types.SimpleNamespace(name="web-asg", region="ap-northeast-1",
                                  arn="arn:aws:autoscaling:ap-northeast-1:123456789012:autoScalingGroup:"
                                      "0b6e4b7c-1111-2222-3333-444455556666:autoScalingGroupName/web-asg")
    out = [emulator_events.state_change(account, instance, state, when)
           for state in ("pending", "running", "stopping", "stopped", "shutting-down", "terminated")]
    out.append(emulator_events.spot_warning(account, instance, "terminate", when))
    out.append(emulator_events.rebalance(account, instance, when))
    for transition in ("autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"):
        hook = types.SimpleNamespace(name="drain", transition=transition, notification_metadata=None)
        out.append(emulator_events.lifecycle_action(account, group, hook, instance.id, "token", when))
    for launching in (True, False):
        out.append(emulator_events.scaling_result(account, group, instance, launching, when - 30, when, "test"))
    for verb in ("Launch", "Terminate"):
        out.append(emulator_events.envelope(
            f"EC2 Instance {verb} Unsuccessful", "aws.autoscaling", account, group.region, when, [group.arn],
            {"StatusCode": "Failed", "AutoScalingGroupName": group.name, "EC2InstanceId": instance.id,
             "StatusMessage": "injected"}))
    return out


class TargetAccountRole(unittest.TestCase):
    """deploy/cloudformation/target-account-role.yaml: the role a binding assumes in another
    account grants exactly what `endpoint-binder iam-policy --role-policies` prints for it, and
    its trust policy names the controller's role with the external id when one is given."""

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(ROOT, "deploy", "cloudformation", "target-account-role.yaml")) as f:
            cls.t = yaml.load(f, Loader=Loader)
        cls.tags = []
        walk(cls.t, lambda n: cls.tags.append(n) if isinstance(n, Tag) else None)
        cls.role = cls.t["Resources"]["TargetRole"]["Properties"]

    def test_references_resolve_and_parameters_are_used(self):
        params = set(self.t["Parameters"])
        refs = {t.value for t in self.tags if t.name == "Ref"}
        for name in refs:
            self.assertTrue(name in params or name in self.t["Resources"] or name in PSEUDO, name)
        self.assertEqual(params, refs & params, "every parameter is used")

    def test_trust_policy_names_the_controller_and_the_external_id(self):
        (statement,) = self.role["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual("sts:AssumeRole", statement["Action"])
        self.assertEqual(("Ref", "ControllerRoleArn"),
                         (statement["Principal"]["AWS"].name, statement["Principal"]["AWS"].value))
        condition = statement["Condition"]
        self.assertEqual("If", condition.name)
        self.assertEqual("HasExternalId", condition.value[0])
        self.assertEqual(("Ref", "ExternalId"),
                         (condition.value[1]["StringEquals"]["sts:ExternalId"].name,
                          condition.value[1]["StringEquals"]["sts:ExternalId"].value))
        # The session the controller asks for (3600 s) must be allowed.
        self.assertGreaterEqual(self.role["MaxSessionDuration"], 3600)

    def test_permissions_are_what_iam_policy_prints_for_a_role(self):
        binary = os.path.join(os.environ.get("EB_BIN_DIR") or os.path.join(ROOT, "build", "bin"),
                              "endpoint-binder")
        if not os.path.exists(binary):
            self.fail(f"{binary} not built")
        import json
        import subprocess
        import tempfile
        arn = "arn:aws:elasticloadbalancing:ap-northeast-1:222233334444:targetgroup/web/0123456789abcdef"
        role = "arn:aws:iam::222233334444:role/endpoint-binder-target"
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write("apiVersion: endpointbinder.io/v1alpha1\nkind: TargetGroupBinding\n"
                    f"metadata: {{name: web}}\nspec:\n  targetGroupARN: {arn}\n"
                    f"  assumeRoleARN: {role}\n  externalId: prod-1\n"
                    "  source: {static: {addresses: [10.0.0.1]}}\n")
            f.flush()
            printed = json.loads(subprocess.run(
                [binary, "iam-policy", "--role-policies", "--controller-role-arn",
                 "arn:aws:iam::123456789012:role/eb-task", f.name],
                capture_output=True, text=True, check=True, timeout=30).stdout)
        expected = printed[role]["PermissionPolicy"]["Statement"]
        (policy,) = self.role["Policies"]
        actual = policy["PolicyDocument"]["Statement"]
        self.assertEqual([(s["Sid"], sorted(s["Action"])) for s in expected],
                         [(s["Sid"], sorted(s["Action"])) for s in actual])
        for want, got in zip(expected, actual):
            if want["Resource"] == "*":
                self.assertEqual("*", got["Resource"])
            else:
                self.assertEqual(("Ref", "TargetGroupArns"), (got["Resource"].name, got["Resource"].value))
            self.assertEqual(want.get("Condition"), got.get("Condition"))
        session = botocore.session.get_session()
        for st in actual:
            for action in st["Action"]:
                prefix, op = action.split(":")
                self.assertIn(op, session.get_service_model(IAM_SERVICES[prefix]).operation_names)
        trust = printed[role]["TrustPolicy"]["Statement"][0]
        self.assertEqual({"StringEquals": {"sts:ExternalId": ["prod-1"]}}, trust["Condition"])

    def test_controller_stack_may_assume_exactly_the_listed_roles(self):
        with open(TEMPLATE) as f:
            controller = yaml.load(f, Loader=Loader)
        policy = controller["Resources"]["TargetAccountRolesPolicy"]
        self.assertEqual("HasTargetAccountRoles", policy["Condition"])
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        self.assertEqual("sts:AssumeRole", statement["Action"])
        self.assertEqual(("Ref", "TargetAccountRoleArns"),
                         (statement["Resource"].name, statement["Resource"].value))
        self.assertEqual("", controller["Parameters"]["TargetAccountRoleArns"]["Default"])
        self.assertIn("StsEndpoint", controller["Resources"], "AssumeRole goes through the sts endpoint")


class EventPatternMatcher(unittest.TestCase):
    """The matcher the rule tests rely on, against EventBridge's documented semantics."""

    def test_semantics(self):
        event = {"source": "aws.ec2", "detail-type": "X", "resources": ["arn:a", "arn:b"],
                 "detail": {"state": "running", "n": 5}}
        self.assertTrue(pattern_matches({"source": ["aws.ec2"]}, event))
        self.assertFalse(pattern_matches({"source": ["aws.autoscaling"]}, event))
        self.assertTrue(pattern_matches({"source": ["x", "aws.ec2"], "detail-type": ["X"]}, event))
        self.assertFalse(pattern_matches({"source": ["aws.ec2"], "detail-type": ["Y"]}, event), "every field")
        self.assertTrue(pattern_matches({"detail": {"state": ["running"]}}, event))
        self.assertFalse(pattern_matches({"detail": {"state": ["stopped"]}}, event))
        self.assertFalse(pattern_matches({"detail": {"missing": ["running"]}}, event))
        self.assertFalse(pattern_matches({"source": {"state": ["running"]}}, event), "an object is not a string")
        self.assertTrue(pattern_matches({"resources": ["arn:b"]}, event), "any element of an array")
        self.assertTrue(pattern_matches({"detail": {"n": [5]}}, event))
        self.assertFalse(pattern_matches({"detail": {"n": ["5"]}}, event), "a number is not a string")
        self.assertTrue(pattern_matches({"source": [{"prefix": "aws."}]}, event))
        self.assertFalse(pattern_matches({"source": [{"prefix": "ec2"}]}, event))
        self.assertTrue(pattern_matches({"detail": {"state": [{"anything-but": ["stopped"]}]}}, event))
        self.assertFalse(pattern_matches({"detail": {"state": [{"anything-but": "running"}]}}, event))
        self.assertTrue(pattern_matches({"detail": {"gone": [{"exists": False}]}}, event))
        self.assertFalse(pattern_matches({"detail": {"state": [{"exists": False}]}}, event))
        for bad in ({"source": "aws.ec2"}, {"source": []}, {"source": [{"suffix": "ec2"}]}, {}):
            with self.assertRaises(ValueError, msg=bad):
                pattern_matches(bad, event)


class InstanceSourceResources(unittest.TestCase):
    """InstanceSources / InstanceEvents: what they create, what they grant, what they route."""

    @classmethod
    def setUpClass(cls):
        with open(TEMPLATE) as f:
            cls.t = yaml.load(f, Loader=Loader)
        cls.resources = cls.t["Resources"]
        cls.rules = {n: r for n, r in cls.resources.items() if r["Type"] == "AWS::Events::Rule"}

    def test_off_by_default_and_resources_exist_only_when_enabled(self):
        params = self.t["Parameters"]
        for name in ("InstanceSources", "InstanceEvents"):
            self.assertEqual("false", params[name]["Default"], name)
            self.assertEqual(["true", "false"], params[name]["AllowedValues"], name)
        conditions = self.t["Conditions"]
        self.assertEqual(("Equals", [("Ref", "InstanceSources"), "true"]),
                         (conditions["HasInstanceSources"].name,
                          [(v.name, v.value) if isinstance(v, Tag) else v
                           for v in conditions["HasInstanceSources"].value]))
        # Events need instance sources; the endpoints need CreateVpcEndpoints too.
        def anded(name):
            tag = conditions[name]
            self.assertEqual("And", tag.name, name)
            return [(v.name, v.value if v.name == "Condition" else [(x.name, x.value) if isinstance(x, Tag) else x
                                                                     for x in v.value]) for v in tag.value]
        self.assertEqual([("Condition", "HasInstanceSources"), ("Equals", [("Ref", "InstanceEvents"), "true"])],
                         anded("HasInstanceEvents"))
        self.assertEqual([("Condition", "MakeEndpoints"), ("Condition", "HasInstanceSources")],
                         anded("MakeInstanceSourceEndpoints"))
        self.assertEqual([("Condition", "MakeEndpoints"), ("Condition", "HasInstanceEvents")],
                         anded("MakeInstanceEventsEndpoint"))
        expected = {"InstanceSourcesPolicy": "HasInstanceSources",
                    "Ec2Endpoint": "MakeInstanceSourceEndpoints", "AutoScalingEndpoint": "MakeInstanceSourceEndpoints",
                    "SqsEndpoint": "MakeInstanceEventsEndpoint", "InstanceEventsPolicy": "HasInstanceEvents",
                    "InstanceEventsQueue": "HasInstanceEvents", "InstanceEventsDeadLetterQueue": "HasInstanceEvents",
                    "InstanceEventsQueuePolicy": "HasInstanceEvents"}
        expected.update({name: "HasInstanceEvents" for name in self.rules})
        got = {n: r.get("Condition") for n, r in self.resources.items()
               if r.get("Condition") in INSTANCE_SOURCE_CONDITIONS or n in expected}
        self.assertEqual(expected, got)
        # Nothing unconditional refers to a conditional resource except through !If.
        conditional = set(expected)
        for name, resource in self.resources.items():
            if name in conditional:
                continue
            refs = []

            def visit(node, inside_if=False):
                if isinstance(node, Tag):
                    if node.name == "If":
                        return
                    if node.name == "Ref":
                        refs.append(node.value)
                    elif node.name == "GetAtt":
                        refs.append(node.value.split(".")[0] if isinstance(node.value, str) else node.value[0])
                    visit(node.value)
                elif isinstance(node, dict):
                    for v in node.values():
                        visit(v)
                elif isinstance(node, list):
                    for v in node:
                        visit(v)
            visit(resource)
            self.assertEqual(set(), set(refs) & conditional, f"{name} refers to a conditional resource")
        for name, output in self.t["Outputs"].items():
            if name.startswith("InstanceEvents"):
                self.assertEqual("HasInstanceEvents", output.get("Condition"), name)

    def test_queue_has_a_dead_letter_queue_sse_and_short_retention(self):
        queue = self.resources["InstanceEventsQueue"]["Properties"]
        dlq = self.resources["InstanceEventsDeadLetterQueue"]["Properties"]
        self.assertTrue(queue["SqsManagedSseEnabled"])
        self.assertTrue(dlq["SqsManagedSseEnabled"])
        # Older than a few poll intervals an event is worthless (polling has caught up).
        self.assertLessEqual(queue["MessageRetentionPeriod"], 3600)
        self.assertGreaterEqual(queue["MessageRetentionPeriod"], 300)
        self.assertEqual(1209600, dlq["MessageRetentionPeriod"], "14 days to inspect what failed")
        redrive = queue["RedrivePolicy"]
        self.assertEqual(("GetAtt", "InstanceEventsDeadLetterQueue.Arn"),
                         (redrive["deadLetterTargetArn"].name, redrive["deadLetterTargetArn"].value))
        self.assertTrue(3 <= redrive["maxReceiveCount"] <= 10)
        self.assertEqual(20, queue["ReceiveMessageWaitTimeSeconds"], "long polling")

    def test_queue_policy_lets_only_the_rules_send(self):
        policy = self.resources["InstanceEventsQueuePolicy"]["Properties"]
        self.assertEqual([("Ref", "InstanceEventsQueue")], [(q.name, q.value) for q in policy["Queues"]])
        statements = policy["PolicyDocument"]["Statement"]
        self.assertEqual(1, len(statements))
        st = statements[0]
        self.assertEqual("Allow", st["Effect"])
        self.assertEqual({"Service": "events.amazonaws.com"}, st["Principal"])
        self.assertEqual("sqs:SendMessage", st["Action"])
        self.assertEqual(("GetAtt", "InstanceEventsQueue.Arn"), (st["Resource"].name, st["Resource"].value))
        arns = st["Condition"]["ArnEquals"]["aws:SourceArn"]
        self.assertEqual({f"{name}.Arn" for name in self.rules}, {a.value for a in arns})
        self.assertEqual({"GetAtt"}, {a.name for a in arns})
        self.assertEqual(["ArnEquals"], list(st["Condition"]))

    def test_rules_target_the_queue(self):
        self.assertTrue(self.rules)
        for name, rule in self.rules.items():
            with self.subTest(rule=name):
                props = rule["Properties"]
                self.assertEqual("ENABLED", props["State"])
                self.assertEqual(1, len(props["Targets"]))
                target = props["Targets"][0]
                self.assertEqual(("GetAtt", "InstanceEventsQueue.Arn"), (target["Arn"].name, target["Arn"].value))
                self.assertTrue(target["Id"])
                self.assertNotIn("EventBusName", props, "EC2 and Auto Scaling events are on the default bus")

    def patterns(self):
        return {name: rule["Properties"]["EventPattern"] for name, rule in self.rules.items()}

    def routed(self, event):
        return [name for name, pattern in self.patterns().items() if pattern_matches(pattern, event)]

    def test_rules_route_every_event_the_emulator_emits(self):
        samples = emulator_sample_events()
        self.assertEqual(set(emulator_events.DETAIL_TYPES) | {"EC2 Instance Launch Unsuccessful",
                                                              "EC2 Instance Terminate Unsuccessful"},
                         {e["detail-type"] for e in samples}, "a sample of every type the emulator emits")
        for event in samples:
            with self.subTest(event=(event["detail-type"], event["detail"].get("state"))):
                self.assertEqual(1, len(self.routed(event)), "exactly one rule, so the queue gets it once")

    def test_rules_route_exactly_what_the_controller_acts_on(self):
        accepted = controller_event_types()
        self.assertEqual(9, len(accepted), accepted)
        routed = set()
        for pattern in self.patterns().values():
            # Which (source, detail-type) pairs can this pattern route? Its lists are exact values.
            for source in pattern["source"]:
                for detail_type in pattern["detail-type"]:
                    self.assertIsInstance(source, str)
                    self.assertIsInstance(detail_type, str)
                    routed.add((source, detail_type))
        self.assertEqual(accepted, routed)
        # And events the controller ignores reach no rule (they would only be counted as foreign).
        base = emulator_sample_events()[1]
        for source, detail_type in (("aws.ec2", "EBS Volume Notification"),
                                    ("aws.ec2", "EC2 Instance Launch Successful"),
                                    ("aws.autoscaling", "EC2 Instance State-change Notification"),
                                    ("aws.health", "AWS Health Event"), ("my.app", "EC2 Spot Instance Interruption Warning")):
            with self.subTest(source=source, detail_type=detail_type):
                self.assertEqual([], self.routed(dict(base, source=source, **{"detail-type": detail_type})))

    def statement(self, resource, sid):
        for st in self.resources[resource]["Properties"]["PolicyDocument"]["Statement"]:
            if st["Sid"] == sid:
                return st
        raise AssertionError(f"{resource} has no statement {sid}")

    def test_task_role_statements_match_iam_policy(self):
        """The actions are those `endpoint-binder iam-policy` grants (controller/main/cmd_iam_policy.cc)
        for ec2, spotFleet and autoScalingGroup sources and an events queue."""
        with open(IAM_POLICY_CC) as f:
            text = f.read()
        m = re.search(r"void addSourceActions\(.*?\n\}", text, re.S)
        self.assertIsNotNone(m)
        source_actions = set(re.findall(r'actions\.insert\("([a-z0-9]+:[A-Za-z]+)"\)', m.group(0)))
        self.assertIn("ec2:DescribeInstances", source_actions)
        m = re.search(r'\{"ReadInstanceEvents",\s*\{([^}]*)\}', text)
        self.assertIsNotNone(m, "the ReadInstanceEvents statement of iam-policy")
        queue_actions = set(re.findall(r'"([a-z0-9]+:[A-Za-z]+)"', m.group(1)))
        self.assertEqual({"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}, queue_actions)

        describe = self.statement("InstanceSourcesPolicy", "DescribeInstanceSources")
        self.assertEqual(source_actions, set(describe["Action"]))
        self.assertEqual("*", describe["Resource"], "no resource-level permissions exist for these")
        read = self.statement("InstanceEventsPolicy", "ReadInstanceEvents")
        self.assertEqual(queue_actions, set(read["Action"]))
        self.assertEqual(("GetAtt", "InstanceEventsQueue.Arn"), (read["Resource"].name, read["Resource"].value))
        session = botocore.session.get_session()
        for resource in ("InstanceSourcesPolicy", "InstanceEventsPolicy"):
            props = self.resources[resource]["Properties"]
            self.assertEqual([("Ref", "TaskRole")], [(r.name, r.value) for r in props["Roles"]])
            for st in props["PolicyDocument"]["Statement"]:
                self.assertEqual("Allow", st["Effect"])
                for action in st["Action"]:
                    prefix, op = action.split(":")
                    self.assertIn(op, session.get_service_model(IAM_SERVICES[prefix]).operation_names, action)
                    self.assertTrue(op.startswith("Describe") or st["Resource"] != "*", action)

    def test_task_gets_the_queue_url_only_with_events(self):
        env = {e["Name"]: e["Value"] for e in
               self.resources["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]["Environment"]}
        value = env["ENDPOINT_BINDER_EVENTS_QUEUE_URL"]
        self.assertEqual("If", value.name)
        condition, enabled, disabled = value.value
        self.assertEqual("HasInstanceEvents", condition)
        self.assertEqual(("Ref", "InstanceEventsQueue"), (enabled.name, enabled.value), "!Ref of a queue is its URL")
        self.assertEqual("", disabled, "empty: no queue, polling only")


if __name__ == "__main__":
    unittest.main(verbosity=2)
