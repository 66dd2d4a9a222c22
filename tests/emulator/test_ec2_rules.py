"""EC2 security group rules: authorize / revoke (incl. all-or-nothing duplicates and
misses), rule descriptions and ModifySecurityGroupRules (incl. moto gaps fixed in
moto_patches.py)."""

from __future__ import annotations

import botocore.exceptions
import pytest

from emu_harness import error_of, make_sg


def _rules(ec2, sg: str, egress: bool = False) -> dict[tuple, dict]:
    out = {}
    for r in ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]:
        if r["IsEgress"] != egress:
            continue
        peer = r.get("CidrIpv4") or r.get("CidrIpv6") or r.get("PrefixListId") or r["ReferencedGroupInfo"]["GroupId"]
        out[(r["IpProtocol"], r["FromPort"], r["ToPort"], peer)] = r
    return out


def test_authorize_revoke_rules(ec2, vpc) -> None:
    sg = make_sg(ec2, vpc, "web")
    peer = make_sg(ec2, vpc, "peer")
    pl = ec2.create_managed_prefix_list(
        PrefixListName="corp", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": "192.0.2.0/24"}]
    )["PrefixList"]["PrefixListId"]
    perms = [
        {
            "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "IpRanges": [{"CidrIp": "10.1.0.0/16", "Description": "v4"}],
            "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32", "Description": "v6"}],
            "PrefixListIds": [{"PrefixListId": pl, "Description": "pl"}],
            "UserIdGroupPairs": [{"GroupId": peer, "Description": "grp"}],
        },
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.2.0.0/16"}]},
    ]
    resp = ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=perms)
    assert len(resp["SecurityGroupRules"]) == 5  # moto alone returns only the last IpPermission's
    rules = _rules(ec2, sg)
    assert {r["SecurityGroupRuleId"] for r in rules.values()} == {
        r["SecurityGroupRuleId"] for r in resp["SecurityGroupRules"]
    }
    assert {k: r.get("Description") for k, r in rules.items()} == {
        ("tcp", 443, 443, "10.1.0.0/16"): "v4",
        ("tcp", 443, 443, "2001:db8::/32"): "v6",
        ("tcp", 443, 443, pl): "pl",
        ("tcp", 443, 443, peer): "grp",
        ("udp", 53, 53, "10.2.0.0/16"): None,
    }
    grouped = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"]
    tcp = next(p for p in grouped if p["IpProtocol"] == "tcp")
    assert tcp["PrefixListIds"] == [{"PrefixListId": pl, "Description": "pl"}]

    # duplicates: all-or-nothing, description does not matter
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ec2.authorize_security_group_ingress(
            GroupId=sg,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.3.0.0/16"}]},
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                 "UserIdGroupPairs": [{"GroupId": peer, "Description": "other text"}]},
            ],
        )
    assert error_of(exc) == ("InvalidPermission.Duplicate", 400)
    assert len(_rules(ec2, sg)) == 5

    # revoke: a missing rule fails the whole request
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ec2.revoke_security_group_ingress(
            GroupId=sg,
            IpPermissions=[
                perms[1],
                {"IpProtocol": "tcp", "FromPort": 9, "ToPort": 9, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]},
            ],
        )
    assert error_of(exc) == ("InvalidPermission.NotFound", 400)
    assert len(_rules(ec2, sg)) == 5

    # revoke a described group-reference rule without repeating the description
    resp = ec2.revoke_security_group_ingress(
        GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": peer}]}]
    )
    assert [r["ReferencedGroupId"] for r in resp["RevokedSecurityGroupRules"]] == [peer]
    # revoke by rule id
    rid = _rules(ec2, sg)[("udp", 53, 53, "10.2.0.0/16")]["SecurityGroupRuleId"]
    ec2.revoke_security_group_ingress(GroupId=sg, SecurityGroupRuleIds=[rid])
    assert set(_rules(ec2, sg)) == {
        ("tcp", 443, 443, "10.1.0.0/16"), ("tcp", 443, 443, "2001:db8::/32"), ("tcp", 443, 443, pl)
    }

    # egress: default rule present, duplicate of it refused, revocable
    assert set(_rules(ec2, sg, egress=True)) == {("-1", -1, -1, "0.0.0.0/0")}
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ec2.authorize_security_group_egress(
            GroupId=sg, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        )
    assert error_of(exc)[0] == "InvalidPermission.Duplicate"
    ec2.authorize_security_group_egress(
        GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": peer}]}]
    )
    ec2.revoke_security_group_egress(
        GroupId=sg, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    assert set(_rules(ec2, sg, egress=True)) == {("tcp", 5432, 5432, peer)}
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ec2.revoke_security_group_egress(
            GroupId=sg, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        )
    assert error_of(exc)[0] == "InvalidPermission.NotFound"


def test_rule_descriptions_and_modify(ec2, vpc) -> None:
    sg = make_sg(ec2, vpc, "desc")
    peer = make_sg(ec2, vpc, "peer")
    pl = ec2.create_managed_prefix_list(
        PrefixListName="pl", MaxEntries=2, AddressFamily="IPv4", Entries=[{"Cidr": "192.0.2.0/24"}]
    )["PrefixList"]["PrefixListId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
            "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "a"}],
            "UserIdGroupPairs": [{"GroupId": peer, "Description": "b"}],
            "PrefixListIds": [{"PrefixListId": pl, "Description": "c"}],
        }],
    )
    ec2.update_security_group_rule_descriptions_ingress(
        GroupId=sg,
        IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
            "IpRanges": [{"CidrIp": "10.0.0.0/8"}],  # omitted description removes it
            "UserIdGroupPairs": [{"GroupId": peer, "Description": "b2"}],
            "PrefixListIds": [{"PrefixListId": pl, "Description": "c2"}],
        }],
    )
    rules = _rules(ec2, sg)
    assert {k[3]: r.get("Description") for k, r in rules.items()} == {"10.0.0.0/8": None, peer: "b2", pl: "c2"}

    rid = rules[("tcp", 22, 22, "10.0.0.0/8")]["SecurityGroupRuleId"]
    ec2.update_security_group_rule_descriptions_ingress(
        GroupId=sg, SecurityGroupRuleDescriptions=[{"SecurityGroupRuleId": rid, "Description": "by id"}]
    )
    assert _rules(ec2, sg)[("tcp", 22, 22, "10.0.0.0/8")]["Description"] == "by id"

    ec2.authorize_security_group_egress(
        GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": peer}]}]
    )
    ec2.update_security_group_rule_descriptions_egress(
        GroupId=sg,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                        "UserIdGroupPairs": [{"GroupId": peer, "Description": "db"}]}],
    )
    assert _rules(ec2, sg, egress=True)[("tcp", 5432, 5432, peer)]["Description"] == "db"

    # modify_security_group_rules: keeps the rule id, can change the peer kind
    peer_rid = _rules(ec2, sg)[("tcp", 22, 22, peer)]["SecurityGroupRuleId"]
    ec2.modify_security_group_rules(
        GroupId=sg,
        SecurityGroupRules=[
            {"SecurityGroupRuleId": rid, "SecurityGroupRule": {
                "IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "CidrIpv4": "10.8.0.0/16", "Description": "m"}},
            {"SecurityGroupRuleId": peer_rid, "SecurityGroupRule": {
                "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv6": "2001:db8::/48"}},
        ],
    )
    rules = _rules(ec2, sg)
    assert rules[("tcp", 8443, 8443, "10.8.0.0/16")]["SecurityGroupRuleId"] == rid
    assert rules[("tcp", 8443, 8443, "10.8.0.0/16")]["Description"] == "m"
    assert rules[("tcp", 22, 22, "2001:db8::/48")]["SecurityGroupRuleId"] == peer_rid
    assert rules[("tcp", 22, 22, "2001:db8::/48")]["Description"] == "b2"
