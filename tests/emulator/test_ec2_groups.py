"""EC2 security groups: creation constraints, tags and tag filters, and the
DependencyViolation / CannotDelete refusals of DeleteSecurityGroup."""

from __future__ import annotations

import re

import botocore.exceptions
import pytest

from emu_harness import OWNER, Emu, error_of, make_sg, raw_ec2


# ---------------------------------------------------------------------------
# DependencyViolation / CannotDelete
# ---------------------------------------------------------------------------


def test_delete_sg_in_use_by_eni(emu: Emu, ec2, vpc) -> None:
    sg = make_sg(ec2, vpc, "app")
    eni = ec2.create_network_interface(SubnetId=vpc["subnet"], Groups=[sg])["NetworkInterface"]
    found = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [sg]}])
    assert [n["NetworkInterfaceId"] for n in found["NetworkInterfaces"]] == [eni["NetworkInterfaceId"]]

    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ec2.delete_security_group(GroupId=sg)
    assert error_of(exc) == ("DependencyViolation", 400)
    assert exc.value.response["Error"]["Message"] == f"resource {sg} has a dependent object"
    # still there
    assert ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["GroupId"] == sg

    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    ec2.delete_security_group(GroupId=sg)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ec2.describe_security_groups(GroupIds=[sg])
    assert error_of(exc)[0] == "InvalidGroup.NotFound"
    assert emu.counts()["errors"]["ec2"] == {"DependencyViolation": 1, "InvalidGroup.NotFound": 1}


@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_delete_sg_referenced_by_other_group(ec2, vpc, direction: str) -> None:
    target = make_sg(ec2, vpc, "db")
    other = make_sg(ec2, vpc, "app")
    perm = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": target}]}
    authorize = getattr(ec2, f"authorize_security_group_{direction}")
    revoke = getattr(ec2, f"revoke_security_group_{direction}")
    authorize(GroupId=other, IpPermissions=[perm])
    # a self-reference is no dependency
    ec2.authorize_security_group_ingress(
        GroupId=target,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "UserIdGroupPairs": [{"GroupId": target}]}],
    )

    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ec2.delete_security_group(GroupId=target)
    assert error_of(exc) == ("DependencyViolation", 400)

    revoke(GroupId=other, IpPermissions=[perm])
    ec2.delete_security_group(GroupId=target)


def test_dependency_violation_xml_format(emu: Emu, ec2, vpc) -> None:
    sg = make_sg(ec2, vpc, "app")
    ec2.create_network_interface(SubnetId=vpc["subnet"], Groups=[sg])
    status, body = raw_ec2(emu, {"Action": "DeleteSecurityGroup", "GroupId": sg})
    assert status == 400
    assert re.fullmatch(
        r'<\?xml version="1\.0" encoding="UTF-8"\?><Response><Errors><Error><Code>DependencyViolation</Code>'
        rf"<Message>resource {sg} has a dependent object</Message></Error></Errors>"
        r"<RequestID>[0-9a-f-]{36}</RequestID></Response>",
        body,
    ), body


def test_default_group_cannot_be_deleted(ec2, vpc) -> None:
    default = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc["vpc"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ec2.delete_security_group(GroupId=default)
    assert error_of(exc) == ("CannotDelete", 400)


def test_create_sg_name_constraints(ec2, vpc) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        make_sg(ec2, vpc, "sg-looks-like-an-id")
    assert error_of(exc) == ("InvalidParameterValue", 400)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        make_sg(ec2, vpc, "x" * 256)
    assert error_of(exc) == ("InvalidParameterValue", 400)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ec2.create_security_group(GroupName="ok", Description="caf\u00e9", VpcId=vpc["vpc"])
    assert error_of(exc) == ("InvalidParameterValue", 400)
    make_sg(ec2, vpc, "ns/name:with.allowed_chars-[1]")


# ---------------------------------------------------------------------------
# tags (incl. moto gaps fixed in moto_patches.py)
# ---------------------------------------------------------------------------


def test_create_with_tags_and_tag_filters(ec2, vpc) -> None:
    sg = make_sg(
        ec2, vpc, "tagged",
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": OWNER, "Value": "ns:name"}]}],
    )
    make_sg(ec2, vpc, "untagged")
    got = ec2.describe_security_groups(Filters=[{"Name": f"tag:{OWNER}", "Values": ["ns:name"]}])["SecurityGroups"]
    assert [g["GroupId"] for g in got] == [sg]
    assert got[0]["Tags"] == [{"Key": OWNER, "Value": "ns:name"}]
    # default egress rule on a new VPC group
    assert got[0]["IpPermissionsEgress"] == [
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
         "PrefixListIds": [], "UserIdGroupPairs": []}
    ]
    ec2.create_tags(Resources=[sg], Tags=[{"Key": "sgprovisioner.io/hash", "Value": "abc"}])
    ec2.delete_tags(Resources=[sg], Tags=[{"Key": OWNER}])
    tags = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["Tags"]
    assert tags == [{"Key": "sgprovisioner.io/hash", "Value": "abc"}]


# ---------------------------------------------------------------------------
# DescribeSecurityGroups pagination (MaxResults 5..1000, NextToken)
# ---------------------------------------------------------------------------


def test_describe_pages_by_max_results(emu: Emu, ec2, vpc_id) -> None:
    tag = {"Key": "paged", "Value": "yes"}
    spec = [{"ResourceType": "security-group", "Tags": [tag]}]
    made = {make_sg(ec2, vpc_id, f"paged-{i}", TagSpecifications=spec) for i in range(12)}
    wanted = [{"Name": "tag:paged", "Values": ["yes"]}]
    assert {g["GroupId"] for g in ec2.describe_security_groups(Filters=wanted)["SecurityGroups"]} == made

    sizes, seen, token = [], [], None
    while True:
        page = ec2.describe_security_groups(Filters=wanted, MaxResults=5, **({"NextToken": token} if token else {}))
        sizes.append(len(page["SecurityGroups"]))
        seen += [g["GroupId"] for g in page["SecurityGroups"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sizes == [5, 5, 2] and len(seen) == 12 and set(seen) == made

    paged = ec2.get_paginator("describe_security_groups").paginate(Filters=wanted, PaginationConfig={"PageSize": 5})
    assert {g["GroupId"] for p in paged for g in p["SecurityGroups"]} == made
    for bad in ("4", "1001"):  # botocore refuses these itself
        status, body = raw_ec2(emu, {"Action": "DescribeSecurityGroups", "MaxResults": bad})
        assert status == 400 and "InvalidParameterValue" in body
