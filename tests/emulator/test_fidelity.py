"""AWS behaviours the emulator adds or corrects over moto, beyond test_emulator.py:
dual-stack VPCs, protocol numbers without ports, the drop-after-commit fault, the
rules-per-security-group quota and the rule-reference filters of DescribeSecurityGroups.

Self-contained: one emulator process for the module (free port, SIGTERM at the end),
reset before every test.  Each section names the AWS documentation it follows (also
cited in README.md, "What it adds over moto").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "sg_emulator.py")
STARTUP_DEADLINE = 30.0
CONNECTION_ERRORS = (botocore.exceptions.ConnectionClosedError, botocore.exceptions.ConnectionError)


# ---------------------------------------------------------------------------
# harness
# ---------------------------------------------------------------------------


class Emu:
    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}"

    def control(self, method: str, path: str, body: Any = None, access_key: str | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        query = f"?access_key={access_key}" if access_key else ""
        req = urllib.request.Request(f"{self.url}/_emulator/{path}{query}", data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def configure(self, doc: dict[str, Any], access_key: str | None = None) -> dict[str, Any]:
        status, cfg = self.control("POST", "config", doc, access_key)
        assert status == 200, cfg
        return cfg

    def counts(self, access_key: str | None = None) -> dict[str, Any]:
        return self.control("GET", "counts", access_key=access_key)[1]

    def ec2(self, access_key: str = "testing"):
        return boto3.client(
            "ec2",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )


def _wait_for_port(proc: subprocess.Popen, ready: str) -> int:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"emulator exited early rc={proc.returncode}")
        try:
            with open(ready) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            time.sleep(0.02)  # polling interval, not synchronisation
    raise AssertionError("timed out waiting for the emulator's ready file")


@pytest.fixture(scope="module")
def emu_proc() -> Iterator[Emu]:
    ready = tempfile.mktemp(prefix="sg-emulator-ready-")
    cmd = [sys.executable, EMULATOR, "--port", "0", "--ready-file", ready]
    # stderr to a file, not a pipe nobody reads: a full pipe would stall the emulator
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            yield Emu(proc, _wait_for_port(proc, ready))
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=10)
            stderr.seek(0)
            assert rc == 0, stderr.read().decode(errors="replace")[-2000:]


@pytest.fixture
def emu(emu_proc: Emu) -> Emu:
    assert emu_proc.control("POST", "reset") == (200, {"ok": True})
    return emu_proc


@pytest.fixture
def ec2(emu: Emu):
    return emu.ec2()


@pytest.fixture
def vpc(ec2) -> str:
    return ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]


def make_sg(ec2, vpc_id: str, name: str) -> str:
    return ec2.create_security_group(GroupName=name, Description=f"{name} group", VpcId=vpc_id)["GroupId"]


def error_of(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def rules_of(ec2, sg: str, egress: bool) -> dict[tuple, dict]:
    """(protocol, from, to, peer) -> DescribeSecurityGroupRules entry, one direction."""
    found = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]
    out = {}
    for r in found:
        if r["IsEgress"] == egress:
            peer = r.get("CidrIpv4") or r.get("CidrIpv6") or r.get("PrefixListId") or r["ReferencedGroupInfo"]["GroupId"]
            out[(r["IpProtocol"], r["FromPort"], r["ToPort"], peer)] = r
    return out


def cidr_perm(cidr: str, port: int = 443, protocol: str = "tcp") -> dict[str, Any]:
    key, item = ("Ipv6Ranges", "CidrIpv6") if ":" in cidr else ("IpRanges", "CidrIp")
    return {"IpProtocol": protocol, "FromPort": port, "ToPort": port, key: [{item: cidr}]}


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


def test_no_ipv6_egress_rule_without_an_associated_ipv6_block(ec2, vpc) -> None:
    assert set(rules_of(ec2, make_sg(ec2, vpc, "v4only"), egress=True)) == {ALL_V4}
    dual = ec2.create_vpc(CidrBlock="10.2.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]
    ec2.disassociate_vpc_cidr_block(AssociationId=dual["Ipv6CidrBlockAssociationSet"][0]["AssociationId"])
    # moto keeps the block as "disassociated" and used to add ::/0 all the same
    assert set(rules_of(ec2, make_sg(ec2, dual["VpcId"], "after"), egress=True)) == {ALL_V4}


def test_ipv6_egress_rule_revocable_in_an_ipv4_only_vpc(ec2, vpc) -> None:
    sg = make_sg(ec2, vpc, "v4vpc")
    perm = cidr_perm("2001:db8::/32", port=443)
    ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=[perm])
    # moto dropped the IPv6 range from the request here and answered success, rule kept
    resp = ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=[perm])
    assert [r["CidrIpv6"] for r in resp["RevokedSecurityGroupRules"]] == ["2001:db8::/32"]
    assert set(rules_of(ec2, sg, egress=True)) == {ALL_V4}


# ---------------------------------------------------------------------------
# 2. IpProtocol numbers without ports
#    (EC2 API Reference, IpPermission: "specifying -1 or a protocol number other than
#    tcp, udp, icmp, or icmpv6 allows traffic on all ports, regardless of any port
#    range you specify. For tcp, udp, and icmp, you must specify a port range. For
#    icmpv6, the port range is optional")
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["ingress", "egress"])
@pytest.mark.parametrize("protocol", ["50", "51", "47"])
def test_protocol_number_without_ports(ec2, vpc, protocol: str, direction: str) -> None:
    sg = make_sg(ec2, vpc, "ipsec")
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


def test_ports_of_a_portless_protocol_are_ignored(ec2, vpc) -> None:
    sg = make_sg(ec2, vpc, "esp")
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


def test_protocol_names_numbers_and_icmpv6(ec2, vpc) -> None:
    sg = make_sg(ec2, vpc, "names")
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
def test_invalid_protocol_or_missing_ports_is_a_client_error(ec2, vpc, perm: dict, message: str) -> None:
    sg = make_sg(ec2, vpc, "bad")
    with pytest.raises(botocore.exceptions.ClientError) as exc:  # moto answered HTTP 500
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{**perm, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    assert error_of(exc) == ("InvalidParameterValue", 400)
    assert message in exc.value.response["Error"]["Message"]
    assert rules_of(ec2, sg, egress=False) == {}


def test_modify_rule_to_a_protocol_number(ec2, vpc) -> None:
    sg = make_sg(ec2, vpc, "modify")
    rule = ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.0.0.0/8", 500, "udp")])
    rid = rule["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    ec2.modify_security_group_rules(GroupId=sg, SecurityGroupRules=[{
        "SecurityGroupRuleId": rid,
        "SecurityGroupRule": {"IpProtocol": "50", "FromPort": 500, "ToPort": 500, "CidrIpv4": "10.0.0.0/8"},
    }])
    assert set(rules_of(ec2, sg, egress=False)) == {("50", -1, -1, "10.0.0.0/8")}


# ---------------------------------------------------------------------------
# 3. drop_after_commit: the write is made, its answer is lost
#    (EC2 API Reference, "Ensuring idempotency": a client that gets no answer
#    cannot tell whether the request was carried out, and retries)
# ---------------------------------------------------------------------------


def _drop_after_commit(operations: list[str], **extra: Any) -> dict[str, Any]:
    return {"faults": {"rate": 1.0, "kinds": ["drop_after_commit"], "operations": operations, **extra}}


def _group_named(ec2, name: str) -> list[str]:
    found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    return [g["GroupId"] for g in found]


def test_create_whose_answer_is_dropped_still_creates(emu: Emu, ec2, vpc) -> None:
    emu.configure(_drop_after_commit(["CreateSecurityGroup"]))
    with pytest.raises(CONNECTION_ERRORS):
        make_sg(ec2, vpc, "committed")
    assert len(_group_named(ec2, "committed")) == 1  # reads are not in "operations"
    with pytest.raises(CONNECTION_ERRORS):  # the client's retry: moto answers Duplicate, also lost
        make_sg(ec2, vpc, "committed")
    emu.configure({"faults": None})
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        make_sg(ec2, vpc, "committed")
    assert error_of(exc) == ("InvalidGroup.Duplicate", 400)
    counts = emu.counts()
    assert counts["faults_by_kind"] == {"drop_after_commit": 2}
    assert counts["errors"]["ec2"] == {"ConnectionDropped": 2, "InvalidGroup.Duplicate": 1}


def test_drop_after_commit_every_nth_write(emu: Emu, ec2, vpc) -> None:
    cfg = emu.configure(_drop_after_commit(["writes"], every=2))
    assert cfg["faults"]["every"] == 2
    sg = make_sg(ec2, vpc, "first")  # write 1: answered
    perm = cidr_perm("10.0.0.0/8")
    with pytest.raises(CONNECTION_ERRORS):  # write 2: made, answer dropped
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[perm])
    ec2.describe_security_groups(GroupIds=[sg])  # reads are not counted
    with pytest.raises(botocore.exceptions.ClientError) as exc:  # write 3, the retry: answered
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[perm])
    assert error_of(exc) == ("InvalidPermission.Duplicate", 400)
    assert ("tcp", 443, 443, "10.0.0.0/8") in rules_of(ec2, sg, egress=False)
    assert emu.counts()["faults_by_kind"] == {"drop_after_commit": 1}


def test_drop_after_commit_per_access_key(emu: Emu, vpc) -> None:
    faulty, healthy = emu.ec2("AKIAFAULTY"), emu.ec2("AKIAHEALTHY")
    emu.configure(_drop_after_commit(["CreateSecurityGroup"]), access_key="AKIAFAULTY")
    with pytest.raises(CONNECTION_ERRORS):
        make_sg(faulty, vpc, "by-faulty")
    make_sg(healthy, vpc, "by-healthy")
    assert len(_group_named(healthy, "by-faulty")) == 1
    assert emu.counts("AKIAFAULTY")["faults_by_kind"] == {"drop_after_commit": 1}
    assert emu.counts("AKIAHEALTHY")["faults_injected"] == 0


def test_fault_config_every_and_default_kinds(emu: Emu) -> None:
    cfg = emu.configure({"faults": {"rate": 0.0}})
    assert cfg["faults"]["kinds"] == ["500", "503", "throttle", "drop", "slow"]  # opt-in kind
    assert cfg["faults"]["every"] is None
    for bad in ({"every": 0}, {"every": "2"}, {"every": True}, {"kinds": ["drop_before_commit"]}):
        status, body = emu.control("POST", "config", {"faults": bad})
        assert status == 400, body
    assert emu.control("GET", "config")[1]["faults"] == cfg["faults"]


# ---------------------------------------------------------------------------
# 4. the rules quota
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


def test_default_quota_is_60_inbound_rules(emu: Emu, ec2, vpc) -> None:
    assert emu.control("GET", "config")[1]["quotas"] == {"rules_per_security_group": 60}
    sg = make_sg(ec2, vpc, "big")
    cidrs = [{"CidrIp": f"10.{i}.0.0/16"} for i in range(61)]
    perm = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    _assert_quota_exceeded(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[{**perm, "IpRanges": cidrs}])
    assert rules_of(ec2, sg, egress=False) == {}
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{**perm, "IpRanges": cidrs[:60]}])
    assert len(rules_of(ec2, sg, egress=False)) == 60


def test_quota_exceeded_changes_nothing(emu: Emu, ec2, vpc) -> None:
    _quota(emu, 3)
    sg = make_sg(ec2, vpc, "small")
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


def test_quota_per_direction_and_address_family(emu: Emu, ec2, vpc) -> None:
    _quota(emu, 2)
    sg, peer = make_sg(ec2, vpc, "families"), make_sg(ec2, vpc, "peer")
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


def test_prefix_list_counts_as_its_max_entries(emu: Emu, ec2, vpc) -> None:
    _quota(emu, 4)
    sg = make_sg(ec2, vpc, "pl")
    pl = ec2.create_managed_prefix_list(
        PrefixListName="corp", MaxEntries=3, AddressFamily="IPv4", Entries=[{"Cidr": "192.0.2.0/24"}]
    )["PrefixList"]["PrefixListId"]
    perm = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": pl}]}
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[perm])  # 3 of 4
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[cidr_perm("10.1.0.0/16")])  # 4 of 4
    _assert_quota_exceeded(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[cidr_perm("10.2.0.0/16")])


def test_quota_config_per_key_validation_and_reset(emu: Emu, vpc) -> None:
    small, other = emu.ec2("AKIASMALL"), emu.ec2("AKIAOTHER")
    _quota(emu, 1, access_key="AKIASMALL")
    assert emu.control("GET", "config")[1]["quotas"] == {"rules_per_security_group": 60}
    sg = make_sg(other, vpc, "shared")
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
# 5. DescribeSecurityGroups filters on what rules reference
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


def test_filters_on_referenced_group_id(ec2, vpc) -> None:
    target, other_target = make_sg(ec2, vpc, "target"), make_sg(ec2, vpc, "other-target")
    inbound, outbound, both = (make_sg(ec2, vpc, n) for n in ("inbound", "outbound", "both"))
    _reference(ec2, "ingress", inbound, target)
    _reference(ec2, "egress", outbound, target)
    _reference(ec2, "ingress", both, target)
    _reference(ec2, "egress", both, other_target)
    make_sg(ec2, vpc, "unrelated")

    assert _ids(ec2, ("ip-permission.group-id", [target])) == {inbound, both}
    assert _ids(ec2, ("egress.ip-permission.group-id", [target])) == {outbound}
    assert _ids(ec2, ("egress.ip-permission.group-id", [target, other_target])) == {outbound, both}
    assert _ids(ec2, ("ip-permission.group-id", [target]), ("egress.ip-permission.group-id", [other_target])) == {both}
    assert _ids(ec2, ("ip-permission.group-id", [target]), ("vpc-id", [vpc])) == {inbound, both}
    assert _ids(ec2, ("ip-permission.group-id", [other_target])) == set()


def test_filters_on_ipv6_cidr_and_prefix_list(ec2, vpc) -> None:
    sg, out = make_sg(ec2, vpc, "v6"), make_sg(ec2, vpc, "out")
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
