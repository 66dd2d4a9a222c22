"""Tests for tests/emulator/sg_emulator.py (run: pytest tests/emulator).

One emulator process serves the whole module (started on a free port, stopped
with SIGTERM at teardown); every test starts from POST /_emulator/reset.  A few
tests start their own emulator to check environment variables, SIGTERM and
parent death.  No sleeps are used for synchronisation: readiness and recovery are
polled with deadlines.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "sg_emulator.py")
STARTUP_DEADLINE = 30.0  # generous: CI machines may be busy compiling


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def wait_until(pred: Callable[[], Any], deadline_s: float, what: str, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + deadline_s
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")
        time.sleep(interval)  # polling interval, not synchronisation


class Emu:
    def __init__(self, proc: subprocess.Popen, port: int, ready_file: str) -> None:
        self.proc = proc
        self.port = port
        self.ready_file = ready_file
        self.url = f"http://127.0.0.1:{port}"

    def control(self, method: str, path: str, body: Any = None, access_key: str | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        query = f"?access_key={access_key}" if access_key else ""
        req = urllib.request.Request(self.url + "/_emulator/" + path + query, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def counts(self) -> dict[str, Any]:
        return self.control("GET", "counts")[1]

    def configure(self, doc: dict[str, Any]) -> dict[str, Any]:
        status, cfg = self.control("POST", "config", doc)
        assert status == 200, cfg
        return cfg

    def client(self, service: str, access_key: str = "testing", **cfg: Any):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, **cfg),
        )


def start_emulator(env_extra: dict[str, str] | None = None) -> Emu:
    ready = tempfile.mktemp(prefix="sg-emulator-ready-")
    env = dict(os.environ)
    env.update(env_extra or {})
    cmd = [sys.executable, EMULATOR, "--port", "0", "--ready-file", ready]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)

    def ready_port() -> int | None:
        if proc.poll() is not None:
            raise AssertionError(f"emulator exited early rc={proc.returncode}: {proc.stderr.read()}")
        try:
            with open(ready) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    port = wait_until(ready_port, STARTUP_DEADLINE, "emulator ready file")
    line = proc.stdout.readline().strip()
    assert line == f"EMULATOR_URL=http://127.0.0.1:{port}", line
    return Emu(proc, port, ready)


def stop_emulator(emu: Emu) -> int:
    if emu.proc.poll() is None:
        emu.proc.send_signal(signal.SIGTERM)
    try:
        return emu.proc.wait(timeout=10)
    finally:
        if emu.proc.poll() is None:
            emu.proc.kill()
        for stream in (emu.proc.stdout, emu.proc.stderr):
            if stream:
                stream.close()


def error_of(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def raw_ec2(emu: Emu, params: dict[str, str]) -> tuple[int, str]:
    from urllib.parse import urlencode

    body = urlencode({"Version": "2016-11-15", **params}).encode()
    req = urllib.request.Request(
        emu.url + "/",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emu_proc() -> Iterator[Emu]:
    emu = start_emulator()
    yield emu
    rc = stop_emulator(emu)
    assert rc == 0, f"emulator exit code {rc}"
    assert not os.path.exists(emu.ready_file)


@pytest.fixture
def emu(emu_proc: Emu) -> Emu:
    status, body = emu_proc.control("POST", "reset")
    assert status == 200 and body == {"ok": True}
    return emu_proc


@pytest.fixture
def ec2(emu: Emu):
    return emu.client("ec2")


@pytest.fixture
def ssm(emu: Emu):
    return emu.client("ssm")


@pytest.fixture
def vpc(ec2) -> dict[str, str]:
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    return {"vpc": vpc_id, "subnet": subnet_id}


def make_sg(ec2, vpc: dict[str, str], name: str, **kw: Any) -> str:
    return ec2.create_security_group(GroupName=name, Description=f"{name} group", VpcId=vpc["vpc"], **kw)["GroupId"]


# ---------------------------------------------------------------------------
# basics
# ---------------------------------------------------------------------------


def test_health_and_moto_api(emu: Emu) -> None:
    assert emu.control("GET", "health") == (200, {"ok": True})
    with urllib.request.urlopen(emu.url + "/moto-api/data.json", timeout=10) as r:
        assert r.status == 200
    assert emu.counts()["total"] == 0  # neither control nor moto-api requests count


def test_control_api_errors(emu: Emu) -> None:
    assert emu.control("GET", "nope")[0] == 404
    assert emu.control("POST", "health")[0] == 405
    before = emu.control("GET", "config")[1]
    status, body = emu.control("POST", "config", {"faults": {"rate": 2}})
    assert status == 400 and "rate" in body["error"]
    status, body = emu.control("POST", "config", {"throttle": {"enabled": True, "overrides": {"x": 1}}})
    assert status == 400
    assert emu.control("GET", "config")[1] == before  # a rejected update changes nothing


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
# throttling
# ---------------------------------------------------------------------------


def test_throttling_and_recovery(emu: Emu, ec2, vpc) -> None:
    cfg = emu.configure(
        {"throttle": {"enabled": True, "overrides": {"mutating": {"capacity": 3, "refill_per_sec": 1}}}}
    )
    assert cfg["throttle"]["enabled"] is True

    outcomes = []
    for i in range(10):
        try:
            make_sg(ec2, vpc, f"g{i}")
            outcomes.append("ok")
        except botocore.exceptions.ClientError as e:
            outcomes.append(e.response["Error"]["Code"])
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 503
            assert e.response["Error"]["Message"] == "Request limit exceeded."
            break
    assert outcomes[-1] == "RequestLimitExceeded", outcomes
    assert 3 <= outcomes.count("ok") <= 5, outcomes  # 3 tokens (+ refills if the machine is slow)

    # other actions have their own buckets
    ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["vpc"]]}])

    def created() -> bool:
        try:
            make_sg(ec2, vpc, "after-refill")
            return True
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "RequestLimitExceeded"
            return False

    wait_until(created, 5.0, "the mutating bucket to refill", interval=0.1)
    counts = emu.counts()
    assert counts["throttled"] >= 1
    assert counts["errors"]["ec2"]["RequestLimitExceeded"] == counts["throttled"]

    emu.configure({"throttle": {"enabled": False}})
    for i in range(5):
        make_sg(ec2, vpc, f"unthrottled{i}")


def test_throttling_unfiltered_bucket_and_ssm(emu: Emu, ec2, ssm, vpc) -> None:
    emu.configure(
        {
            "throttle": {
                "enabled": True,
                "overrides": {
                    "unfiltered_unpaginated": {"capacity": 1, "refill_per_sec": 0.01},
                    "ssm": {"capacity": 2, "refill_per_sec": 0.01},
                },
            }
        }
    )
    ec2.describe_security_groups()
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ec2.describe_security_groups()
    assert error_of(exc) == ("RequestLimitExceeded", 503)
    # filtered calls use the (larger) non-mutating bucket
    for _ in range(3):
        ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["vpc"]]}])

    ssm.put_parameter(Name="/t/a", Value="1", Type="String")
    ssm.get_parameter(Name="/t/a")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.get_parameter(Name="/t/a")
    assert error_of(exc) == ("ThrottlingException", 400)


def test_throttle_and_faults_from_env() -> None:
    emu = start_emulator(
        {
            "SG_EMULATOR_THROTTLE": "1",
            "SG_EMULATOR_FAULTS": json.dumps({"rate": 1.0, "seed": 7, "kinds": ["503"], "operations": ["DescribeVpcs"]}),
        }
    )
    try:
        cfg = emu.control("GET", "config")[1]
        assert cfg["throttle"]["enabled"] is True
        assert cfg["throttle"]["defaults"]["mutating"] == {"capacity": 50, "refill_per_sec": 5}
        assert cfg["faults"]["seed"] == 7
        ec2 = emu.client("ec2")
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            ec2.describe_vpcs()
        assert error_of(exc) == ("Unavailable", 503)
        # reset returns to the startup (env) configuration
        emu.configure({"throttle": {"enabled": False}, "faults": None})
        assert emu.control("POST", "reset")[0] == 200
        cfg = emu.control("GET", "config")[1]
        assert cfg["throttle"]["enabled"] is True and cfg["faults"]["seed"] == 7
    finally:
        t0 = time.monotonic()
        assert stop_emulator(emu) == 0  # SIGTERM: clean exit ...
    assert time.monotonic() - t0 < 5  # ... promptly ...
    assert not os.path.exists(emu.ready_file)  # ... and the ready file is removed


# ---------------------------------------------------------------------------
# fault injection
# ---------------------------------------------------------------------------


def _outcome_sequence(ec2, n: int) -> list[str]:
    seq = []
    for _ in range(n):
        try:
            ec2.describe_vpcs()
            seq.append("ok")
        except botocore.exceptions.ClientError as e:
            seq.append(f'{e.response["Error"]["Code"]}/{e.response["ResponseMetadata"]["HTTPStatusCode"]}')
    return seq


def test_faults_deterministic_with_seed(emu: Emu, ec2) -> None:
    faults = {"rate": 0.5, "seed": 42, "kinds": ["500", "503", "throttle"]}
    emu.configure({"faults": faults})
    first = _outcome_sequence(ec2, 30)
    emu.configure({"faults": faults})  # setting the config again re-seeds
    second = _outcome_sequence(ec2, 30)
    assert first == second
    assert "ok" in first
    assert {"InternalError/500", "Unavailable/503", "RequestLimitExceeded/503"} <= set(first), first
    emu.configure({"faults": {**faults, "seed": 43}})
    assert _outcome_sequence(ec2, 30) != first
    counts = emu.counts()
    assert counts["faults_injected"] == sum(counts["faults_by_kind"].values())
    assert counts["faults_injected"] == 90 - counts["ok"]


def test_faulted_write_has_no_effect(emu: Emu, ec2, vpc) -> None:
    emu.configure({"faults": {"rate": 1.0, "kinds": ["500"], "operations": ["CreateSecurityGroup"]}})
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        make_sg(ec2, vpc, "never")
    assert error_of(exc) == ("InternalError", 500)
    ec2.describe_vpcs()  # not in "operations": untouched
    emu.configure({"faults": None})
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["never"]}])
    assert groups["SecurityGroups"] == []
    assert emu.counts()["faults_injected"] == 1


def test_fault_drop_is_a_connection_error(emu: Emu, ec2, ssm) -> None:
    emu.configure({"faults": {"rate": 1.0, "kinds": ["drop"]}})
    with pytest.raises((botocore.exceptions.ConnectionClosedError, botocore.exceptions.ConnectionError)):
        ec2.describe_vpcs()
    with pytest.raises((botocore.exceptions.ConnectionClosedError, botocore.exceptions.ConnectionError)):
        ssm.get_parameters_by_path(Path="/")
    emu.configure({"faults": None})
    ec2.describe_vpcs()
    counts = emu.counts()
    assert counts["faults_by_kind"] == {"drop": 2}
    assert counts["errors"] == {"ec2": {"ConnectionDropped": 1}, "ssm": {"ConnectionDropped": 1}}


def test_fault_slow(emu: Emu, ec2) -> None:
    emu.configure({"faults": {"rate": 1.0, "kinds": ["slow"], "slow_seconds": 0.4}})
    t0 = time.monotonic()
    ec2.describe_vpcs()
    assert time.monotonic() - t0 >= 0.4
    assert emu.counts()["faults_by_kind"] == {"slow": 1}


# ---------------------------------------------------------------------------
# counters and reset
# ---------------------------------------------------------------------------


def test_access_key_scopes(emu: Emu) -> None:
    a, b = emu.client("ec2", access_key="AKIAKEYA"), emu.client("ec2", access_key="AKIAKEYB")
    assert emu.control("GET", "counts", access_key="AKIAKEYA")[1]["total"] == 0  # unseen key: zeros
    cfg = emu.control(
        "POST", "config",
        {"throttle": {"enabled": True, "overrides": {"non_mutating": {"capacity": 1, "refill_per_sec": 0.01}}}},
        access_key="AKIAKEYA",
    )[1]
    assert cfg["throttle"]["enabled"] is True
    assert emu.control("GET", "config")[1]["throttle"]["enabled"] is False  # global untouched
    a.describe_vpcs()
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        a.describe_vpcs()
    assert error_of(exc) == ("RequestLimitExceeded", 503)
    for _ in range(3):
        b.describe_vpcs()  # other keys use the global (unthrottled) configuration

    counts_a = emu.control("GET", "counts", access_key="AKIAKEYA")[1]
    counts_b = emu.control("GET", "counts", access_key="AKIAKEYB")[1]
    assert (counts_a["total"], counts_a["throttled"], counts_a["ok"]) == (2, 1, 1)
    assert (counts_b["total"], counts_b["ok"], counts_b["by_operation"]) == (3, 3, {"ec2": {"DescribeVpcs": 3}})
    assert emu.counts()["total"] == 5  # the global counters see everything

    emu.control("POST", "counts/reset", access_key="AKIAKEYA")
    assert emu.control("GET", "counts", access_key="AKIAKEYA")[1]["total"] == 0
    assert emu.control("GET", "counts", access_key="AKIAKEYB")[1]["total"] == 3
    emu.control("POST", "config", {"throttle": {"enabled": False}, "faults": None}, access_key="AKIAKEYA")
    a.describe_vpcs()


def test_counters(emu: Emu, ec2, ssm, vpc) -> None:
    assert emu.control("POST", "counts/reset") == (200, {"ok": True})
    sg = make_sg(ec2, vpc, "counted")
    ec2.describe_security_groups(GroupIds=[sg])
    ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["vpc"]]}])
    ssm.put_parameter(Name="/c/p", Value="v", Type="String")
    ssm.get_parameter(Name="/c/p")
    with pytest.raises(botocore.exceptions.ClientError):
        ssm.get_parameter(Name="/c/missing")
    emu.control("GET", "health")

    c = emu.counts()
    assert c["total"] == 6
    assert c["reads"] == 4 and c["writes"] == 2
    assert c["ok"] == 5
    assert c["by_operation"] == {
        "ec2": {"CreateSecurityGroup": 1, "DescribeSecurityGroups": 2},
        "ssm": {"PutParameter": 1, "GetParameter": 2},
    }
    assert c["errors"] == {"ssm": {"ParameterNotFound": 1}}
    assert c["outcomes"]["ssm"]["GetParameter"] == {"ok": 1, "ParameterNotFound": 1}
    assert c["faults_injected"] == 0

    emu.control("POST", "counts/reset")
    assert emu.counts()["total"] == 0


def test_reset(emu: Emu, ec2, ssm, vpc) -> None:
    sg = make_sg(ec2, vpc, "gone")
    ssm.put_parameter(Name="/r/p", Value="v", Type="String")
    emu.configure({"throttle": {"enabled": True}, "faults": {"rate": 0.0}})
    assert emu.control("POST", "reset") == (200, {"ok": True})
    assert emu.counts()["total"] == 0
    cfg = emu.control("GET", "config")[1]
    assert cfg["throttle"]["enabled"] is False and cfg["faults"] is None
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ec2.describe_security_groups(GroupIds=[sg])
    assert error_of(exc)[0] == "InvalidGroup.NotFound"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.get_parameter(Name="/r/p")
    assert error_of(exc)[0] == "ParameterNotFound"


# ---------------------------------------------------------------------------
# EC2 / SSM surface the controller uses (incl. moto gaps fixed in moto_patches.py)
# ---------------------------------------------------------------------------

OWNER = "sgprovisioner.io/owner"


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


def test_ssm_parameters(ssm) -> None:
    assert ssm.put_parameter(
        Name="/sg/ns/a", Value="sg-1", Type="String", Tags=[{"Key": OWNER, "Value": "ns/a"}]
    )["Version"] == 1
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.put_parameter(Name="/sg/ns/a", Value="sg-2", Type="String")
    assert error_of(exc) == ("ParameterAlreadyExists", 400)
    assert ssm.put_parameter(Name="/sg/ns/a", Value="sg-2", Type="String", Overwrite=True)["Version"] == 2
    assert ssm.get_parameter(Name="/sg/ns/a")["Parameter"]["Value"] == "sg-2"
    ssm.put_parameter(Name="/sg/ns/deep/b", Value="sg-3", Type="String")
    ssm.put_parameter(Name="/other/c", Value="x", Type="String")
    names = sorted(
        p["Name"]
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/sg", Recursive=True)
        for p in page["Parameters"]
    )
    assert names == ["/sg/ns/a", "/sg/ns/deep/b"]
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/sg/ns/a")["TagList"] == [
        {"Key": OWNER, "Value": "ns/a"}
    ]
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId="/sg/ns/deep/b", Tags=[{"Key": OWNER, "Value": "x"}])
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/sg/ns/deep/b")["TagList"] == [
        {"Key": OWNER, "Value": "x"}
    ]
    ssm.delete_parameter(Name="/other/c")
    resp = ssm.delete_parameters(Names=["/sg/ns/a", "/sg/ns/deep/b", "/sg/nope"])
    assert sorted(resp["DeletedParameters"]) == ["/sg/ns/a", "/sg/ns/deep/b"]
    assert resp["InvalidParameters"] == ["/sg/nope"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.delete_parameter(Name="/other/c")
    assert error_of(exc) == ("ParameterNotFound", 400)


# ---------------------------------------------------------------------------
# process lifecycle
# ---------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_exits_when_parent_dies() -> None:
    ready = tempfile.mktemp(prefix="sg-emulator-ready-")
    # an intermediate parent that starts the emulator, waits for it, and dies
    launcher = (
        "import os, subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, {EMULATOR!r}, '--port', '0', '--ready-file', {ready!r}],"
        " stdout=subprocess.DEVNULL)\n"
        "deadline = time.monotonic() + 30\n"
        f"while not os.path.exists({ready!r}) and time.monotonic() < deadline and p.poll() is None:\n"
        "    time.sleep(0.02)\n"
        "print(p.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True, timeout=60)
    pid = int(out.stdout.strip())
    try:
        wait_until(lambda: not _alive(pid), 10.0, "the orphaned emulator to exit", interval=0.05)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
