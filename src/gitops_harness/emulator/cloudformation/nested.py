"""AWS::CloudFormation::Stack as AWS runs it: the TemplateURL must be an Amazon S3 URL, and a child that
does not reach CREATE_COMPLETE fails its resource in the parent ("Embedded stack <arn> was not
successfully created: <reason>"), so the parent rolls back, deleting the failed child. moto's model
creates the child through `create_stack` (ours) and returns it whatever its status.

Template URLs (a nested stack's, or CreateStack's TemplateURL) are read in every form S3 has: path style
(s3.amazonaws.com/<bucket>/<key>, s3.<region>.amazonaws.com/...), virtual hosted
(<bucket>.s3[.-<region>].amazonaws.com/<key>), with ?versionId=, and path style on the emulator's own
endpoint, which is what `aws cloudformation package --endpoint-url <emulator>` writes (the CLI builds
the URL from the S3 endpoint it used, as it writes https://s3.<region>.amazonaws.com/... against AWS).
The bucket may be another account's, as on AWS."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from gitops_harness.emulator.cloudformation.resource import ResourceFailure, serving_endpoint
from gitops_harness.emulator.cloudformation.template_api import MAX_TEMPLATE_URL_BYTES
from gitops_harness.emulator.common.buckets import bucket_owner

NESTED_STACK = "AWS::CloudFormation::Stack"
# path style (s3.amazonaws.com/bucket/key, s3.<region>.amazonaws.com/...) or virtual hosted
# (<bucket>.s3[.-<region>].amazonaws.com/key), as CloudFormation accepts them
_S3_HOST = re.compile(r"^(?:(?P<bucket>[a-z0-9.-]+)\.)?s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$")
UNSUPPORTED_URL = "TemplateURL must be a supported URL."
NO_OBJECT = "TemplateURL must reference a valid S3 object to which you have access."


def template_location(url: Any) -> tuple[str, str, str | None] | None:
    """(bucket, key, version id) of an S3 template URL, or None if `url` is not one."""
    parsed = urlparse(str(url))
    if parsed.scheme not in ("http", "https"):
        return None
    version = (parse_qs(parsed.query).get("versionId") or [None])[0]
    path = unquote(parsed.path).lstrip("/")
    match = _S3_HOST.match(parsed.hostname or "")
    if match and match.group("bucket"):
        return (match.group("bucket"), path, version) if path else None
    own = serving_endpoint()
    if match or (own is not None and urlparse(own).netloc == parsed.netloc):
        bucket, _, key = path.partition("/")
        return (bucket, key, version) if bucket and key else None
    return None


def check_template_url(url: Any) -> None:
    if template_location(url) is None:
        raise ResourceFailure(UNSUPPORTED_URL)


def read_template(url: str, partition: str, failure: Callable[[str], Exception]) -> str:
    """The text of the template at `url`; `failure(message)` is raised with AWS's message otherwise."""
    from moto.s3.models import s3_backends

    location = template_location(url)
    if location is None:
        raise failure(UNSUPPORTED_URL)
    bucket, key, version = location
    found = bucket_owner(bucket)
    stored = None
    if found is not None:
        try:
            stored = s3_backends[found[0]][partition].get_object(bucket, key, version_id=version)
        except Exception:  # moto raises for an unknown version; AWS answers the same as for no object
            stored = None
    if stored is None:
        raise failure(NO_OBJECT)
    if stored.size > MAX_TEMPLATE_URL_BYTES:
        raise failure(f"Template may not exceed {MAX_TEMPLATE_URL_BYTES} bytes in size.")
    return stored.value.decode("utf-8")


def nested_template_reading(_moto_read: Any) -> Callable[..., str]:
    """moto's `models.get_stack_from_s3_url` (a nested stack's TemplateURL): failures fail the resource."""

    def get_stack_from_s3_url(template_url: str, account_id: str, partition: str) -> str:
        return read_template(template_url, partition, ResourceFailure)

    return get_stack_from_s3_url


def request_template_reading(_moto_read: Any) -> Callable[..., str]:
    """moto's `responses.get_stack_from_s3_url` (CreateStack's TemplateURL...): a ValidationError."""
    from moto.cloudformation.exceptions import ValidationError

    def get_stack_from_s3_url(template_url: str, account_id: str, partition: str) -> str:
        return read_template(template_url, partition, lambda message: ValidationError(message=message))

    return get_stack_from_s3_url


def check_child(child: Any, account_id: str, region_name: str) -> None:
    """Fail the parent's resource if the child stack did not get created, deleting the child."""
    status = getattr(child, "status", "CREATE_COMPLETE")
    if status == "CREATE_COMPLETE":
        return
    reason = (getattr(child, "status_reason", None) or status).removesuffix(" Rollback requested by user.")
    from moto.cloudformation.models import cloudformation_backends

    cloudformation_backends[account_id][region_name].delete_stack(child.stack_id)
    raise ResourceFailure(f"Embedded stack {child.stack_id} was not successfully created: {reason}")


def stack_id_as_ref(_moto_property: Any) -> property:
    """moto's `Stack.physical_resource_id`: Ref of a nested stack is its stack ID (ARN), as on AWS, where
    moto answered the child's name."""
    return property(lambda stack: stack.stack_id)
