"""Filtered describes at moto_patches' cheap cost (patch 11), through the emulator.

Tag / group-id / group-name / vpc-id filtered DescribeSecurityGroups and group-id filtered
DescribeSecurityGroupRules follow CreateSecurityGroup, CreateTags, DeleteTags,
DeleteSecurityGroup and reset (test_describe_equivalence.py compares them with moto's own).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from emu_harness import CLUSTER, OWNER, cidr_perm, error_of, make_sg, tag_spec


def owned(ec2, owner: str, cluster: str = "c1") -> list[str]:
    filters = [{"Name": f"tag:{OWNER}", "Values": [owner]}, {"Name": f"tag:{CLUSTER}", "Values": [cluster]}]
    return [g["GroupId"] for g in ec2.describe_security_groups(Filters=filters)["SecurityGroups"]]


def expected(ec2, owner: str, cluster: str = "c1") -> list[str]:
    """The unfiltered describe, filtered here: the ground truth (moto's order kept)."""
    out = []
    for g in ec2.describe_security_groups()["SecurityGroups"]:
        tags = {t["Key"]: t["Value"] for t in g.get("Tags", [])}
        if tags.get(OWNER) == owner and tags.get(CLUSTER) == cluster:
            out.append(g["GroupId"])
    return out


def test_tag_filter_follows_create_tag_untag_delete(ec2, vpc_id):
    a = [make_sg(ec2, vpc_id, f"a{i}", TagSpecifications=tag_spec("ns/a")) for i in range(3)]
    b = [make_sg(ec2, vpc_id, f"b{i}", TagSpecifications=tag_spec("ns/b")) for i in range(3)]
    make_sg(ec2, vpc_id, "other-cluster", TagSpecifications=tag_spec("ns/a", "c2"))
    assert owned(ec2, "ns/a") == expected(ec2, "ns/a") == a
    assert owned(ec2, "ns/b") == b

    ec2.create_tags(Resources=[b[0]], Tags=[{"Key": OWNER, "Value": "ns/a"}])  # re-owned
    assert sorted(owned(ec2, "ns/a")) == sorted(a + [b[0]])
    assert owned(ec2, "ns/a") == expected(ec2, "ns/a")
    assert owned(ec2, "ns/b") == b[1:]

    ec2.delete_tags(Resources=[a[1]], Tags=[{"Key": CLUSTER}])  # no longer in the cluster
    assert a[1] not in owned(ec2, "ns/a")
    assert owned(ec2, "ns/a") == expected(ec2, "ns/a")

    ec2.delete_security_group(GroupId=a[0])
    assert owned(ec2, "ns/a") == expected(ec2, "ns/a")
    assert a[0] not in owned(ec2, "ns/a")

    late = make_sg(ec2, vpc_id, "late", TagSpecifications=tag_spec("ns/b"))
    ec2.create_tags(Resources=[late], Tags=[{"Key": "extra", "Value": "x"}])
    assert owned(ec2, "ns/b") == b[1:] + [late] == expected(ec2, "ns/b")
    assert owned(ec2, "ns/nobody") == []


def test_tag_filter_after_reset(emu, ec2, vpc_id):
    old = make_sg(ec2, vpc_id, "g", TagSpecifications=tag_spec("ns/a"))
    assert owned(ec2, "ns/a") == [old]
    assert emu.control("POST", "reset")[0] == 200
    assert owned(ec2, "ns/a") == []
    vpc2 = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    new = make_sg(ec2, vpc2, "g", TagSpecifications=tag_spec("ns/a"))
    assert owned(ec2, "ns/a") == [new]


def test_tag_filter_globs_and_several_values(ec2, vpc_id):
    ids = {o: make_sg(ec2, vpc_id, o.replace("/", "-"), TagSpecifications=tag_spec(o)) for o in ("ns/ab", "ns/ac", "ns/b")}

    def by_owner(*values: str) -> set[str]:
        found = ec2.describe_security_groups(Filters=[{"Name": f"tag:{OWNER}", "Values": list(values)}])
        return {g["GroupId"] for g in found["SecurityGroups"]}

    assert by_owner("ns/a*") == {ids["ns/ab"], ids["ns/ac"]}
    assert by_owner("ns/?") == {ids["ns/b"]}
    assert by_owner("ns/ab", "ns/b") == {ids["ns/ab"], ids["ns/b"]}
    assert by_owner("ns/a") == set()


def test_group_ids_name_and_vpc(ec2, vpc_id):
    vpc2 = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    one, two = make_sg(ec2, vpc_id, "same"), make_sg(ec2, vpc2, "same")
    found = ec2.describe_security_groups(GroupIds=[two, one])["SecurityGroups"]
    assert {g["GroupId"] for g in found} == {one, two}
    by_name = [{"Name": "group-name", "Values": ["same"]}]
    assert [g["GroupId"] for g in ec2.describe_security_groups(Filters=by_name)["SecurityGroups"]] == [one, two]
    in_vpc2 = by_name + [{"Name": "vpc-id", "Values": [vpc2]}]
    assert [g["GroupId"] for g in ec2.describe_security_groups(Filters=in_vpc2)["SecurityGroups"]] == [two]
    ec2.delete_security_group(GroupId=two)
    assert ec2.describe_security_groups(Filters=in_vpc2)["SecurityGroups"] == []
    with pytest.raises(ClientError) as exc:
        ec2.describe_security_groups(GroupIds=[one, two])
    assert error_of(exc) == ("InvalidGroup.NotFound", 400)


def test_rules_by_group_id_follow_authorize_and_revoke(ec2, vpc_id):
    sg, other = make_sg(ec2, vpc_id, "r1"), make_sg(ec2, vpc_id, "r2")

    def rules(*group_ids: str) -> list[tuple[str, bool, Any]]:
        found = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": list(group_ids)}])
        return sorted((r["GroupId"], r["IsEgress"], r.get("CidrIpv4")) for r in found["SecurityGroupRules"])

    assert rules(sg) == [(sg, True, "0.0.0.0/0")]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.0.0.0/8")])
    assert rules(sg) == [(sg, False, "10.0.0.0/8"), (sg, True, "0.0.0.0/0")]
    assert rules(sg, other) == sorted(rules(sg) + rules(other))
    ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.0.0.0/8")])
    assert rules(sg) == [(sg, True, "0.0.0.0/0")]
    ports = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]
    assert (ports[0]["FromPort"], ports[0]["ToPort"]) == (-1, -1)  # moto's -1 for "all"
    with pytest.raises(ClientError) as exc:
        ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": ["nonsense"]}])
    assert error_of(exc)[0] == "InvalidGroupId.Malformed"
