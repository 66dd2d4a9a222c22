"""SSM parameters as the controller uses them: put/overwrite, get, by-path paging,
tags, delete (single and batch)."""

from __future__ import annotations

import botocore.exceptions
import pytest

from emu_harness import OWNER, error_of


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
