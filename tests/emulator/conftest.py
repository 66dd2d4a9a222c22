"""pytest fixtures for the emulator's tests (helpers in emu_harness.py).

One emulator process serves each test module (started on a free port, stopped with
SIGTERM at teardown); every test starts from POST /_emulator/reset.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from emu_harness import Emu, start_emulator, stop_emulator


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
def vpc_id(ec2) -> str:
    """A VPC (10.0.0.0/16) by its id alone, no subnet."""
    return ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]


@pytest.fixture
def vpc(ec2, vpc_id: str) -> dict[str, str]:
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    return {"vpc": vpc_id, "subnet": subnet_id}
