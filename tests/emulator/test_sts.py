"""STS AssumeRole: credentials whose key id is derived from the role, requests signed with
them land in the role's account and count under that key, the /_emulator/assumed-roles
record, ExternalId trust conditions, faults in STS's error format."""

from __future__ import annotations

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from emu_harness import Emu, error_of

ROLE_A = "arn:aws:iam::111111111111:role/sg-provisioner-a"
ROLE_B = "arn:aws:iam::222222222222:role/sg-provisioner-b"


def assume(emu: Emu, role_arn: str, caller: str = "AKIACALLER", **kw: str) -> dict[str, str]:
    sts = emu.client("sts", access_key=caller)
    return sts.assume_role(RoleArn=role_arn, RoleSessionName="sg-provisioner", **kw)["Credentials"]


def as_role(emu: Emu, creds: dict[str, str], service: str):
    return boto3.client(
        service,
        endpoint_url=emu.url,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def test_the_key_id_is_the_roles_and_requests_land_in_its_account(emu: Emu) -> None:
    a1, a2, b = assume(emu, ROLE_A), assume(emu, ROLE_A, caller="AKIAOTHER"), assume(emu, ROLE_B)
    assert a1["AccessKeyId"] == a2["AccessKeyId"], "one key id per role"
    assert a1["AccessKeyId"] != b["AccessKeyId"]
    assert a1["AccessKeyId"].startswith("ASIA") and len(a1["AccessKeyId"]) == 20
    assert a1["SessionToken"] != a2["SessionToken"], "a new session each time"
    key_a = emu.control("GET", "assumed-roles?role_arn=" + ROLE_A)[1]["access_key_id"]
    assert key_a == a1["AccessKeyId"]

    ec2_a, ec2_b = as_role(emu, a1, "ec2"), as_role(emu, b, "ec2")
    vpc = ec2_a.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]
    assert vpc["OwnerId"] == "111111111111"
    seen_b = {v["VpcId"] for v in ec2_b.describe_vpcs()["Vpcs"]}
    seen_default = {v["VpcId"] for v in emu.ec2("AKIAPLAIN").describe_vpcs()["Vpcs"]}
    assert vpc["VpcId"] not in seen_b | seen_default, "accounts are separate"
    identity = as_role(emu, b, "sts").get_caller_identity()
    assert identity["Account"] == "222222222222"
    assert identity["Arn"] == "arn:aws:sts::222222222222:assumed-role/sg-provisioner-b/sg-provisioner"

    counts_a = emu.counts(a1["AccessKeyId"])
    assert counts_a["by_operation"] == {"ec2": {"CreateVpc": 1}}
    caller = emu.counts("AKIACALLER")
    assert caller["by_operation"] == {"sts": {"AssumeRole": 2}}
    assert (caller["reads"], caller["writes"]) == (2, 0), "STS calls count as reads"


def test_the_record_of_assumed_roles(emu: Emu) -> None:
    assert emu.control("GET", "assumed-roles")[1] == {"roles": {}, "trust": {}, "session_s": {}}
    never = emu.control("GET", "assumed-roles?role_arn=" + ROLE_B)[1]
    assert never["assumed"] == 0 and never["account_id"] == "222222222222"
    assume(emu, ROLE_A, ExternalId="ext-1")
    assume(emu, ROLE_A, caller="AKIAOTHER")
    rec = emu.control("GET", "assumed-roles")[1]["roles"][ROLE_A]
    assert rec["assumed"] == 2 and rec["denied"] == 0
    assert rec["callers"] == {"AKIACALLER": 1, "AKIAOTHER": 1}
    assert rec["external_ids"] == ["ext-1", None]
    assert rec["session_names"] == ["sg-provisioner"]
    assert rec["account_id"] == "111111111111"
    assert emu.control("POST", "reset")[0] == 200
    assert emu.control("GET", "assumed-roles")[1]["roles"] == {}


def test_an_external_id_condition_refuses_other_ids(emu: Emu) -> None:
    status, body = emu.control("POST", "assumed-roles", {"trust": {ROLE_A: {"external_id": "s3cret"}}})
    assert status == 200 and body["trust"] == {ROLE_A: {"external_id": "s3cret"}}
    for kw in ({}, {"ExternalId": "wrong"}):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            assume(emu, ROLE_A, **kw)
        assert error_of(exc) == ("AccessDenied", 403)
        assert ROLE_A in exc.value.response["Error"]["Message"]
    assert assume(emu, ROLE_A, ExternalId="s3cret")["AccessKeyId"]
    rec = emu.control("GET", "assumed-roles?role_arn=" + ROLE_A)[1]
    assert (rec["assumed"], rec["denied"]) == (1, 2)
    assert emu.counts("AKIACALLER")["errors"] == {"sts": {"AccessDenied": 2}}
    # null removes the condition; a bad document changes nothing
    assert emu.control("POST", "assumed-roles", {"trust": {ROLE_A: {"externalId": "x"}}})[0] == 400
    assert emu.control("POST", "assumed-roles", {"nope": 1})[0] == 400
    assert emu.control("POST", "assumed-roles", {"trust": {ROLE_A: None}})[1]["trust"] == {}
    assert assume(emu, ROLE_A)["AccessKeyId"]


def test_faults_and_outage_reach_sts_in_its_error_format(emu: Emu) -> None:
    emu.configure({"faults": {"rate": 1.0, "kinds": ["throttle"], "operations": ["AssumeRole"]}},
                  access_key="AKIACALLER")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        assume(emu, ROLE_A)
    assert error_of(exc) == ("Throttling", 400)
    emu.configure({"faults": {"rate": 1.0, "kinds": ["500"], "operations": ["reads"]}}, access_key="AKIACALLER")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        assume(emu, ROLE_A)
    assert error_of(exc) == ("InternalFailure", 500)
    emu.configure({"faults": None, "outage": "refuse"}, access_key="AKIACALLER")
    with pytest.raises((botocore.exceptions.ConnectionClosedError, botocore.exceptions.ConnectionError)):
        assume(emu, ROLE_A)
    assert emu.counts("AKIACALLER")["outage_refused"] == 1
    assert emu.control("GET", "assumed-roles?role_arn=" + ROLE_A)[1]["assumed"] == 0


def test_a_short_session_expires_when_asked(emu: Emu) -> None:
    import datetime

    status, body = emu.control("POST", "assumed-roles", {"session_s": {ROLE_A: 302}})
    assert status == 200 and body["session_s"] == {ROLE_A: 302.0}
    now = datetime.datetime.now(datetime.timezone.utc)
    short = assume(emu, ROLE_A)["Expiration"] - now
    assert datetime.timedelta(seconds=290) < short < datetime.timedelta(seconds=310), short
    default = assume(emu, ROLE_B)["Expiration"] - now
    assert default > datetime.timedelta(seconds=3500), "other roles: an hour"
    for bad in ({"session_s": {ROLE_A: 0}}, {"session_s": {ROLE_A: "1"}}, {"session_s": []},
                {"trust": {}, "other": {}}, {}):
        assert emu.control("POST", "assumed-roles", bad)[0] == 400, bad
    assert emu.control("POST", "assumed-roles", {"session_s": {ROLE_A: None}})[1]["session_s"] == {}
