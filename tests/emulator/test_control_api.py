"""The control endpoint (/_emulator/...): health, refused requests, per-access-key
scopes, request counters and reset."""

from __future__ import annotations

import time
import urllib.request

import botocore.exceptions
import pytest

from emu_harness import Emu, error_of, make_sg


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
    before = time.time()
    sg = make_sg(ec2, vpc, "counted")
    with pytest.raises(botocore.exceptions.ClientError):
        make_sg(ec2, vpc, "counted")  # a second create of the name keeps the first time
    ec2.describe_security_groups(GroupIds=[sg])
    ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["vpc"]]}])
    ssm.put_parameter(Name="/c/p", Value="v", Type="String")
    ssm.get_parameter(Name="/c/p")
    with pytest.raises(botocore.exceptions.ClientError):
        ssm.get_parameter(Name="/c/missing")
    emu.control("GET", "health")

    c = emu.counts()
    assert c["total"] == 7
    assert c["reads"] == 4 and c["writes"] == 3
    assert c["ok"] == 5
    assert list(c["first_create_at"]) == ["counted"]
    assert before <= c["first_create_at"]["counted"] <= time.time()
    assert c["by_operation"] == {
        "ec2": {"CreateSecurityGroup": 2, "DescribeSecurityGroups": 2},
        "ssm": {"PutParameter": 1, "GetParameter": 2},
    }
    assert c["errors"] == {"ec2": {"InvalidGroup.Duplicate": 1}, "ssm": {"ParameterNotFound": 1}}
    assert c["outcomes"]["ssm"]["GetParameter"] == {"ok": 1, "ParameterNotFound": 1}
    assert c["faults_injected"] == 0

    emu.control("POST", "counts/reset")
    assert emu.counts()["total"] == 0 and emu.counts()["first_create_at"] == {}


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
