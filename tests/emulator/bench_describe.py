#!/usr/bin/env python3
"""Benchmark of the emulator's describe paths at scale (a script, not a test).

    python tests/emulator/bench_describe.py [N] [--repeat R]

Starts an emulator as the tests do (emu_harness.start_emulator), creates N security
groups (default 3000) in one VPC, tagged sgprovisioner.io/owner over N/3 owners (3
groups each) and sgprovisioner.io/cluster, plus N SSM parameters under /sg/<set>/...
(3 per set), then prints p50/p99 latency in ms of the calls the controller makes:

  tag filter      DescribeSecurityGroups, Filters tag:owner=<o> + tag:cluster=<c> (3 groups)
  group ids       DescribeSecurityGroups, GroupIds=[3 ids]
  name + vpc      DescribeSecurityGroups, Filters group-name=<n> + vpc-id=<vpc>
  rules by group  DescribeSecurityGroupRules, Filters group-id=<id>
  ssm by path     SSM GetParametersByPath /sg/<one set>/ (3 parameters)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from emu_harness import CLUSTER, OWNER, start_emulator, stop_emulator  # noqa: E402


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def populate(ec2: Any, ssm: Any, n: int) -> dict[str, Any]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ids: list[str] = []
    for i in range(n):
        owner = f"ns-{i // 3 % 50}/obj-{i // 3}"
        tags = [{"Key": OWNER, "Value": owner}, {"Key": CLUSTER, "Value": "bench"}]
        ids.append(ec2.create_security_group(
            GroupName=f"g-bench-{i}", Description="bench", VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
        )["GroupId"])
    for i in range(n):
        ssm.put_parameter(Name=f"/sg/set-{i // 3}/p{i % 3}", Value="x", Type="String")
    return {"vpc": vpc, "ids": ids}


def calls(ec2: Any, ssm: Any, world: dict[str, Any], n: int) -> dict[str, Callable[[], int]]:
    mid = n // 3 // 2  # an owner in the middle of the set
    owner = f"ns-{mid % 50}/obj-{mid}"
    ids = world["ids"][3 * mid:3 * mid + 3]
    tag_filters = [{"Name": f"tag:{OWNER}", "Values": [owner]}, {"Name": f"tag:{CLUSTER}", "Values": ["bench"]}]
    name_filters = [{"Name": "group-name", "Values": [f"g-bench-{3 * mid}"]}, {"Name": "vpc-id", "Values": [world["vpc"]]}]
    return {
        "tag filter": lambda: len(ec2.describe_security_groups(Filters=tag_filters)["SecurityGroups"]),
        "group ids": lambda: len(ec2.describe_security_groups(GroupIds=ids)["SecurityGroups"]),
        "name + vpc": lambda: len(ec2.describe_security_groups(Filters=name_filters)["SecurityGroups"]),
        "rules by group": lambda: len(ec2.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [ids[0]]}])["SecurityGroupRules"]),
        "ssm by path": lambda: len(ssm.get_parameters_by_path(Path=f"/sg/set-{mid}/", Recursive=True)["Parameters"]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", nargs="?", type=int, default=3000, help="security groups (and SSM parameters)")
    ap.add_argument("--repeat", type=int, default=50, help="calls per measurement")
    args = ap.parse_args()
    emu = start_emulator()
    try:
        ec2, ssm = emu.client("ec2"), emu.client("ssm")
        t0 = time.monotonic()
        world = populate(ec2, ssm, args.n)
        print(f"populated {args.n} groups + {args.n} parameters in {time.monotonic() - t0:.1f}s")
        print(f"{'call':<16}{'results':>8}{'p50 ms':>10}{'p99 ms':>10}")
        for name, call in calls(ec2, ssm, world, args.n).items():
            found = call()  # warm-up (connection, first-call costs)
            samples = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                call()
                samples.append((time.perf_counter() - start) * 1000)
            print(f"{name:<16}{found:>8}{percentile(samples, 50):>10.1f}{percentile(samples, 99):>10.1f}")
    finally:
        rc = stop_emulator(emu)
    return rc


if __name__ == "__main__":
    sys.exit(main())
