"""AWS::CloudFormation::Stack as AWS runs it: the TemplateURL must be an Amazon S3 URL, and a child that
does not reach CREATE_COMPLETE fails its resource in the parent ("Embedded stack <arn> was not
successfully created: <reason>"), so the parent rolls back, deleting the failed child. moto's model
creates the child through `create_stack` (ours) and returns it whatever its status."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from gitops_harness.emulator.cloudformation.resource import ResourceFailure

NESTED_STACK = "AWS::CloudFormation::Stack"
# path style (s3.amazonaws.com/bucket/key, s3.<region>.amazonaws.com/...) or virtual hosted
# (<bucket>.s3[.-<region>].amazonaws.com/key), as CloudFormation accepts them
_S3_HOST = re.compile(r"^(?:[a-z0-9.-]+\.)?s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$")


def check_template_url(url: Any) -> None:
    parsed = urlparse(str(url))
    if parsed.scheme not in ("http", "https") or not _S3_HOST.match(parsed.hostname or ""):
        raise ResourceFailure("TemplateURL must be a supported URL.")


def check_child(child: Any, account_id: str, region_name: str) -> None:
    """Fail the parent's resource if the child stack did not get created, deleting the child."""
    status = getattr(child, "status", "CREATE_COMPLETE")
    if status == "CREATE_COMPLETE":
        return
    reason = (getattr(child, "status_reason", None) or status).removesuffix(" Rollback requested by user.")
    from moto.cloudformation.models import cloudformation_backends

    cloudformation_backends[account_id][region_name].delete_stack(child.stack_id)
    raise ResourceFailure(f"Embedded stack {child.stack_id} was not successfully created: {reason}")
