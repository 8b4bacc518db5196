"""Names CloudFormation generates for resources a template leaves unnamed, where moto's differ from AWS's.

AWS generates `<stack>-<logical id>-<suffix>` but in lower case for types whose names must be lower case
(moto does that only for buckets): an ECR repository named after a mixed-case logical id fails
CreateRepository's pattern in moto, while AWS creates it.
"""

from __future__ import annotations

from collections.abc import Callable

LOWER_CASE_TYPES = frozenset({"AWS::ECR::Repository"})


def generating_aws_names(moto_generate: Callable[[str, str, str], str]) -> Callable[[str, str, str], str]:
    """moto's `parsing.generate_resource_name`."""

    def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
        name = moto_generate(resource_type, stack_name, logical_id)
        return name.lower() if resource_type in LOWER_CASE_TYPES else name

    return generate_resource_name
