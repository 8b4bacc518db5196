"""The property record (emulator/cloudformation/honoured.py) against CloudFormation's provider schemas:
every name it honours is a property the type's schema defines (a misspelt name would honour nothing and
let the real property be refused, or hide a drop)."""

from __future__ import annotations

import pytest

from gitops_harness.emulator.cloudformation.honoured import HONOURED, refused_property
from gitops_harness.emulator.cloudformation.models import RESOURCE_MODELS
from gitops_harness.emulator.cloudformation.schemas import resource_schema


@pytest.mark.parametrize("resource_type", sorted(HONOURED))
def test_every_honoured_name_is_a_schema_property(resource_type: str) -> None:
    schema = resource_schema(resource_type)
    assert schema is not None
    record = HONOURED[resource_type]
    names = record.names() | {path.split("/", 1)[0] for path in record.nested}
    assert names <= set(schema["properties"]), names - set(schema["properties"])
    # a type our own models create maps its properties onto the API instead
    assert resource_type not in RESOURCE_MODELS


def test_refusals_name_the_property_and_pass_what_is_honoured() -> None:
    assert refused_property("AWS::S3::Bucket", {"BucketName": "b", "Tags": []}, "us-east-1") is None
    assert refused_property("AWS::S3::Bucket", {"AccelerateConfiguration": {}}, "us-east-1") == (
        "Property AccelerateConfiguration of AWS::S3::Bucket is not supported by the embedded AWS"
    )
    # AWS::NoValue, unknown names (the schema check's) and types without a record are not refused here
    assert (
        refused_property("AWS::S3::Bucket", {"WebsiteConfiguration": {"Ref": "AWS::NoValue"}}, "us-east-1")
        is None
    )
    assert refused_property("AWS::S3::Bucket", {"Foo": 1}, "us-east-1") is None
    assert refused_property("AWS::EC2::NatGateway", {"ConnectivityType": "private"}, "us-east-1") is None
    # an Fn::If resolved first: a NoValue branch is absent
    assert (
        refused_property(
            "AWS::S3::Bucket",
            {"WebsiteConfiguration": {"Fn::If": ["C", {"IndexDocument": "i"}, {"Ref": "AWS::NoValue"}]}},
            "us-east-1",
            lambda value: None,
        )
        is None
    )
    rule = {
        "Rules": [{"Status": "Enabled", "ExpirationInDays": 1, "Transitions": [{"StorageClass": "GLACIER"}]}]
    }
    assert refused_property("AWS::S3::Bucket", {"LifecycleConfiguration": rule}, "us-east-1") == (
        "Property LifecycleConfiguration/Rules/0/Transitions of AWS::S3::Bucket is not supported by the embedded AWS"
    )
    assert refused_property(
        "AWS::ElasticLoadBalancingV2::LoadBalancer", {"Type": "network"}, "us-east-1"
    ) == (
        "Property Type of AWS::ElasticLoadBalancingV2::LoadBalancer is not supported by the embedded AWS "
        "with the value 'network' (only application)"
    )
    assert refused_property("AWS::Lambda::Function", {"Architectures": ["x86_64"]}, "us-east-1") is None
