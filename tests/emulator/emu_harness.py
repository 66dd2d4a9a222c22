"""Shared harness for the emulator's tests (test_*.py here; fixtures in conftest.py).

Starts and stops an emulator process (free port, ready file, SIGTERM), talks to its
control API, and builds boto3 clients that do not retry.  No sleeps are used for
synchronisation: readiness and recovery are polled with deadlines.
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
from collections.abc import Callable
from typing import Any

import boto3
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

    def counts(self, access_key: str | None = None) -> dict[str, Any]:
        return self.control("GET", "counts", access_key=access_key)[1]

    def configure(self, doc: dict[str, Any], access_key: str | None = None) -> dict[str, Any]:
        status, cfg = self.control("POST", "config", doc, access_key)
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

    def ec2(self, access_key: str = "testing"):
        return self.client("ec2", access_key)


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


def make_sg(ec2, vpc: dict[str, str] | str, name: str, **kw: Any) -> str:
    """`vpc`: the `vpc` fixture's dict, or a VPC id (the `vpc_id` fixture, or a VPC the test made)."""
    vpc_id = vpc if isinstance(vpc, str) else vpc["vpc"]
    return ec2.create_security_group(GroupName=name, Description=f"{name} group", VpcId=vpc_id, **kw)["GroupId"]


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


OWNER = "sgprovisioner.io/owner"
CLUSTER = "sgprovisioner.io/cluster"


def tag_spec(owner: str, cluster: str = "c1") -> list[dict[str, Any]]:
    """TagSpecifications of a group owned by `owner` in `cluster`, as the controller tags it."""
    tags = [{"Key": OWNER, "Value": owner}, {"Key": CLUSTER, "Value": cluster}]
    return [{"ResourceType": "security-group", "Tags": tags}]
