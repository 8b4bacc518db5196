"""Formats of AWS identifiers that the artifact rules check (ECR image URIs, IAM role ARNs, regions).

Values may carry ${NAME} placeholders that the build fills in with sed (role ARNs, region, log group),
so callers accept a placeholder wherever a real identifier is expected.
"""

from __future__ import annotations

import re

BUILD_PLACEHOLDER = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")

REGION = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")

IAM_ROLE_ARN = re.compile(r"^arn:aws(?:-cn|-us-gov|-iso|-iso-b)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")

# ECR repository names: lowercase path components separated by '/', '.', '_' or '-' inside a component.
_REPO = r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
ECR_IMAGE_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    rf"(?P<repository>{_REPO})"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?"
    r"(?:@sha256:(?P<digest>[a-f0-9]{64}))?$"
)
ECR_HOST = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/")

# A Lambda function name, partial ARN or full ARN (optionally with version or alias).
LAMBDA_FUNCTION = re.compile(
    r"^(?:arn:aws(?:-[a-z-]+)?:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?"
    r"[A-Za-z0-9_-]{1,64}(?::(?:\$LATEST|[A-Za-z0-9_-]+))?$"
)


def has_build_placeholder(value: object) -> bool:
    return isinstance(value, str) and BUILD_PLACEHOLDER.search(value) is not None


def is_role_arn(value: object) -> bool:
    return isinstance(value, str) and (IAM_ROLE_ARN.match(value) is not None or has_build_placeholder(value))


def is_region(value: object) -> bool:
    return isinstance(value, str) and (REGION.match(value) is not None or has_build_placeholder(value))
