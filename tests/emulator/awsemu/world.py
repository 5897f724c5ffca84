"""The simulated infrastructure behind the APIs: VPCs and subnets (IPv4, and IPv6 when given an
`ipv6Cidr`), EC2 instances, and the health truth of addresses (which targets are "dead").

ELBv2 consults it to validate targets and to decide health; the control API edits it; the EC2
and Auto Scaling emulations serve it (compute.py drives instance lifecycles). VPCs exist in
every Region, with subnets in the Region's AZs `<region>a/b/c`; an instance belongs to one
Region and one subnet. Thread-safety: none of its own; callers hold the emulator lock.
"""

import bisect
import ipaddress
import itertools
import re
import secrets
import time

INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
INSTANCE_STATES = ("pending", "running", "shutting-down", "terminated", "stopping", "stopped")
# EC2's instance state codes (the low byte of InstanceState.Code).
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
               "stopping": 64, "stopped": 80}
AZ = re.compile(r"^([a-z]{2,4}(?:-[a-z]+)+-\d{1,2})([a-z])$")


def new_instance_id():
    return "i-" + secrets.token_hex(9)[:17]


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
    """One EC2 instance. `spec` is the control API's JSON: id, privateIp, ipv6Address, az,
    subnetId, vpcId, region, state, tags, instanceType. The subnet is the one named, else the
    one holding privateIp, else one in the named AZ, else the VPC's first; the AZ and Region
    follow from it unless given."""

    FIELDS = {"id", "privateIp", "ipv6Address", "az", "subnetId", "vpcId", "region", "state",
              "tags", "instanceType"}

    def __init__(self, spec, world, region=None):
        unknown = set(spec) - self.FIELDS
        if unknown:
            raise ValueError(f"unknown instance fields: {sorted(unknown)}")
        instance_id = spec.get("id", "")
        if not isinstance(instance_id, str) or not INSTANCE_ID.match(instance_id):
            raise ValueError(f"instance id must match i-[0-9a-f]{{8,17}}: {instance_id!r}")
        self.id = instance_id
        self.private_ip = spec.get("privateIp")
        if self.private_ip is not None:
            ipaddress.IPv4Address(self.private_ip)
        self.ipv6_address = spec.get("ipv6Address")
        if self.ipv6_address is not None:
            self.ipv6_address = str(ipaddress.IPv6Address(self.ipv6_address))
        self.state = spec.get("state", "running")
        if self.state not in INSTANCE_STATES:
            raise ValueError(f"instance state must be one of {INSTANCE_STATES}")
        tags = spec.get("tags") or {}
        if not isinstance(tags, dict):
            raise ValueError("instance 'tags' must be an object")
        self.tags = {str(k): str(v) for k, v in tags.items()}
        self.vpc_id = spec.get("vpcId") or world.default_vpc().id
        vpc = world.vpc(self.vpc_id)
        if vpc is None:
            raise ValueError(f"unknown VPC {self.vpc_id}")
        self.az = spec.get("az")
        az_match = AZ.match(self.az) if self.az else None
        if self.az is not None and az_match is None:
            raise ValueError(f"not an Availability Zone name: {self.az!r}")
        self.region = spec.get("region") or (az_match.group(1) if az_match else None) or \
            region or world.default_region
        if az_match and az_match.group(1) != self.region:
            raise ValueError(f"AZ {self.az} is not in Region {self.region}")
        self.subnet = self._subnet(spec, world, vpc, az_match)
        if self.az is None:
            self.az = self.subnet.az(self.region)
        elif az_match.group(2) != self.subnet.az_suffix:
            raise ValueError(f"subnet {self.subnet.id} is in AZ "
                             f"{self.subnet.az(self.region)}, not {self.az}")
        self.instance_type = str(spec.get("instanceType", "t3.micro"))
        # Set by compute.py: where the instance came from and when.
        self.launch_time = time.time()
        self.reservation_id = "r-" + secrets.token_hex(9)[:17]
        self.lifecycle = None  # "spot" for Spot Fleet instances
        self.spot_request_id = None
        self.fleet_id = None
        self.group_name = None  # Auto Scaling group
        self.state_reason = None  # (code, message) after a stop or termination
        self.seq = next(world.instance_seq)

    def _subnet(self, spec, world, vpc, az_match):
        if spec.get("subnetId"):
            subnet = world.subnet(spec["subnetId"])
            if subnet is None or subnet.vpc_id != vpc.id:
                raise ValueError(f"unknown subnet {spec['subnetId']} in VPC {vpc.id}")
            if self.private_ip and not subnet.contains(ipaddress.ip_address(self.private_ip)):
                raise ValueError(f"{self.private_ip} is not in subnet {subnet.id}")
            return subnet
        if self.private_ip:
            subnet = vpc.subnet_for(ipaddress.ip_address(self.private_ip))
            if subnet is not None:
                return subnet
        if az_match:
            for subnet in vpc.subnets:
                if subnet.az_suffix == az_match.group(2):
                    return subnet
            if self.private_ip:  # an address outside the VPC's subnets (legacy seeding)
                return vpc.subnets[0]
            raise ValueError(f"VPC {vpc.id} has no subnet in {self.az}")
        if not vpc.subnets:
            raise ValueError(f"VPC {vpc.id} has no subnets")
        return vpc.subnets[0]

    @property
    def subnet_id(self):
        return self.subnet.id

    def describe(self):
        return {"id": self.id, "privateIp": self.private_ip, "ipv6Address": self.ipv6_address,
                "az": self.az, "region": self.region, "subnetId": self.subnet.id,
                "state": self.state, "tags": self.tags, "vpcId": self.vpc_id,
                "instanceType": self.instance_type, "reservationId": self.reservation_id,
                "launchTime": self.launch_time, "instanceLifecycle": self.lifecycle,
                "spotInstanceRequestId": self.spot_request_id,
                "spotFleetRequestId": self.fleet_id, "autoScalingGroupName": self.group_name}


class World:
    # Health marks are kept this long so lagged reads can see the past.
    HISTORY_SECONDS = 120.0

    def __init__(self, vpc_specs, default_region="us-east-1"):
        self.default_region = default_region
        self.instance_seq = itertools.count(1)
        self.vpcs = {}
        for spec in vpc_specs:
            vpc = Vpc(spec)
            self.vpcs[vpc.id] = vpc
        if not self.vpcs:
            raise ValueError("at least one VPC is needed")
        self.reset()

    def reset(self):
        self.instances = {}
        self._cursors = {}  # (subnet id, IP version) -> next address to try
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
        """Creates or replaces instances as given: no lifecycle, no events (compute.py has
        those). A replaced instance keeps its launch time, reservation and memberships."""
        parsed = [Instance(spec, self) for spec in specs]
        ids = [instance.id for instance in parsed]
        if len(set(ids)) != len(ids):
            raise ValueError("an instance id is listed twice")
        for instance in parsed:
            old = self.instances.get(instance.id)
            if old is not None:
                for attr in ("launch_time", "reservation_id", "lifecycle", "spot_request_id",
                             "fleet_id", "group_name", "seq"):
                    setattr(instance, attr, getattr(old, attr))
            self.instances[instance.id] = instance
        return ids

    def used_addresses(self):
        used = set()
        for instance in self.instances.values():
            if instance.state != "terminated":
                if instance.private_ip:
                    used.add(instance.private_ip)
                if instance.ipv6_address:
                    used.add(instance.ipv6_address)
        return used

    def allocate_address(self, subnet, version=4, used=None):
        """A free address of the subnet, skipping AWS's reserved ones (first four, last)."""
        network = subnet.network if version == 4 else subnet.ipv6_network
        if network is None:
            raise ValueError(f"subnet {subnet.id} has no IPv{version} block")
        used = self.used_addresses() if used is None else used
        first = int(network.network_address) + 4
        last = int(network.broadcast_address) - 1
        cursor = self._cursors.get((subnet.id, version), first)
        size = last - first + 1
        for step in range(min(size, 1 << 20)):
            value = first + (cursor - first + step) % size
            address = str(ipaddress.ip_address(value))
            if address not in used:
                self._cursors[(subnet.id, version)] = value + 1
                return address
        raise ValueError(f"subnet {subnet.id} has no free addresses")

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
