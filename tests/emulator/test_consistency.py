"""Optional eventual consistency ("Eventual consistency in the Amazon EC2 API"): new groups
hidden from describes and NotFound by id, rule changes and SSM puts seen late, per access
key, counted.  Time moves by POST /_emulator/clock (advance_s), or really: one test polls
with a deadline."""

from __future__ import annotations

import time

import botocore.exceptions
import pytest

from emu_harness import OWNER, Emu, cidr_perm, error_of, make_sg, tag_spec, wait_until

OFF = {"group_visible_after_s": None, "rules_visible_after_s": None, "parameters_visible_after_s": None}


def advance(emu: Emu, seconds: float) -> None:
    status, body = emu.control("POST", "clock", {"advance_s": seconds})
    assert status == 200, body


def group_ids(ec2, **kw) -> set[str]:
    return {g["GroupId"] for g in ec2.describe_security_groups(**kw)["SecurityGroups"]}


def not_found(call, *args, **kw) -> str:
    """The InvalidGroup.NotFound message of a refused call."""
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        call(*args, **kw)
    assert error_of(exc) == ("InvalidGroup.NotFound", 400)
    return exc.value.response["Error"]["Message"]


def ingress_cidrs(ec2, sg: str) -> set[str]:
    perms = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"]
    return {r["CidrIp"] for p in perms for r in p.get("IpRanges", [])}


def rule_cidrs(ec2, sg: str) -> set[str]:
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]
    return {r["CidrIpv4"] for r in rules if not r["IsEgress"] and "CidrIpv4" in r}


# ---------------------------------------------------------------------------
# config
# ---------------------------------------------------------------------------


def test_off_by_default_and_config(emu: Emu, ec2, vpc_id) -> None:
    assert emu.control("GET", "config")[1]["consistency"] == OFF
    sg = make_sg(ec2, vpc_id, "immediate")
    assert group_ids(ec2, GroupIds=[sg]) == {sg}
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.1.0.0/16")])
    assert ingress_cidrs(ec2, sg) == {"10.1.0.0/16"}
    assert emu.counts()["consistency_hidden"] == 0 and emu.counts()["consistency_by_kind"] == {}

    cfg = emu.configure({"consistency": {"group_visible_after_s": 2, "rules_visible_after_s": 0.5}})
    assert cfg["consistency"] == {**OFF, "group_visible_after_s": 2.0, "rules_visible_after_s": 0.5}
    cfg = emu.configure({"consistency": {"rules_visible_after_s": None}})  # fields left out are kept
    assert cfg["consistency"] == {**OFF, "group_visible_after_s": 2.0}
    for bad in ({"group_visible_after_s": -1}, {"rules_visible_after_s": 301}, {"nope": 1},
                {"group_visible_after_s": True}, {"parameters_visible_after_s": "1"}, 5):
        status, body = emu.control("POST", "config", {"consistency": bad})
        assert status == 400, (bad, body)
    assert emu.configure({"consistency": None})["consistency"] == OFF

    assert emu.control("GET", "clock") == (200, {"offset_s": 0.0})
    advance(emu, 1.5)
    assert emu.control("GET", "clock") == (200, {"offset_s": 1.5})
    for bad in ({"advance_s": -1}, {}, {"advance_s": "1"}, {"advance_s": 1, "x": 2}):
        assert emu.control("POST", "clock", bad)[0] == 400, bad
    emu.configure({"consistency": {"group_visible_after_s": 2}})
    emu.control("POST", "reset")
    assert emu.control("GET", "clock") == (200, {"offset_s": 0.0})
    assert emu.control("GET", "config")[1]["consistency"] == OFF


# ---------------------------------------------------------------------------
# new groups
# ---------------------------------------------------------------------------


def test_new_group_hidden_then_visible(emu: Emu, ec2, vpc_id) -> None:
    emu.configure({"consistency": {"group_visible_after_s": 30}})
    peer = make_sg(ec2, vpc_id, "peer", TagSpecifications=tag_spec("ns/peer"))
    advance(emu, 31)  # peer visible
    sg = make_sg(ec2, vpc_id, "fresh", TagSpecifications=tag_spec("ns/fresh"))
    assert sg.startswith("sg-")  # the create itself answers as usual

    assert peer in group_ids(ec2) and sg not in group_ids(ec2)
    assert group_ids(ec2, Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]) == {peer} | default_of(ec2, vpc_id)
    assert group_ids(ec2, Filters=[{"Name": f"tag:{OWNER}", "Values": ["ns/fresh"]}]) == set()
    assert group_ids(ec2, Filters=[{"Name": "group-id", "Values": [sg]}]) == set()
    assert ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"] == []

    assert not_found(ec2.describe_security_groups, GroupIds=[peer, sg]) == f"The security group '{sg}' does not exist"
    not_found(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[cidr_perm("10.0.0.0/8")])
    not_found(ec2.authorize_security_group_egress, GroupId=sg, IpPermissions=[cidr_perm("10.0.0.0/8")])
    not_found(ec2.revoke_security_group_egress, GroupId=sg, IpPermissions=[cidr_perm("0.0.0.0/0", protocol="-1")])
    not_found(ec2.create_tags, Resources=[sg], Tags=[{"Key": "k", "Value": "v"}])
    not_found(ec2.delete_security_group, GroupId=sg)
    peer_rule = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": sg}]}
    assert not_found(ec2.authorize_security_group_ingress, GroupId=peer, IpPermissions=[peer_rule]) \
        == f"The security group '{sg}' does not exist"

    counts = emu.counts()
    assert counts["consistency_by_kind"] == {"group_omitted": 6, "group_not_found": 7}
    assert counts["consistency_hidden"] == 13

    advance(emu, 30)
    assert sg in group_ids(ec2)
    (group,) = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"]
    assert {t["Key"]: t["Value"] for t in group["Tags"]}[OWNER] == "ns/fresh"  # TagSpecifications kept
    ec2.authorize_security_group_ingress(GroupId=peer, IpPermissions=[peer_rule])
    ec2.delete_security_group(GroupId=peer)
    assert emu.counts()["consistency_hidden"] == 13


def default_of(ec2, vpc_id: str) -> set[str]:
    return group_ids(ec2, Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}])


def test_duplicate_name_refused_while_hidden(emu: Emu, ec2, vpc_id) -> None:
    emu.configure({"consistency": {"group_visible_after_s": 30}})
    sg = make_sg(ec2, vpc_id, "taken")
    assert group_ids(ec2, Filters=[{"Name": "group-name", "Values": ["taken"]}]) == set()
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        make_sg(ec2, vpc_id, "taken")
    assert error_of(exc) == ("InvalidGroup.Duplicate", 400)
    advance(emu, 30)
    assert group_ids(ec2, Filters=[{"Name": "group-name", "Values": ["taken"]}]) == {sg}


def test_group_visible_after_real_delay(emu: Emu, ec2, vpc_id) -> None:
    delay = 1.0
    emu.configure({"consistency": {"group_visible_after_s": delay}})
    t0 = time.monotonic()
    sg = make_sg(ec2, vpc_id, "soon")
    seen = sg in group_ids(ec2)
    if time.monotonic() - t0 < delay:  # (a machine too busy to ask within the delay proves nothing)
        assert not seen
    wait_until(lambda: sg in group_ids(ec2), 10.0 + delay, "the new group to become visible", interval=0.05)
    assert time.monotonic() - t0 >= delay  # the emulator's clock is the same monotonic clock
    assert group_ids(ec2, GroupIds=[sg]) == {sg}


# ---------------------------------------------------------------------------
# rule changes
# ---------------------------------------------------------------------------


def test_rule_changes_seen_late(emu: Emu, ec2, vpc_id) -> None:
    sg = make_sg(ec2, vpc_id, "rules")
    emu.configure({"consistency": {"rules_visible_after_s": 30}})
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.1.0.0/16")])
    assert ingress_cidrs(ec2, sg) == set() and rule_cidrs(ec2, sg) == set()  # as before the change
    advance(emu, 10)
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.2.0.0/16")])
    advance(emu, 21)  # first change 31 s old, second 21 s
    assert ingress_cidrs(ec2, sg) == {"10.1.0.0/16"} and rule_cidrs(ec2, sg) == {"10.1.0.0/16"}
    advance(emu, 10)
    assert ingress_cidrs(ec2, sg) == rule_cidrs(ec2, sg) == {"10.1.0.0/16", "10.2.0.0/16"}

    ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.1.0.0/16")])
    assert ingress_cidrs(ec2, sg) == {"10.1.0.0/16", "10.2.0.0/16"}
    with pytest.raises(botocore.exceptions.ClientError) as exc:  # the live state decides writes
        ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.1.0.0/16")])
    assert error_of(exc)[0] == "InvalidPermission.NotFound"
    filtered = group_ids(ec2, Filters=[{"Name": "ip-permission.cidr", "Values": ["10.1.0.0/16"]}])
    assert filtered == {sg}  # filters see the same (old) rules
    advance(emu, 30)
    assert ingress_cidrs(ec2, sg) == rule_cidrs(ec2, sg) == {"10.2.0.0/16"}
    counts = emu.counts()
    assert counts["consistency_by_kind"] == {"rules_stale": 6} and counts["consistency_hidden"] == 6


def test_rule_descriptions_seen_late(emu: Emu, ec2, vpc_id) -> None:
    sg = make_sg(ec2, vpc_id, "described")
    perm = {**cidr_perm("10.3.0.0/16"), "IpRanges": [{"CidrIp": "10.3.0.0/16", "Description": "old"}]}
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[perm])
    emu.configure({"consistency": {"rules_visible_after_s": 30}})
    advance(emu, 30)  # (changes made before the delay was on are as late as any)
    perm["IpRanges"][0]["Description"] = "new"
    ec2.update_security_group_rule_descriptions_ingress(GroupId=sg, IpPermissions=[perm])

    def description() -> str:
        perms = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"]
        return perms[0]["IpRanges"][0]["Description"]

    assert description() == "old"
    advance(emu, 30)
    assert description() == "new"


# ---------------------------------------------------------------------------
# per access key
# ---------------------------------------------------------------------------


def test_per_access_key(emu: Emu, vpc_id) -> None:
    a, b = emu.ec2("AKIACONSISTA"), emu.ec2("AKIACONSISTB")
    emu.configure({"consistency": {"group_visible_after_s": 30, "rules_visible_after_s": 60}}, access_key="AKIACONSISTA")
    assert emu.control("GET", "config")[1]["consistency"] == OFF  # global untouched
    sg = make_sg(a, vpc_id, "keyed")
    not_found(a.describe_security_groups, GroupIds=[sg])
    assert group_ids(b, GroupIds=[sg]) == {sg}  # B: the global config, immediate
    b.authorize_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.4.0.0/16")])
    assert ingress_cidrs(b, sg) == {"10.4.0.0/16"}
    rule_id = b.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        a.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])
    assert error_of(exc) == ("InvalidSecurityGroupRuleId.NotFound", 400)
    a.create_security_group(GroupName="in-default-vpc", Description="d")
    with pytest.raises(botocore.exceptions.ClientError) as exc:  # by name (default VPC)
        a.describe_security_groups(GroupNames=["in-default-vpc"])
    assert error_of(exc) == ("InvalidGroup.NotFound", 400)
    advance(emu, 30)
    assert ingress_cidrs(a, sg) == set()  # A sees the group now, but not B's rule yet
    assert a.describe_security_groups(GroupNames=["in-default-vpc"])["SecurityGroups"]
    by_kind = emu.counts("AKIACONSISTA")["consistency_by_kind"]
    assert by_kind == {"group_not_found": 1, "group_omitted": 2, "rules_stale": 1}
    assert emu.counts("AKIACONSISTB")["consistency_hidden"] == 0
    assert emu.counts()["consistency_hidden"] == 4


# ---------------------------------------------------------------------------
# SSM parameters
# ---------------------------------------------------------------------------


def by_path(ssm, path: str) -> dict[str, str]:
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True)
    return {p["Name"]: p["Value"] for page in pages for p in page["Parameters"]}


def test_parameters_seen_late(emu: Emu, ssm) -> None:
    ssm.put_parameter(Name="/sg/ns/old", Value="v1", Type="String")
    emu.configure({"consistency": {"parameters_visible_after_s": 30}})
    advance(emu, 30)  # /sg/ns/old v1 visible
    ssm.put_parameter(Name="/sg/ns/old", Value="v2", Type="String", Overwrite=True)
    ssm.put_parameter(Name="/sg/ns/new", Value="n1", Type="String")

    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.get_parameter(Name="/sg/ns/new")
    assert error_of(exc) == ("ParameterNotFound", 400)
    assert ssm.get_parameter(Name="/sg/ns/old")["Parameter"]["Value"] == "v1"
    got = ssm.get_parameters(Names=["/sg/ns/old", "/sg/ns/new"])
    assert [p["Version"] for p in got["Parameters"]] == [1] and got["InvalidParameters"] == ["/sg/ns/new"]
    assert by_path(ssm, "/sg") == {"/sg/ns/old": "v1"}
    assert [p["Name"] for p in ssm.describe_parameters()["Parameters"]] == ["/sg/ns/old"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:  # it exists all the same
        ssm.put_parameter(Name="/sg/ns/new", Value="n2", Type="String")
    assert error_of(exc) == ("ParameterAlreadyExists", 400)
    assert by_path(ssm, "/other") == {}  # out of scope: not counted
    assert emu.counts()["consistency_by_kind"] == {"parameter_hidden": 5}

    advance(emu, 30)
    assert by_path(ssm, "/sg") == {"/sg/ns/old": "v2", "/sg/ns/new": "n1"}
    assert [p["Name"] for p in ssm.describe_parameters()["Parameters"]] == ["/sg/ns/old", "/sg/ns/new"]
    assert emu.counts()["consistency_hidden"] == 5
