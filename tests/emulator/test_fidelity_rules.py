"""Security group rules: IpProtocol numbers without ports, the rules-per-security-group
quota, and the rule-reference filters of DescribeSecurityGroups.

AWS behaviour the emulator adds or corrects over moto (the other areas: test_fidelity_vpc.py,
test_fidelity_faults.py).  Fixtures from conftest.py, helpers from emu_harness.py.
Each section names the AWS documentation it follows (also cited in
README.md, "What it adds over moto").
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from emu_harness import Emu, cidr_perm, error_of, make_sg, rules_of


# ---------------------------------------------------------------------------
# 1. IpProtocol numbers without ports
#    (EC2 API Reference, IpPermission: "specifying -1 or a protocol number other than
#    tcp, udp, icmp, or icmpv6 allows traffic on all ports, regardless of any port
#    range you specify. For tcp, udp, and icmp, you must specify a port range. For
#    icmpv6, the port range is optional")
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["ingress", "egress"])
@pytest.mark.parametrize("protocol", ["50", "51", "47"])
def test_protocol_number_without_ports(ec2, vpc_id, protocol: str, direction: str) -> None:
    sg = make_sg(ec2, vpc_id, "ipsec")
    authorize = getattr(ec2, f"authorize_security_group_{direction}")
    revoke = getattr(ec2, f"revoke_security_group_{direction}")
    perm = {"IpProtocol": protocol, "IpRanges": [{"CidrIp": "198.51.100.0/24"}]}
    created = authorize(GroupId=sg, IpPermissions=[perm])["SecurityGroupRules"]
    assert [r["IpProtocol"] for r in created] == [protocol]

    group = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]
    listed = group["IpPermissionsEgress" if direction == "egress" else "IpPermissions"]
    numbered = [p for p in listed if p["IpProtocol"] == protocol]
    assert numbered == [{"IpProtocol": protocol, "IpRanges": [{"CidrIp": "198.51.100.0/24"}],
                         "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}]
    assert (protocol, -1, -1, "198.51.100.0/24") in rules_of(ec2, sg, egress=direction == "egress")

    revoked = revoke(GroupId=sg, IpPermissions=[perm])["RevokedSecurityGroupRules"]
    assert [(r["IpProtocol"], r["CidrIpv4"]) for r in revoked] == [(protocol, "198.51.100.0/24")]
    assert not any(k[0] == protocol for k in rules_of(ec2, sg, egress=direction == "egress"))


def test_ports_of_a_portless_protocol_are_ignored(ec2, vpc_id) -> None:
    sg = make_sg(ec2, vpc_id, "esp")
    cidr = [{"CidrIp": "198.51.100.0/24"}]
    ec2.authorize_security_group_ingress(
        GroupId=sg, IpPermissions=[{"IpProtocol": "50", "FromPort": 10, "ToPort": 20, "IpRanges": cidr}]
    )
    assert set(rules_of(ec2, sg, egress=False)) == {("50", -1, -1, "198.51.100.0/24")}
    with pytest.raises(botocore.exceptions.ClientError) as exc:  # the same rule: ports are no part of it
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{"IpProtocol": "50", "IpRanges": cidr}])
    assert error_of(exc) == ("InvalidPermission.Duplicate", 400)
    ec2.revoke_security_group_ingress(
        GroupId=sg, IpPermissions=[{"IpProtocol": "50", "FromPort": 1, "ToPort": 2, "IpRanges": cidr}]
    )
    assert rules_of(ec2, sg, egress=False) == {}


def test_protocol_names_numbers_and_icmpv6(ec2, vpc_id) -> None:
    sg = make_sg(ec2, vpc_id, "names")
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "6", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            {"IpProtocol": "58", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},  # icmpv6, no ports: all types
            {"IpProtocol": "132", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},  # SCTP
        ],
    )
    assert set(rules_of(ec2, sg, egress=False)) == {
        ("tcp", 22, 22, "10.0.0.0/8"), ("icmpv6", -1, -1, "::/0"), ("132", -1, -1, "10.0.0.0/8")
    }


@pytest.mark.parametrize("perm, message", [
    ({"IpProtocol": "tcp"}, "Must specify both from and to ports with TCP/UDP"),
    ({"IpProtocol": "udp", "FromPort": 53}, "Must specify both from and to ports with TCP/UDP"),
    ({"IpProtocol": "icmp"}, "ICMP type and code"),
    ({"IpProtocol": "esp"}, "Invalid value 'esp' for IP protocol. Unknown protocol."),
    ({"IpProtocol": "256"}, "Unknown protocol"),
])
def test_invalid_protocol_or_missing_ports_is_a_client_error(ec2, vpc_id, perm: dict, message: str) -> None:
    sg = make_sg(ec2, vpc_id, "bad")
    with pytest.raises(botocore.exceptions.ClientError) as exc:  # moto answered HTTP 500
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{**perm, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    assert error_of(exc) == ("InvalidParameterValue", 400)
    assert message in exc.value.response["Error"]["Message"]
    assert rules_of(ec2, sg, egress=False) == {}


def test_modify_rule_to_a_protocol_number(ec2, vpc_id) -> None:
    sg = make_sg(ec2, vpc_id, "modify")
    rule = ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.0.0.0/8", 500, "udp")])
    rid = rule["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    ec2.modify_security_group_rules(GroupId=sg, SecurityGroupRules=[{
        "SecurityGroupRuleId": rid,
        "SecurityGroupRule": {"IpProtocol": "50", "FromPort": 500, "ToPort": 500, "CidrIpv4": "10.0.0.0/8"},
    }])
    assert set(rules_of(ec2, sg, egress=False)) == {("50", -1, -1, "10.0.0.0/8")}


# ---------------------------------------------------------------------------
# 2. the rules quota
#    (VPC User Guide, "Amazon VPC quotas": inbound or outbound rules per security
#    group, 60, "enforced separately for inbound and outbound rules" and
#    "separately for IPv4 rules and IPv6 rules"; "Security group rules", "Security
#    group size": a CIDR counts as one rule, a referenced group as one, a
#    customer-managed prefix list as its maximum size)
# ---------------------------------------------------------------------------


def _quota(emu: Emu, n: int, access_key: str | None = None) -> None:
    cfg = emu.configure({"quotas": {"rules_per_security_group": n}}, access_key)
    assert cfg["quotas"] == {"rules_per_security_group": n}


def _assert_quota_exceeded(call: Any, **kwargs: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        call(**kwargs)
    assert error_of(exc) == ("RulesPerSecurityGroupLimitExceeded", 400)
    assert exc.value.response["Error"]["Message"] == "The maximum number of rules per security group has been reached."


def test_default_quota_is_60_inbound_rules(emu: Emu, ec2, vpc_id) -> None:
    assert emu.control("GET", "config")[1]["quotas"] == {"rules_per_security_group": 60}
    sg = make_sg(ec2, vpc_id, "big")
    cidrs = [{"CidrIp": f"10.{i}.0.0/16"} for i in range(61)]
    perm = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    _assert_quota_exceeded(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[{**perm, "IpRanges": cidrs}])
    assert rules_of(ec2, sg, egress=False) == {}
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{**perm, "IpRanges": cidrs[:60]}])
    assert len(rules_of(ec2, sg, egress=False)) == 60


def test_quota_exceeded_changes_nothing(emu: Emu, ec2, vpc_id) -> None:
    _quota(emu, 3)
    sg = make_sg(ec2, vpc_id, "small")
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.1.0.0/16"), cidr_perm("10.2.0.0/16")])
    _assert_quota_exceeded(  # 2 + 2 > 3, over two IpPermissions: neither is added
        ec2.authorize_security_group_ingress, GroupId=sg,
        IpPermissions=[cidr_perm("10.3.0.0/16"), cidr_perm("10.4.0.0/16")],
    )
    assert len(rules_of(ec2, sg, egress=False)) == 2
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.3.0.0/16")])
    _assert_quota_exceeded(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[cidr_perm("10.4.0.0/16")])
    ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.1.0.0/16")])  # frees one
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.4.0.0/16")])
    assert len(rules_of(ec2, sg, egress=False)) == 3


def test_quota_per_direction_and_address_family(emu: Emu, ec2, vpc_id) -> None:
    _quota(emu, 2)
    sg, peer = make_sg(ec2, vpc_id, "families"), make_sg(ec2, vpc_id, "peer")
    v4 = [cidr_perm("10.1.0.0/16"), cidr_perm("10.2.0.0/16")]
    v6 = [cidr_perm("2001:db8:1::/48"), cidr_perm("2001:db8:2::/48")]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=v4 + v6)  # 2 IPv4 + 2 IPv6
    group_ref = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": peer}]}
    _assert_quota_exceeded(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[group_ref])
    # egress has its own count; the default 0.0.0.0/0 rule is one IPv4 rule of it
    ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=[group_ref])  # IPv4 2, IPv6 1
    _assert_quota_exceeded(ec2.authorize_security_group_egress, GroupId=sg, IpPermissions=[cidr_perm("10.9.0.0/16")])
    ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=[cidr_perm("2001:db8:9::/48")])  # IPv6 2
    assert len(rules_of(ec2, sg, egress=True)) == 3


def test_prefix_list_counts_as_its_max_entries(emu: Emu, ec2, vpc_id) -> None:
    _quota(emu, 4)
    sg = make_sg(ec2, vpc_id, "pl")
    pl = ec2.create_managed_prefix_list(
        PrefixListName="corp", MaxEntries=3, AddressFamily="IPv4", Entries=[{"Cidr": "192.0.2.0/24"}]
    )["PrefixList"]["PrefixListId"]
    perm = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": pl}]}
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[perm])  # 3 of 4
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.1.0.0/16")])  # 4 of 4
    _assert_quota_exceeded(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[cidr_perm("10.2.0.0/16")])


def test_quota_config_per_key_validation_and_reset(emu: Emu, vpc_id) -> None:
    small, other = emu.ec2("AKIASMALL"), emu.ec2("AKIAOTHER")
    _quota(emu, 1, access_key="AKIASMALL")
    assert emu.control("GET", "config")[1]["quotas"] == {"rules_per_security_group": 60}
    sg = make_sg(other, vpc_id, "shared")
    _assert_quota_exceeded(small.authorize_security_group_egress, GroupId=sg, IpPermissions=[cidr_perm("10.1.0.0/16")])
    other.authorize_security_group_egress(GroupId=sg, IpPermissions=[cidr_perm("10.1.0.0/16")])
    for bad in ({"rules_per_security_group": 0}, {"rules_per_security_group": "5"}, {"rules": 5}, [5]):
        status, body = emu.control("POST", "config", {"quotas": bad})
        assert status == 400, body
    emu.configure({"quotas": {"rules_per_security_group": 7}})
    assert emu.configure({"quotas": None})["quotas"] == {"rules_per_security_group": 60}
    emu.configure({"quotas": {"rules_per_security_group": 7}})
    assert emu.control("POST", "reset")[0] == 200
    assert emu.control("GET", "config")[1]["quotas"] == {"rules_per_security_group": 60}


# ---------------------------------------------------------------------------
# 3. DescribeSecurityGroups filters on what rules reference
#    (EC2 API Reference, DescribeSecurityGroups, Filter.N: ip-permission.group-id /
#    egress.ip-permission.group-id "The ID of a security group that has been
#    referenced in an inbound / outbound security group rule"; likewise
#    ip-permission.ipv6-cidr and ip-permission.prefix-list-id)
# ---------------------------------------------------------------------------


def _ids(ec2, *filters: tuple[str, list[str]]) -> set[str]:
    found = ec2.describe_security_groups(Filters=[{"Name": n, "Values": v} for n, v in filters])
    return {g["GroupId"] for g in found["SecurityGroups"]}


def _reference(ec2, direction: str, sg: str, target: str) -> None:
    getattr(ec2, f"authorize_security_group_{direction}")(
        GroupId=sg,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": target}]}],
    )


def test_filters_on_referenced_group_id(ec2, vpc_id) -> None:
    target, other_target = make_sg(ec2, vpc_id, "target"), make_sg(ec2, vpc_id, "other-target")
    inbound, outbound, both = (make_sg(ec2, vpc_id, n) for n in ("inbound", "outbound", "both"))
    _reference(ec2, "ingress", inbound, target)
    _reference(ec2, "egress", outbound, target)
    _reference(ec2, "ingress", both, target)
    _reference(ec2, "egress", both, other_target)
    make_sg(ec2, vpc_id, "unrelated")

    assert _ids(ec2, ("ip-permission.group-id", [target])) == {inbound, both}
    assert _ids(ec2, ("egress.ip-permission.group-id", [target])) == {outbound}
    assert _ids(ec2, ("egress.ip-permission.group-id", [target, other_target])) == {outbound, both}
    assert _ids(ec2, ("ip-permission.group-id", [target]), ("egress.ip-permission.group-id", [other_target])) == {both}
    assert _ids(ec2, ("ip-permission.group-id", [target]), ("vpc-id", [vpc_id])) == {inbound, both}
    assert _ids(ec2, ("ip-permission.group-id", [other_target])) == set()


def test_filters_on_ipv6_cidr_and_prefix_list(ec2, vpc_id) -> None:
    sg, out = make_sg(ec2, vpc_id, "v6"), make_sg(ec2, vpc_id, "out")
    pl = ec2.create_managed_prefix_list(
        PrefixListName="pl", MaxEntries=2, AddressFamily="IPv4", Entries=[{"Cidr": "192.0.2.0/24"}]
    )["PrefixList"]["PrefixListId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        cidr_perm("2001:db8::/32"),
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "PrefixListIds": [{"PrefixListId": pl}]},
    ])
    ec2.authorize_security_group_egress(GroupId=out, IpPermissions=[
        cidr_perm("2001:db8::/32"),
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "PrefixListIds": [{"PrefixListId": pl}]},
    ])
    assert _ids(ec2, ("ip-permission.ipv6-cidr", ["2001:db8::/32"])) == {sg}  # moto: HTTP 500
    assert _ids(ec2, ("ip-permission.prefix-list-id", [pl])) == {sg}
    assert _ids(ec2, ("egress.ip-permission.ipv6-cidr", ["2001:db8::/32"])) == {out}
    assert _ids(ec2, ("egress.ip-permission.prefix-list-id", [pl])) == {out}


# ---------------------------------------------------------------------------
# 5. A prefix list that does not exist
#    (EC2 answers InvalidPrefixListID.NotFound, "The prefix list ID 'pl-…' does not exist",
#    HTTP 400: the code of the EC2 API error code list, the text as CloudFormation relays it,
#    aws-cloudformation/rain#308; moto accepted any pl- id)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_an_unknown_prefix_list_is_not_found_and_nothing_is_added(ec2, vpc_id, direction: str) -> None:
    sg = make_sg(ec2, vpc_id, "nopl")
    authorize = getattr(ec2, f"authorize_security_group_{direction}")
    before = rules_of(ec2, sg, direction == "egress")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        authorize(GroupId=sg, IpPermissions=[
            cidr_perm("198.51.100.0/24"),
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "PrefixListIds": [{"PrefixListId": "pl-0123456789abcdef0"}]},
        ])
    assert error_of(e) == ("InvalidPrefixListID.NotFound", 400)
    assert "pl-0123456789abcdef0" in str(e.value)
    assert rules_of(ec2, sg, direction == "egress") == before, "all or nothing"
