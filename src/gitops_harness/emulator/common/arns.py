"""ARNs: parse with moto's parser (what moto's own backends use), build in one place.

arn = parse_arn("arn:aws:codepipeline:us-east-1:111111111111:my-pipeline")
arn.service, arn.region, arn.account, arn.resource_type, arn.resource_id
build_arn("codebuild", "us-east-1", "111111111111", "project/demo")
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from moto.utilities.arns import parse_arn as _moto_parse_arn

_ARN_RE = re.compile(r"^arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|aws|):(.+)$")


class InvalidArn(ValueError):
    """`arn` is not an ARN; the plane turns it into its own modeled error."""


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource_type: str | None  # "project" in project/demo; None when the resource has no type
    resource_id: str  # "demo" in project/demo; the whole resource without a type
    resource: str  # the text after the account: "project/demo"

    @property
    def parts(self) -> tuple[str, str, str, str]:
        """(service, region, account, resource), for unpacking."""
        return self.service, self.region, self.account, self.resource

    def __str__(self) -> str:
        return build_arn(self.service, self.region, self.account, self.resource, self.partition)


def parse_arn(arn: str) -> Arn:
    """The parts of `arn`; raises InvalidArn (a ValueError) naming it when it is not an ARN."""
    match = _ARN_RE.match(arn or "")
    if match is None:
        raise InvalidArn(f"{arn!r} is not a valid ARN")
    parsed = _moto_parse_arn(arn)
    return Arn(
        partition=match.group(1),
        service=parsed.service,
        region=parsed.region,
        account=parsed.account,
        resource_type=parsed.resource_type,
        resource_id=parsed.resource_id,
        resource=match.group(5),
    )


def build_arn(service: str, region: str, account: str, resource: str, partition: str = "aws") -> str:
    """`arn:<partition>:<service>:<region>:<account>:<resource>` (resource as the service writes it,
    e.g. "project/demo", "notificationrule/<id>", or a bare pipeline name)."""
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"
