"""The simulated infrastructure behind the APIs: VPCs and subnets (IPv4, and IPv6 when given an
`ipv6Cidr`), EC2 instances, and the health truth of addresses (which targets are "dead").

ELBv2 consults it to validate targets and to decide health; the control API edits it; the EC2
and Auto Scaling emulations will serve it. VPCs exist in every Region, with subnets in the
Region's AZs `<region>a/b/c`. Thread-safety: none of its own; callers hold the emulator lock.
"""

import bisect
import ipaddress
import re

INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
INSTANCE_STATES = ("pending", "running", "shutting-down", "terminated", "stopping", "stopped")


def _ipv6_network(cidr):
    return ipaddress.IPv6Network(cidr) if cidr else None


class Subnet:
    def __init__(self, subnet_id, az_suffix, cidr, vpc_id, ipv6_cidr=None):
        self.id = subnet_id
        self.az_suffix = az_suffix
        self.network = ipaddress.IPv4Network(cidr)
        self.ipv6_network = _ipv6_network(ipv6_cidr)
        self.vpc_id = vpc_id

    def contains(self, address):
        network = self.network if address.version == 4 else self.ipv6_network
        return network is not None and address in network

    def az(self, region):
        return region + self.az_suffix


class Vpc:
    def __init__(self, spec):
        self.id = spec["id"]
        self.network = ipaddress.IPv4Network(spec["cidr"])
        self.ipv6_network = _ipv6_network(spec.get("ipv6Cidr"))
        self.security_group = spec.get("securityGroup", "sg-0123456789abcdef0")
        self.subnets = [Subnet(s["id"], s["az"], s["cidr"], self.id, s.get("ipv6Cidr"))
                        for s in spec.get("subnets", [])]
        for subnet in self.subnets:
            if not subnet.network.subnet_of(self.network):
                raise ValueError(f"subnet {subnet.id} is outside VPC {self.id}")
            if subnet.ipv6_network is not None and (
                    self.ipv6_network is None or
                    not subnet.ipv6_network.subnet_of(self.ipv6_network)):
                raise ValueError(f"subnet {subnet.id} IPv6 block is outside VPC {self.id}")

    def subnet_for(self, address):
        """The subnet holding an IPv4 or IPv6 address, or None."""
        for subnet in self.subnets:
            if subnet.contains(address):
                return subnet
        return None

    def contains(self, address):
        network = self.network if address.version == 4 else self.ipv6_network
        return network is not None and address in network

    def az_suffixes(self):
        return sorted({subnet.az_suffix for subnet in self.subnets})


class Instance:
    def __init__(self, spec, world):
        instance_id = spec.get("id", "")
        if not INSTANCE_ID.match(instance_id):
            raise ValueError(f"instance id must match i-[0-9a-f]{{8,17}}: {instance_id!r}")
        self.id = instance_id
        self.private_ip = spec.get("privateIp")
        if self.private_ip is not None:
            ipaddress.IPv4Address(self.private_ip)
        self.state = spec.get("state", "running")
        if self.state not in INSTANCE_STATES:
            raise ValueError(f"instance state must be one of {INSTANCE_STATES}")
        self.tags = dict(spec.get("tags") or {})
        self.vpc_id = spec.get("vpcId") or world.default_vpc().id
        if world.vpc(self.vpc_id) is None:
            raise ValueError(f"unknown VPC {self.vpc_id}")
        self.az = spec.get("az")
        self.instance_type = spec.get("instanceType", "t3.micro")

    def describe(self):
        return {"id": self.id, "privateIp": self.private_ip, "az": self.az,
                "state": self.state, "tags": self.tags, "vpcId": self.vpc_id,
                "instanceType": self.instance_type}


class World:
    # Health marks are kept this long so lagged reads can see the past.
    HISTORY_SECONDS = 120.0

    def __init__(self, vpc_specs):
        self.vpcs = {}
        for spec in vpc_specs:
            vpc = Vpc(spec)
            self.vpcs[vpc.id] = vpc
        if not self.vpcs:
            raise ValueError("at least one VPC is needed")
        self.reset()

    def reset(self):
        self.instances = {}
        # id -> sorted list of (time, dead, reason)
        self._dead_marks = {}

    def default_vpc(self):
        return next(iter(self.vpcs.values()))

    def vpc(self, vpc_id):
        return self.vpcs.get(vpc_id)

    def subnet(self, subnet_id):
        for vpc in self.vpcs.values():
            for subnet in vpc.subnets:
                if subnet.id == subnet_id:
                    return subnet
        return None

    def upsert_instances(self, specs):
        parsed = [Instance(spec, self) for spec in specs]
        for instance in parsed:
            self.instances[instance.id] = instance
        return [instance.id for instance in parsed]

    def mark_dead(self, ids, dead, reason, now):
        for target_id in ids:
            marks = self._dead_marks.setdefault(str(target_id), [])
            marks.append((now, bool(dead), reason))
            cutoff = now - self.HISTORY_SECONDS
            while len(marks) > 1 and marks[1][0] <= cutoff:
                marks.pop(0)

    def dead_state(self, target_id, when):
        """(dead, reason) for this target id as it was at `when`."""
        marks = self._dead_marks.get(target_id)
        if not marks:
            return False, None
        index = bisect.bisect_right([m[0] for m in marks], when) - 1
        if index < 0:
            return False, None
        return marks[index][1], marks[index][2]

    def dead_ids(self, now):
        return sorted(i for i in self._dead_marks if self.dead_state(i, now)[0])
