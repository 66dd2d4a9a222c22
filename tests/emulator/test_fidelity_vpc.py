"""Dual-stack VPCs: the ::/0 default egress rule of a security group.

AWS behaviour the emulator adds or corrects over moto (the other areas: test_fidelity_rules.py,
test_fidelity_faults.py).  Fixtures from conftest.py, helpers from emu_harness.py.
The section names the AWS documentation it follows (also cited in
README.md, "What it adds over moto").
"""

from __future__ import annotations

import botocore.exceptions
import pytest

from emu_harness import cidr_perm, error_of, make_sg, rules_of

ALL_V4 = ("-1", -1, -1, "0.0.0.0/0")
ALL_V6 = ("-1", -1, -1, "::/0")


# ---------------------------------------------------------------------------
# 1. dual-stack VPCs: the ::/0 default egress rule
#    (VPC User Guide, "Default security groups for your VPCs": "::/0 ... Allows all
#    outbound IPv6 traffic. This rule is added only if your VPC has an associated
#    IPv6 CIDR block.")
# ---------------------------------------------------------------------------


def _dual_stack_vpc(ec2, how: str) -> str:
    if how == "at-create":
        return ec2.create_vpc(CidrBlock="10.1.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    vpc_id = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc_id, AmazonProvidedIpv6CidrBlock=True)
    return vpc_id


@pytest.mark.parametrize("how", ["at-create", "associated-later"])
def test_dual_stack_group_gets_both_default_egress_rules(ec2, how: str) -> None:
    sg = make_sg(ec2, _dual_stack_vpc(ec2, how), "dual")
    assert set(rules_of(ec2, sg, egress=True)) == {ALL_V4, ALL_V6}
    assert rules_of(ec2, sg, egress=False) == {}
    group = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]
    assert group["IpPermissionsEgress"] == [
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
         "PrefixListIds": [], "UserIdGroupPairs": []}
    ]


def test_ipv6_default_egress_rule_is_revocable(ec2) -> None:
    sg = make_sg(ec2, _dual_stack_vpc(ec2, "at-create"), "dual")
    all_v6 = {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
    resp = ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=[all_v6])
    assert [r["CidrIpv6"] for r in resp["RevokedSecurityGroupRules"]] == ["::/0"]
    assert set(rules_of(ec2, sg, egress=True)) == {ALL_V4}
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=[all_v6])
    assert error_of(exc) == ("InvalidPermission.NotFound", 400)
    ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=[all_v6])
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=[all_v6])
    assert error_of(exc) == ("InvalidPermission.Duplicate", 400)
    assert set(rules_of(ec2, sg, egress=True)) == {ALL_V4, ALL_V6}


def test_no_ipv6_egress_rule_without_an_associated_ipv6_block(ec2, vpc_id) -> None:
    assert set(rules_of(ec2, make_sg(ec2, vpc_id, "v4only"), egress=True)) == {ALL_V4}
    dual = ec2.create_vpc(CidrBlock="10.2.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]
    ec2.disassociate_vpc_cidr_block(AssociationId=dual["Ipv6CidrBlockAssociationSet"][0]["AssociationId"])
    # moto keeps the block as "disassociated" and used to add ::/0 all the same
    assert set(rules_of(ec2, make_sg(ec2, dual["VpcId"], "after"), egress=True)) == {ALL_V4}


def test_ipv6_egress_rule_revocable_in_an_ipv4_only_vpc(ec2, vpc_id) -> None:
    sg = make_sg(ec2, vpc_id, "v4vpc")
    perm = cidr_perm("2001:db8::/32", port=443)
    ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=[perm])
    # moto dropped the IPv6 range from the request here and answered success, rule kept
    resp = ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=[perm])
    assert [r["CidrIpv6"] for r in resp["RevokedSecurityGroupRules"]] == ["2001:db8::/32"]
    assert set(rules_of(ec2, sg, egress=True)) == {ALL_V4}
