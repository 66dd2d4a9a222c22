"""Throttling (token buckets, AWS's error shapes, recovery) and fault injection
(seeded error kinds, dropped connections, slow responses), set through the control
API or the environment."""

from __future__ import annotations

import json
import os
import time

import botocore.exceptions
import pytest

from emu_harness import Emu, error_of, make_sg, start_emulator, stop_emulator, wait_until


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


CONNECTION_ERRORS = (botocore.exceptions.ConnectionClosedError, botocore.exceptions.ConnectionError)


def test_outage_refuses_every_aws_request_until_lifted(emu: Emu, ec2, ssm, vpc_id) -> None:
    assert emu.configure({"outage": "refuse"})["outage"] == "refuse"
    with pytest.raises(CONNECTION_ERRORS):
        make_sg(ec2, vpc_id, "during-outage")  # a write: refused before moto sees it
    with pytest.raises(CONNECTION_ERRORS):
        ssm.get_parameters_by_path(Path="/")
    assert emu.control("GET", "health") == (200, {"ok": True})  # the control API still answers
    counts = emu.counts()
    assert counts["outage_refused"] == 2
    assert counts["errors"] == {"ec2": {"OutageRefused": 1}, "ssm": {"OutageRefused": 1}}
    assert counts["faults_injected"] == 0 and counts["throttled"] == 0

    assert emu.configure({"outage": None})["outage"] is None
    names = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    assert "during-outage" not in names
    make_sg(ec2, vpc_id, "after-outage")
    assert ssm.get_parameters_by_path(Path="/")["Parameters"] == []
    assert emu.counts()["outage_refused"] == 2


def test_outage_per_access_key_and_reset(emu: Emu) -> None:
    down, up = emu.client("ec2", access_key="down-key"), emu.client("ec2", access_key="up-key")
    emu.configure({"outage": "refuse"}, access_key="down-key")
    with pytest.raises(CONNECTION_ERRORS):
        down.describe_vpcs()
    up.describe_vpcs()
    assert emu.control("GET", "config")[1]["outage"] is None
    assert emu.counts(access_key="down-key")["outage_refused"] == 1
    assert emu.counts(access_key="up-key")["outage_refused"] == 0
    status, body = emu.control("POST", "config", {"outage": "drop"})
    assert status == 400 and "outage" in body["error"]

    emu.configure({"outage": "refuse"})  # global: every key without a config of its own
    with pytest.raises(CONNECTION_ERRORS):
        up.describe_vpcs()
    assert emu.control("POST", "reset")[0] == 200
    down.describe_vpcs()
    up.describe_vpcs()
    assert emu.counts()["outage_refused"] == 0
