"""The drop_after_commit fault (the write is made, its answer is lost) and the fault
config's `every` and default kinds.

AWS behaviour the emulator adds or corrects over moto (the other areas: test_fidelity_vpc.py,
test_fidelity_rules.py).  Fixtures from conftest.py, helpers from emu_harness.py.
The section names the AWS documentation it follows (also cited in
README.md, "What it adds over moto").
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from emu_harness import Emu, cidr_perm, error_of, make_sg, rules_of

CONNECTION_ERRORS = (botocore.exceptions.ConnectionClosedError, botocore.exceptions.ConnectionError)


# ---------------------------------------------------------------------------
# 1. drop_after_commit: the write is made, its answer is lost
#    (EC2 API Reference, "Ensuring idempotency": a client that gets no answer
#    cannot tell whether the request was carried out, and retries)
# ---------------------------------------------------------------------------


def _drop_after_commit(operations: list[str], **extra: Any) -> dict[str, Any]:
    return {"faults": {"rate": 1.0, "kinds": ["drop_after_commit"], "operations": operations, **extra}}


def _group_named(ec2, name: str) -> list[str]:
    found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    return [g["GroupId"] for g in found]


def test_create_whose_answer_is_dropped_still_creates(emu: Emu, ec2, vpc_id) -> None:
    emu.configure(_drop_after_commit(["CreateSecurityGroup"]))
    with pytest.raises(CONNECTION_ERRORS):
        make_sg(ec2, vpc_id, "committed")
    assert len(_group_named(ec2, "committed")) == 1  # reads are not in "operations"
    with pytest.raises(CONNECTION_ERRORS):  # the client's retry: moto answers Duplicate, also lost
        make_sg(ec2, vpc_id, "committed")
    emu.configure({"faults": None})
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        make_sg(ec2, vpc_id, "committed")
    assert error_of(exc) == ("InvalidGroup.Duplicate", 400)
    counts = emu.counts()
    assert counts["faults_by_kind"] == {"drop_after_commit": 2}
    assert counts["errors"]["ec2"] == {"ConnectionDropped": 2, "InvalidGroup.Duplicate": 1}


def test_drop_after_commit_every_nth_write(emu: Emu, ec2, vpc_id) -> None:
    cfg = emu.configure(_drop_after_commit(["writes"], every=2))
    assert cfg["faults"]["every"] == 2
    sg = make_sg(ec2, vpc_id, "first")  # write 1: answered
    perm = cidr_perm("10.0.0.0/8")
    with pytest.raises(CONNECTION_ERRORS):  # write 2: made, answer dropped
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[perm])
    ec2.describe_security_groups(GroupIds=[sg])  # reads are not counted
    with pytest.raises(botocore.exceptions.ClientError) as exc:  # write 3, the retry: answered
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[perm])
    assert error_of(exc) == ("InvalidPermission.Duplicate", 400)
    assert ("tcp", 443, 443, "10.0.0.0/8") in rules_of(ec2, sg, egress=False)
    assert emu.counts()["faults_by_kind"] == {"drop_after_commit": 1}


def test_drop_after_commit_per_access_key(emu: Emu, vpc_id) -> None:
    faulty, healthy = emu.ec2("AKIAFAULTY"), emu.ec2("AKIAHEALTHY")
    emu.configure(_drop_after_commit(["CreateSecurityGroup"]), access_key="AKIAFAULTY")
    with pytest.raises(CONNECTION_ERRORS):
        make_sg(faulty, vpc_id, "by-faulty")
    make_sg(healthy, vpc_id, "by-healthy")
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
