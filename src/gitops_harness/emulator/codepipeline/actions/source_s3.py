"""S3 source: copy the object (a zip) at S3Bucket/S3ObjectKey into the artifact store as the action's role."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.emulator.codepipeline.actions.base import ActionContext, ActionFailed, ActionOutcome


def run(ctx: ActionContext) -> Generator[Any, Any, ActionOutcome]:
    bucket, key = ctx.configuration["S3Bucket"], ctx.configuration["S3ObjectKey"]
    s3 = ctx.clients("s3")
    override = ctx.source_override()
    extra = (
        {"VersionId": override["revisionValue"]}
        if override and override["revisionType"] == "S3_OBJECT_VERSION_ID"
        else {}
    )
    try:
        answer = s3.get_object(Bucket=bucket, Key=key, **extra)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ActionFailed(
            f"Could not get s3://{bucket}/{key}: {error.get('Code')}: {error.get('Message')}",
            "ConfigurationError",
        ) from None
    ctx.write_output(ctx.output_names[0], answer["Body"].read())
    version = answer.get("VersionId") or answer.get("ETag", "").strip('"')
    return ActionOutcome(
        output_variables={
            "ETag": answer.get("ETag", "").strip('"'),
            "VersionId": answer.get("VersionId") or "",
        },
        external_id=version,
        revision={"revisionId": version, "revisionSummary": f"s3://{bucket}/{key}", "revisionUrl": ""},
    )
    yield
