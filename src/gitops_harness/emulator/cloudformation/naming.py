"""Names CloudFormation generates for resources a template leaves unnamed, where moto's differ from AWS's.

AWS generates `<stack>-<logical id>-<suffix>` but in lower case for types whose names must be lower case
(moto does that only for buckets): an ECR repository named after a mixed-case logical id fails
CreateRepository's pattern in moto, while AWS creates it. An SSM parameter without Name gets
`CFN-<logical id>-<suffix>` on AWS; moto's model fails on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LOWER_CASE_TYPES = frozenset({"AWS::ECR::Repository"})


def generating_aws_names(moto_generate: Callable[[str, str, str], str]) -> Callable[[str, str, str], str]:
    """moto's `parsing.generate_resource_name`."""

    def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
        name = moto_generate(resource_type, stack_name, logical_id)
        return name.lower() if resource_type in LOWER_CASE_TYPES else name

    return generate_resource_name


def with_generated_name(logical_id: str, resource_json: dict[str, Any]) -> dict[str, Any]:
    """`resource_json` as moto's model needs it: an SSM parameter without Name gets AWS's generated one
    (a copy: the stack's template keeps the name unset, so an update does not see it as changed)."""
    properties = resource_json.get("Properties") or {}
    if resource_json.get("Type") != "AWS::SSM::Parameter" or properties.get("Name"):
        return resource_json
    from moto.cloudformation.utils import random_suffix

    return {**resource_json, "Properties": {**properties, "Name": f"CFN-{logical_id}-{random_suffix()}"}}
