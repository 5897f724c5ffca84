#!/usr/bin/python3
"""Conformance of the emulator's Route 53 (REST-XML, 2013-04-01), driven by boto3 so every
answer and error is parsed by botocore as for real AWS: hosted zones (public, private with VPC
associations, CallerReference reuse, deletion rules), ListResourceRecordSets order and paging
(boto3's paginator over more than 300 sets), ChangeResourceRecordSets with each
InvalidChangeBatch case and all-or-nothing application, GetChange PENDING -> INSYNC, the
account-wide 5 requests/s throttle (and boto3 retrying it), fault rules (PriorRequestNotComplete),
SigV4 on the global endpoint, the request log and the control API.
Run: /usr/bin/python3 tests/emulator/route53_conformance_test.py
"""

import os
import sys
import time
import unittest
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import botocore.exceptions  # noqa: E402

from awsemu.harness import EmulatorProcess  # noqa: E402

NAMESPACE = "https://route53.amazonaws.com/doc/2013-04-01/"
VPC = {"VPCRegion": "eu-west-1", "VPCId": "vpc-0123456789abcdef0"}
OTHER_VPC = {"VPCRegion": "eu-west-1", "VPCId": "vpc-0fedcba9876543210"}


def setUpModule():
    global EMULATOR
    # Throttling is turned on only where it is tested: Route 53's bucket holds 5 calls.
    EMULATOR = EmulatorProcess("--no-throttle").start()


def tearDownModule():
    EMULATOR.stop()


def a_set(name, values, ttl=60, type_="A", **extra):
    record = {"Name": name, "Type": type_, "TTL": ttl,
              "ResourceRecords": [{"Value": v} for v in values]}
    record.update(extra)
    return record


def change(action, record):
    return {"Action": action, "ResourceRecordSet": record}


class Route53TestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = EMULATOR
        cls.r53 = cls.emu.client("route53")
        cls.bodies = []  # raw bodies of ChangeResourceRecordSets answers, newest last
        cls.r53.meta.events.register(
            "response-received.route-53.ChangeResourceRecordSets",
            lambda response_dict=None, **_: response_dict is not None and
            cls.bodies.append(response_dict["body"]))

    def setUp(self):
        self.emu.reset()
        self.emu.post("/_emulator/settings", {"route53PropagationSeconds": 0})
        self.zone = self.emu.post("/_emulator/route53/zones", {
            "name": "corp.example", "id": "ZPRIVATE1",
            "vpcs": [{"region": VPC["VPCRegion"], "vpcId": VPC["VPCId"]}]})["id"]

    def code(self, ctx):
        return ctx.exception.response["Error"]["Code"]

    def status(self, ctx):
        return ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"]

    def change(self, *changes, zone=None):
        return self.r53.change_resource_record_sets(
            HostedZoneId=zone or self.zone, ChangeBatch={"Changes": list(changes)})

    def sets(self, zone=None):
        pages = self.r53.get_paginator("list_resource_record_sets").paginate(
            HostedZoneId=zone or self.zone)
        return [s for page in pages for s in page["ResourceRecordSets"]]

    def refused(self, *changes):
        """The messages of an InvalidChangeBatch, read from the wire: AWS's
        <InvalidChangeBatch><Messages><Message>... form, which botocore 1.29 parses only
        partly (an empty Error; `Messages` is lost when there are several)."""
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.change(*changes)
        self.assertEqual(self.status(ctx), 400)
        root = ElementTree.fromstring(self.bodies[-1])
        self.assertEqual(root.tag, f"{{{NAMESPACE}}}InvalidChangeBatch")
        self.assertEqual(root.find(f"{{{NAMESPACE}}}RequestId").text,
                         ctx.exception.response["ResponseMetadata"]["RequestId"])
        return [m.text for m in root.iter(f"{{{NAMESPACE}}}Message")]


class HostedZoneTest(Route53TestCase):
    def test_private_zone_with_vpc(self):
        created = self.r53.create_hosted_zone(
            Name="Internal.Example", CallerReference="ref-1", VPC=VPC,
            HostedZoneConfig={"Comment": "binder", "PrivateZone": True})
        self.assertEqual(created["ResponseMetadata"]["HTTPStatusCode"], 201)
        zone = created["HostedZone"]
        self.assertRegex(zone["Id"], r"^/hostedzone/Z[0-9A-Z]+$")
        self.assertEqual(zone["Name"], "internal.example.")
        self.assertEqual(zone["Config"], {"Comment": "binder", "PrivateZone": True})
        self.assertEqual(zone["ResourceRecordSetCount"], 2)
        self.assertEqual(created["VPC"], VPC)
        self.assertNotIn("DelegationSet", created)
        self.assertTrue(created["Location"].endswith(zone["Id"]))
        self.assertEqual(created["ChangeInfo"]["Status"], "INSYNC")
        got = self.r53.get_hosted_zone(Id=zone["Id"])
        self.assertEqual(got["HostedZone"], zone)
        self.assertEqual(got["VPCs"], [VPC])
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.r53.create_hosted_zone(Name="other.example", CallerReference="ref-1")
        self.assertEqual((self.code(ctx), self.status(ctx)), ("HostedZoneAlreadyExists", 409))

    def test_public_zone_has_delegation_set_and_apex_sets(self):
        created = self.r53.create_hosted_zone(Name="example.com", CallerReference="pub")
        self.assertFalse(created["HostedZone"]["Config"]["PrivateZone"])
        name_servers = created["DelegationSet"]["NameServers"]
        self.assertEqual(len(name_servers), 4)
        got = self.r53.get_hosted_zone(Id=created["HostedZone"]["Id"])
        self.assertNotIn("VPCs", got)
        sets = self.sets(created["HostedZone"]["Id"])
        self.assertEqual([(s["Name"], s["Type"]) for s in sets],
                         [("example.com.", "NS"), ("example.com.", "SOA")])
        self.assertEqual([r["Value"] for r in sets[0]["ResourceRecords"]], name_servers)
        self.assertEqual(sets[0]["TTL"], 172800)
        self.assertRegex(sets[1]["ResourceRecords"][0]["Value"],
                         r"^ns-\S+ awsdns-hostmaster\.amazon\.com\. 1 7200 900 1209600 86400$")

    def test_vpc_associations(self):
        self.r53.associate_vpc_with_hosted_zone(HostedZoneId=self.zone, VPC=OTHER_VPC)
        self.assertEqual(self.r53.get_hosted_zone(Id=self.zone)["VPCs"], [VPC, OTHER_VPC])
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.r53.associate_vpc_with_hosted_zone(HostedZoneId=self.zone, VPC=OTHER_VPC)
        self.assertEqual(self.code(ctx), "ConflictingDomainExists")
        self.r53.disassociate_vpc_from_hosted_zone(HostedZoneId=self.zone, VPC=OTHER_VPC)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.r53.disassociate_vpc_from_hosted_zone(HostedZoneId=self.zone, VPC=OTHER_VPC)
        self.assertEqual((self.code(ctx), self.status(ctx)), ("VPCAssociationNotFound", 404))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.r53.disassociate_vpc_from_hosted_zone(HostedZoneId=self.zone, VPC=VPC)
        self.assertEqual(self.code(ctx), "LastVPCAssociation")
        public = self.emu.post("/_emulator/route53/zones", {"name": "pub.example",
                                                            "private": False})["id"]
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.r53.associate_vpc_with_hosted_zone(HostedZoneId=public, VPC=VPC)
        self.assertEqual(self.code(ctx), "PublicZoneVPCAssociation")

    def test_list_and_delete_zones(self):
        for index in range(3):
            self.r53.create_hosted_zone(Name=f"z{index}.example", CallerReference=f"z{index}")
        pages = list(self.r53.get_paginator("list_hosted_zones").paginate(
            PaginationConfig={"PageSize": 2}))
        self.assertEqual([len(p["HostedZones"]) for p in pages], [2, 2])
        names = [z["Name"] for p in pages for z in p["HostedZones"]]
        self.assertEqual(names, ["corp.example.", "z0.example.", "z1.example.", "z2.example."])
        self.change(change("CREATE", a_set("web.corp.example", ["10.0.0.1"])))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.r53.delete_hosted_zone(Id=self.zone)
        self.assertEqual(self.code(ctx), "HostedZoneNotEmpty")
        self.change(change("DELETE", a_set("web.corp.example", ["10.0.0.1"])))
        self.assertIn("ChangeInfo", self.r53.delete_hosted_zone(Id=self.zone))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.r53.get_hosted_zone(Id=self.zone)
        self.assertEqual((self.code(ctx), self.status(ctx)), ("NoSuchHostedZone", 404))
        self.assertEqual(ctx.exception.response["Error"]["Message"],
                         "No hosted zone found with ID: ZPRIVATE1")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.r53.list_resource_record_sets(HostedZoneId=self.zone)
        self.assertEqual(self.code(ctx), "NoSuchHostedZone")


class RecordSetTest(Route53TestCase):
    def test_names_are_normalized_and_sorted_as_route53_lists(self):
        self.change(
            change("CREATE", a_set("WWW.corp.example", ["10.0.0.1"])),
            change("CREATE", a_set("*.Corp.Example.", ["10.0.0.2"])),
            change("CREATE", a_set("a-b.corp.example", ["10.0.0.3"])),
            change("CREATE", a_set("a.corp.example", ["10.0.0.4"])),
            change("CREATE", a_set("a.corp.example", ["2001:db8::1"], type_="AAAA")),
            change("CREATE", a_set("b.a.corp.example", ['"v=1" "two"'], type_="TXT")),
            change("UPSERT", a_set("corp.example", ["10.0.0.9"])))
        listed = [(s["Name"], s["Type"]) for s in self.sets()]
        self.assertEqual(listed, [
            ("corp.example.", "A"), ("corp.example.", "NS"), ("corp.example.", "SOA"),
            ("\\052.corp.example.", "A"),
            # labels reversed: "example.corp.a-b." sorts before "example.corp.a."
            ("a-b.corp.example.", "A"),
            ("a.corp.example.", "A"), ("a.corp.example.", "AAAA"),
            ("b.a.corp.example.", "TXT"),
            ("www.corp.example.", "A")])
        txt = [s for s in self.sets() if s["Type"] == "TXT"][0]
        self.assertEqual(txt["ResourceRecords"], [{"Value": '"v=1" "two"'}])

    def test_paging_over_more_than_300_sets(self):
        self.emu.post("/_emulator/route53/record-sets", {"zoneId": self.zone, "recordSets": [
            {"name": f"host-{i:04d}.corp.example", "type": "A", "ttl": 60,
             "values": [f"10.0.{i // 250}.{i % 250 + 1}"]} for i in range(650)]})
        pages = list(self.r53.get_paginator("list_resource_record_sets").paginate(
            HostedZoneId=self.zone))
        self.assertEqual([len(p["ResourceRecordSets"]) for p in pages], [300, 300, 52])
        self.assertTrue(pages[0]["IsTruncated"])
        self.assertEqual(pages[0]["MaxItems"], "300")
        self.assertFalse(pages[-1]["IsTruncated"])
        listed = [s["Name"] for p in pages for s in p["ResourceRecordSets"]]
        self.assertEqual(len(set(listed)), 651)  # 650 hosts + the apex (NS, SOA)
        control = [s["name"] for s in self.emu.get(
            f"/_emulator/route53/record-sets?zoneId={self.zone}")["recordSets"]]
        self.assertEqual(listed, control)
        # Continuation by hand: NextRecordName/Type start the next page exactly there.
        first = self.r53.list_resource_record_sets(HostedZoneId=self.zone, MaxItems="10")
        self.assertEqual(first["NextRecordName"], "host-0008.corp.example.")
        self.assertEqual(first["NextRecordType"], "A")
        following = self.r53.list_resource_record_sets(
            HostedZoneId=self.zone, StartRecordName=first["NextRecordName"],
            StartRecordType=first["NextRecordType"], MaxItems="2")
        self.assertEqual([s["Name"] for s in following["ResourceRecordSets"]],
                         ["host-0008.corp.example.", "host-0009.corp.example."])
        capped = self.r53.list_resource_record_sets(HostedZoneId=self.zone, MaxItems="1000")
        self.assertEqual(len(capped["ResourceRecordSets"]), 300)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.r53.list_resource_record_sets(HostedZoneId=self.zone, StartRecordType="A")
        self.assertEqual(self.code(ctx), "InvalidInput")

    def test_alias_and_weighted_sets_are_listed(self):
        alias = {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": "LB-1.eu-west-1.elb.amazonaws.com",
                 "EvaluateTargetHealth": False}
        self.change(
            change("CREATE", {"Name": "lb.corp.example", "Type": "A", "AliasTarget": alias}),
            change("CREATE", a_set("w.corp.example", ["10.0.0.1"], SetIdentifier="one",
                                   Weight=10)),
            change("CREATE", a_set("w.corp.example", ["10.0.0.2"], SetIdentifier="two",
                                   Weight=20)))
        sets = {(s["Name"], s.get("SetIdentifier")): s for s in self.sets()}
        listed_alias = sets[("lb.corp.example.", None)]
        self.assertEqual(listed_alias["AliasTarget"]["DNSName"],
                         "lb-1.eu-west-1.elb.amazonaws.com.")
        self.assertNotIn("TTL", listed_alias)
        self.assertNotIn("ResourceRecords", listed_alias)
        self.assertEqual(sets[("w.corp.example.", "two")]["Weight"], 20)
        page = self.r53.list_resource_record_sets(
            HostedZoneId=self.zone, StartRecordName="w.corp.example", StartRecordType="A",
            StartRecordIdentifier="two")
        self.assertEqual([s["SetIdentifier"] for s in page["ResourceRecordSets"]], ["two"])
        first = self.r53.list_resource_record_sets(
            HostedZoneId=self.zone, StartRecordName="w.corp.example", MaxItems="1")
        self.assertEqual(first["NextRecordIdentifier"], "two")
        messages = self.refused(change("CREATE", a_set("w.corp.example", ["10.0.0.3"])))
        self.assertEqual(messages, ["RRSet with DNS name w.corp.example., type A cannot be "
                                    "created as other RRSets exist with the same name and "
                                    "type."])
        messages = self.refused(change("DELETE", a_set("w.corp.example", ["10.0.0.2"],
                                                       SetIdentifier="two", Weight=30)))
        self.assertIn("do not match the current values", messages[0])
        self.change(change("DELETE", a_set("w.corp.example", ["10.0.0.2"],
                                           SetIdentifier="two", Weight=20)))


class InvalidChangeBatchTest(Route53TestCase):
    def setUp(self):
        super().setUp()
        self.change(change("CREATE", a_set("a.corp.example", ["10.0.0.1", "10.0.0.2"])),
                    change("CREATE", a_set("c.corp.example", ["a.corp.example"],
                                           type_="CNAME")))

    def test_create_of_an_existing_set(self):
        self.assertEqual(self.refused(change("CREATE", a_set("a.corp.example", ["10.0.0.9"]))),
                         ["Tried to create resource record set [name='a.corp.example.', "
                          "type='A'] but it already exists"])

    def test_delete_of_a_missing_set(self):
        self.assertEqual(self.refused(change("DELETE", a_set("b.corp.example", ["10.0.0.1"]))),
                         ["Tried to delete resource record set [name='b.corp.example.', "
                          "type='A'] but it was not found"])

    def test_delete_with_other_values_or_ttl(self):
        wanted = ["Tried to delete resource record set [name='a.corp.example.', type='A'] "
                  "but the values provided do not match the current values"]
        self.assertEqual(self.refused(change("DELETE", a_set("a.corp.example",
                                                             ["10.0.0.1"]))), wanted)
        self.assertEqual(self.refused(change("DELETE", a_set("a.corp.example",
                                                             ["10.0.0.1", "10.0.0.2"],
                                                             ttl=300))), wanted)
        # The exact current set (values in any order) deletes it.
        self.change(change("DELETE", a_set("a.corp.example", ["10.0.0.2", "10.0.0.1"])))

    def test_name_outside_the_zone(self):
        self.assertEqual(self.refused(change("CREATE", a_set("x.other.example", ["10.0.0.1"]))),
                         ["RRSet with DNS name x.other.example. is not permitted in zone "
                          "corp.example."])

    def test_cname_next_to_other_types(self):
        self.assertEqual(
            self.refused(change("CREATE", a_set("c.corp.example", ["10.0.0.1"]))),
            ["RRSet of type A with DNS name c.corp.example. is not permitted because a "
             "conflicting RRSet of type CNAME with the same DNS name already exists in zone "
             "corp.example."])
        self.assertEqual(
            self.refused(change("CREATE", a_set("a.corp.example", ["x.corp.example"],
                                                type_="CNAME"))),
            ["RRSet of type CNAME with DNS name a.corp.example. is not permitted as it "
             "conflicts with other records with the same DNS name in zone corp.example."])

    def test_apex_soa_and_ns_cannot_be_deleted(self):
        apex = {s["Type"]: s for s in self.sets() if s["Name"] == "corp.example."}
        self.assertEqual(self.refused(change("DELETE", apex["SOA"])),
                         ["A HostedZone must contain exactly one SOA record."])
        self.assertEqual(self.refused(change("DELETE", apex["NS"])),
                         ["A HostedZone must contain at least one NS record for the zone "
                          "itself."])

    def test_repeated_changes_to_one_set(self):
        self.assertEqual(
            self.refused(change("UPSERT", a_set("b.corp.example", ["10.0.0.1"])),
                         change("UPSERT", a_set("b.corp.example", ["10.0.0.2"]))),
            ["The request contains an invalid set of changes for a resource record set "
             "'A b.corp.example.'"])
        # DELETE then CREATE of one set is AWS's replace pattern and is allowed.
        self.change(change("DELETE", a_set("a.corp.example", ["10.0.0.1", "10.0.0.2"])),
                    change("CREATE", a_set("a.corp.example", ["10.0.0.3"])))
        current = [s for s in self.sets() if s["Name"] == "a.corp.example."][0]
        self.assertEqual(current["ResourceRecords"], [{"Value": "10.0.0.3"}])

    def test_record_and_character_limits_count_upsert_twice(self):
        values = [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(1000)]
        creates = [change("CREATE", a_set(f"n{i}.corp.example", values[i * 100:(i + 1) * 100]))
                   for i in range(10)]
        self.change(*creates)  # exactly 1,000 ResourceRecord elements
        upserts = [change("UPSERT", a_set(f"u{i}.corp.example", values[i * 100:(i + 1) * 100]))
                   for i in range(5)]
        self.change(*upserts)  # 500 values counted twice: 1,000
        upserts.append(change("UPSERT", a_set("u9.corp.example", ["10.2.0.1"])))
        self.assertEqual(self.refused(*upserts), ["Number of records limit of 1000 exceeded."])
        long_value = '"' + "x" * 250 + '"'
        texts = [change("CREATE", a_set(f"t{i}.corp.example", [long_value] * 10, type_="TXT"))
                 for i in range(13)]  # 130 values of 252 characters: 32,760
        self.assertEqual(self.refused(*texts),
                         ["Number of characters limit of 32000 exceeded."])
        self.assertFalse(any(s["Name"].startswith("t") for s in self.sets()))

    def test_all_or_nothing_with_every_message(self):
        messages = self.refused(
            change("CREATE", a_set("new.corp.example", ["10.0.0.5"])),
            change("DELETE", a_set("gone.corp.example", ["10.0.0.1"])),
            change("CREATE", a_set("a.corp.example", ["10.0.0.1"])))
        self.assertEqual(messages, [
            "Tried to delete resource record set [name='gone.corp.example.', type='A'] but it "
            "was not found",
            "Tried to create resource record set [name='a.corp.example.', type='A'] but it "
            "already exists"])
        self.assertNotIn("new.corp.example.", [s["Name"] for s in self.sets()])

    def test_error_response_format_setting(self):
        self.emu.post("/_emulator/settings", {"route53ChangeBatchErrorFormat": "errorResponse"})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.change(change("DELETE", a_set("gone.corp.example", ["10.0.0.1"])))
        self.assertEqual(self.code(ctx), "InvalidChangeBatch")
        self.assertEqual(ctx.exception.response["Error"]["Message"],
                         "Tried to delete resource record set [name='gone.corp.example.', "
                         "type='A'] but it was not found")

    def test_invalid_input(self):
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.change(change("CREATE", {"Name": "x.corp.example", "Type": "A",
                                          "ResourceRecords": [{"Value": "10.0.0.1"}]}))
        self.assertEqual(self.code(ctx), "InvalidInput")
        self.assertIn("Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords]",
                      ctx.exception.response["Error"]["Message"])
        bad = self.emu.client("route53", validate=False)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            bad.change_resource_record_sets(HostedZoneId=self.zone, ChangeBatch={"Changes": [
                change("MOVE", a_set("x.corp.example", ["10.0.0.1"]))]})
        self.assertEqual(self.code(ctx), "InvalidInput")
        self.assertIn("'changeBatch.changes.1.member.action' failed to satisfy constraint",
                      ctx.exception.response["Error"]["Message"])
        messages = self.refused(change("CREATE", a_set("x.corp.example", ["10.0.0.300"])))
        self.assertIn("ARRDATAIllegalIPv4Address", messages[0])


class ChangeAndQuotaTest(Route53TestCase):
    def test_get_change_pending_then_insync(self):
        self.emu.post("/_emulator/settings", {"route53PropagationSeconds": 1.0})
        info = self.change(change("CREATE", a_set("p.corp.example", ["10.0.0.1"])))["ChangeInfo"]
        self.assertEqual(info["Status"], "PENDING")
        self.assertRegex(info["Id"], r"^/change/C[0-9A-Z]+$")
        self.assertEqual(self.r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"], "PENDING")
        deadline = time.monotonic() + 10
        status = "PENDING"
        while status == "PENDING" and time.monotonic() < deadline:
            time.sleep(0.1)
            status = self.r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"]
        self.assertEqual(status, "INSYNC")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.r53.get_change(Id="C0NOSUCHCHANGE")
        self.assertEqual((self.code(ctx), self.status(ctx)), ("NoSuchChange", 404))

    def test_throttling_is_5_per_second_per_account_and_retried(self):
        self.emu.post("/_emulator/settings", {"throttle": True})
        self.assertEqual(self.emu.get("/_emulator/quotas")["quotas"]["route53:*"],
                         {"rate": 5.0, "burst": 5.0})
        codes = []
        for index in range(10):  # different actions share one bucket of 5
            try:
                if index % 2:
                    self.r53.get_hosted_zone(Id=self.zone)
                else:
                    self.r53.list_resource_record_sets(HostedZoneId=self.zone)
                codes.append("ok")
            except botocore.exceptions.ClientError as error:
                codes.append(error.response["Error"]["Code"])
                self.assertEqual(error.response["Error"]["Message"], "Rate exceeded")
                self.assertEqual(error.response["Error"]["Type"], "Sender")
                self.assertEqual(error.response["ResponseMetadata"]["HTTPStatusCode"], 400)
                break
        # 5 from the burst (more only if the machine stalled long enough to refill), then one
        # Throttling: 10 calls cannot all pass unless they took a second.
        self.assertGreaterEqual(codes.count("ok"), 5)
        self.assertEqual(codes[-1], "Throttling")
        # A bucket of one token, refilled in 0.2 s: the retrying client's first try is
        # throttled and a retry passes.
        self.emu.post("/_emulator/quotas", {"route53:*": {"rate": 5, "burst": 1}})
        self.r53.get_hosted_zone(Id=self.zone)
        retrying = self.emu.client("route53", attempts=10)
        result = retrying.get_hosted_zone(Id=self.zone)
        self.assertGreater(result["ResponseMetadata"]["RetryAttempts"], 0)
        counts = self.emu.get("/_emulator/requests")["counts"]
        self.assertGreaterEqual(counts["GetHostedZone"]["throttled"], 2)

    def test_fault_rule_prior_request_not_complete(self):
        self.emu.post("/_emulator/faults", {"service": "route53",
                                            "action": "ChangeResourceRecordSets",
                                            "errorRate": 1, "errorStatus": 400,
                                            "remaining": 1})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.change(change("CREATE", a_set("f.corp.example", ["10.0.0.1"])))
        self.assertEqual((self.code(ctx), self.status(ctx)), ("PriorRequestNotComplete", 400))
        self.assertNotIn("f.corp.example.", [s["Name"] for s in self.sets()])
        self.emu.post("/_emulator/faults", {"service": "route53",
                                            "action": "ChangeResourceRecordSets",
                                            "errorRate": 1, "errorStatus": 400,
                                            "remaining": 2})
        retrying = self.emu.client("route53", attempts=5)
        result = retrying.change_resource_record_sets(HostedZoneId=self.zone, ChangeBatch={
            "Changes": [change("CREATE", a_set("f.corp.example", ["10.0.0.1"]))]})
        self.assertEqual(result["ResponseMetadata"]["RetryAttempts"], 2)
        self.emu.post("/_emulator/faults", {"service": "route53",
                                            "action": "ListResourceRecordSets",
                                            "errorRate": 1, "errorStatus": 503,
                                            "remaining": 1})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.r53.list_resource_record_sets(HostedZoneId=self.zone)
        self.assertEqual(self.status(ctx), 503)
        log = self.emu.get("/_emulator/requests?action=ChangeResourceRecordSets")
        self.assertEqual(log["counts"]["ChangeResourceRecordSets"],
                         {"total": 4, "ok": 1, "throttled": 0, "error": 3})
        entry = log["requests"][-1]
        self.assertEqual(entry["service"], "route53")
        self.assertEqual(entry["params"]["ChangeBatch.Changes.1.ResourceRecordSet.Name"],
                         "f.corp.example")

    def test_sigv4_on_the_global_endpoint(self):
        wrong_secret = self.emu.client("route53", secret_key="not-the-secret")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            wrong_secret.get_hosted_zone(Id=self.zone)
        self.assertEqual((self.code(ctx), self.status(ctx)), ("SignatureDoesNotMatch", 403))
        wrong_region = self.emu.client("route53", region="eu-west-1")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            wrong_region.get_hosted_zone(Id=self.zone)
        self.assertEqual(self.code(ctx), "SignatureDoesNotMatch")
        self.assertIn("scoped to a valid region", ctx.exception.response["Error"]["Message"])
        request = urllib.request.Request(
            f"{self.emu.url}/2013-04-01/hostedzone/{self.zone}",
            headers={"Host": "route53.amazonaws.com"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            opener.open(request, timeout=10)
        self.assertEqual(ctx.exception.code, 403)
        body = ctx.exception.read().decode()
        self.assertIn("<Code>MissingAuthenticationToken</Code>", body)
        self.assertIn('xmlns="https://route53.amazonaws.com/doc/2013-04-01/"', body)


class ControlApiTest(Route53TestCase):
    def test_foreign_records_and_zone_views(self):
        self.emu.post("/_emulator/route53/record-sets", {"zoneId": self.zone, "recordSets": [
            {"name": "db.corp.example", "type": "A", "ttl": 300, "values": ["10.0.9.9"]},
            {"name": "db.corp.example", "type": "TXT", "ttl": 300, "values": ['"owner=dba"']},
            {"name": "w.corp.example", "type": "A", "ttl": 60, "values": ["10.0.0.1"],
             "setIdentifier": "blue", "weight": 1}]})
        listed = {(s["Name"], s["Type"]): s for s in self.sets()}
        self.assertEqual(listed[("db.corp.example.", "A")]["ResourceRecords"],
                         [{"Value": "10.0.9.9"}])
        self.assertEqual(self.emu.get("/_emulator/requests")["counts"],
                         {"ListResourceRecordSets": {"total": 1, "ok": 1, "throttled": 0,
                                                     "error": 0}})
        status, error = self.emu.call("POST", "/_emulator/route53/record-sets", {
            "zoneId": self.zone, "recordSets": [{"name": "db.corp.example", "type": "CNAME",
                                                 "ttl": 60, "values": ["x.corp.example"]}]})
        self.assertEqual(status, 400)
        self.assertIn("conflicts with other records", error["error"])
        self.emu.post("/_emulator/route53/record-sets/delete", {
            "zoneId": self.zone, "recordSets": [{"name": "db.corp.example", "type": "TXT"}]})
        sets = self.emu.get(f"/_emulator/route53/record-sets?zoneId={self.zone}")["recordSets"]
        self.assertEqual([(s["name"], s["type"]) for s in sets], [
            ("corp.example.", "NS"), ("corp.example.", "SOA"), ("db.corp.example.", "A"),
            ("w.corp.example.", "A")])
        self.assertEqual([s for s in sets if s["name"] == "w.corp.example."][0]["weight"], 1)
        zones = self.emu.get("/_emulator/route53/zones")["zones"]
        self.assertEqual(zones[0]["vpcs"], [{"region": "eu-west-1",
                                             "vpcId": "vpc-0123456789abcdef0"}])
        status, _ = self.emu.call("POST", "/_emulator/route53/zones",
                                  {"name": "x.example", "id": "ZPRIVATE1"})
        self.assertEqual(status, 400)
        status, _ = self.emu.call("POST", "/_emulator/settings",
                                  {"route53ChangeBatchErrorFormat": "xml"})
        self.assertEqual(status, 400)


if __name__ == "__main__":
    unittest.main(verbosity=2)
