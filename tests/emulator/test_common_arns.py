"""emulator/common/arns.py: parse (moto's parser underneath) and build."""

from __future__ import annotations

import pytest

from gitops_harness.emulator.common.arns import InvalidArn, build_arn, parse_arn


def test_parse_typed_resource() -> None:
    arn = parse_arn("arn:aws:codebuild:us-east-1:111111111111:project/demo")
    assert (arn.service, arn.region, arn.account) == ("codebuild", "us-east-1", "111111111111")
    assert (arn.resource_type, arn.resource_id, arn.resource) == ("project", "demo", "project/demo")
    assert str(arn) == "arn:aws:codebuild:us-east-1:111111111111:project/demo"


def test_parse_bare_resource_and_other_partition() -> None:
    arn = parse_arn("arn:aws-cn:codepipeline:cn-north-1:111111111111:my-pipeline")
    assert arn.partition == "aws-cn"
    assert arn.resource_type is None and arn.resource_id == "my-pipeline"


def test_parse_global_service() -> None:
    arn = parse_arn("arn:aws:iam::111111111111:role/path/r")
    assert arn.region == "" and arn.resource_type == "role" and arn.resource_id == "path/r"


@pytest.mark.parametrize("bad", ["", "nope", "arn:aws:s3", "arn:aws:codebuild:us-east-1:12:project/x"])
def test_not_an_arn(bad: str) -> None:
    with pytest.raises(InvalidArn, match="not a valid ARN"):
        parse_arn(bad)


def test_build() -> None:
    assert build_arn("codecommit", "eu-west-1", "222222222222", "repo") == (
        "arn:aws:codecommit:eu-west-1:222222222222:repo"
    )
