"""moto_patches' cheap filtered describes (patch 11) against moto's own methods, in-process.

A module-scoped moto (mock_aws) holds groups in two VPCs with owner/cluster tags; each
test compares the patched backend methods with the moto originals they replace, for a
spread of filters (globs, several values, unknown filters, group ids): same groups, same
order, same errors.  Nothing here changes that state.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from emu_harness import CLUSTER, OWNER, make_sg, tag_spec

FILTER_CASES: list[dict[str, list[str]]] = [
    {f"tag:{OWNER}": ["ns/o1"]},
    {f"tag:{OWNER}": ["ns/o1"], f"tag:{CLUSTER}": ["c1"]},
    {f"tag:{CLUSTER}": ["c1"], f"tag:{OWNER}": ["ns/o2", "ns/o3"]},
    {f"tag:{OWNER}": ["ns/o*"], f"tag:{CLUSTER}": ["c?"]},
    {f"tag:{OWNER}": ["ns/o[12]"]},
    {f"tag:{OWNER}": ["missing"]},
    {"group-name": ["g.1"]},
    {"group-name": ["g-1*"], "vpc-id": ["vpc-*"]},
    {"group-name": ["g-2"], "description": ["d"]},
    {"group-id": ["sg-*"], f"tag:{OWNER}": ["ns/o2"]},
    {"tag-key": [OWNER], f"tag:{CLUSTER}": ["c2"]},
    {"vpc-id": ["None"]},
    {"egress.ip-permission.cidr": ["0.0.0.0/0"], f"tag:{OWNER}": ["ns/o1"]},
]


@pytest.fixture(scope="module")
def backend():
    from moto import mock_aws

    import moto_patches

    moto_patches.apply()
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        vpcs = [ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"] for i in range(2)]
        for i in range(12):
            owner, cluster = f"ns/o{i % 4}", f"c{i % 2 + 1}"
            name = f"g-{i}" if i != 5 else "g.1"
            make_sg(ec2, vpcs[i % 2], name, TagSpecifications=tag_spec(owner, cluster))
        from moto.ec2.models import ec2_backends

        yield ec2_backends["123456789012"]["us-east-1"]


def outcome(call: Any) -> Any:
    try:
        return [getattr(x, "id", x) for x in call()]
    except Exception as e:  # noqa: BLE001 - the error is the outcome compared
        return type(e).__name__


@pytest.mark.parametrize("filters", FILTER_CASES, ids=lambda f: ",".join(f))
def test_describe_groups_equals_moto(backend, filters):
    import moto_patches

    got = outcome(lambda: moto_patches._describe_security_groups(backend, filters=filters))
    want = outcome(lambda: moto_patches._orig_describe_groups(backend, filters=filters))
    assert got == want
    assert got != "KeyError"


def test_describe_groups_unknown_filter_and_ids_equal_moto(backend):
    import moto_patches

    ids = [g.id for g in moto_patches._orig_describe_groups(backend)][3:6]
    for kwargs in (
        {"filters": {f"tag:{OWNER}": ["missing"], "no-such-filter": ["x"]}},
        {"filters": {"no-such-filter": ["x"], f"tag:{OWNER}": ["ns/o1"]}},
        {"group_ids": ids}, {"group_ids": ids + ["sg-00000000"]},
        {"group_ids": ids, "filters": {f"tag:{OWNER}": ["ns/o1", "ns/o2"]}},
        {"groupnames": ["g-1"]},
    ):
        got = outcome(lambda: moto_patches._describe_security_groups(backend, **kwargs))
        assert got == outcome(lambda: moto_patches._orig_describe_groups(backend, **kwargs)), kwargs


def test_describe_rules_and_tags_equal_moto(backend):
    import moto_patches

    groups = moto_patches._orig_describe_groups(backend)
    rule_id = groups[3].egress_rules[0].id
    cases = [
        ([], {"group-id": [groups[2].id]}), ([], {"group-id": [groups[0].id, groups[7].id]}),
        ([], {"group-id": ["sg-*"]}), ([], {"group-id": [groups[1].id], "security-group-rule-id": [rule_id]}),
        ([rule_id], {"group-id": [groups[1].id]}), ([rule_id], {}), ([], {}),
    ]
    for rule_ids, filters in cases:
        def view(call: Any) -> Any:
            try:
                return [(r.id, r.group_id, r.from_port, r.to_port) for r in call()]
            except Exception as e:  # noqa: BLE001 - the error is the outcome compared
                return type(e).__name__

        got = view(lambda: moto_patches._describe_security_group_rules(backend, list(rule_ids), dict(filters)))
        assert got == view(lambda: moto_patches._orig_describe_rules(backend, list(rule_ids), dict(filters))), filters
    for grp in groups:
        assert moto_patches._get_tags(grp) == moto_patches._orig_get_tags(grp)


def test_tag_index_follows_tag_writes(backend):
    """The (key, value) index after create / tag / untag / delete equals one built afresh
    (in another region of the same mock: the shared us-east-1 state is left alone)."""
    from moto.ec2.models import ec2_backends

    import moto_patches

    ec2 = boto3.client("ec2", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    west = ec2_backends["123456789012"]["us-west-2"]
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ids = [make_sg(ec2, vpc, f"w{i}", TagSpecifications=tag_spec(f"ns/o{i % 2}")) for i in range(4)]
    assert moto_patches._tag_predicate(west, OWNER, ["ns/o0"]) == {ids[0], ids[2]}  # index built
    ec2.create_tags(Resources=ids[:2], Tags=[{"Key": OWNER, "Value": "ns/o9"}, {"Key": "k", "Value": ""}])
    ec2.delete_tags(Resources=[ids[2]], Tags=[{"Key": OWNER, "Value": "not-this"}])  # value differs: kept
    ec2.delete_tags(Resources=[ids[3]], Tags=[{"Key": OWNER}])
    ec2.delete_security_group(GroupId=ids[1])
    make_sg(ec2, vpc, "w-late", TagSpecifications=tag_spec("ns/o9"))

    def live(index: dict) -> dict:
        return {k: v for k, v in index.items() if v}

    kept = live(moto_patches._tag_index(west))
    del west._sg_tag_index
    assert kept == live(moto_patches._tag_index(west))
    assert moto_patches._tag_predicate(west, OWNER, ["ns/o9"]) >= {ids[0], ids[1]}
    assert moto_patches._tag_predicate(west, OWNER, ["ns/o0"]) == {ids[2]}
