"""Structural checks of deploy/cloudformation/endpoint-binder.yaml: every reference resolves,
every parameter and condition is used, IAM actions exist in the AWS service models (botocore)
and are least-privilege, and the ECS settings run two non-root, read-only replicas that elect
one writer through the DynamoDB lease table."""
import os
import re
import unittest

import botocore.session
import yaml

ROOT = os.environ.get("EB_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATE = os.path.join(ROOT, "deploy", "cloudformation", "endpoint-binder.yaml")
PSEUDO = {"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName", "AWS::StackId",
          "AWS::NoValue", "AWS::URLSuffix"}
# IAM service prefix -> botocore service model name
IAM_SERVICES = {"elasticloadbalancing": "elbv2", "sts": "sts", "logs": "logs", "ecr": "ecr",
                "dynamodb": "dynamodb", "ssm": "ssm", "kms": "kms", "sns": "sns"}
GETATT = {"AWS::IAM::Role": {"Arn", "RoleId"}, "AWS::Logs::LogGroup": {"Arn"},
          "AWS::ECS::Service": {"Name", "ServiceArn"}, "AWS::EC2::SecurityGroup": {"GroupId", "VpcId"},
          "AWS::DynamoDB::Table": {"Arn", "StreamArn"}}


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
                text = tag.value if isinstance(tag.value, str) else tag.value[0]
                out += [v.split(".")[0] for v in re.findall(r"\$\{([^}!]+)\}", text)]
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
                          "ssm", "sns", "kms"}, services)
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
        self.assertIn(".amazonaws.com", env["NO_PROXY"].split(","))


if __name__ == "__main__":
    unittest.main(verbosity=2)
