"""CodeBuild action: StartBuild with the input artifact as an S3 source and the output artifact location
as an S3 artifacts override, then follow the build with BatchGetBuilds.

Contract with the CodeBuild plane (docs/emulator.md, CodePipeline section):
- sourceTypeOverride S3, sourceLocationOverride "<bucket>/<key>" of the primary input artifact (a zip);
  other inputs as secondarySourcesOverride (type S3, sourceIdentifier = artifact name);
- artifactsOverride {type S3, location bucket, path "<pipeline20>/<artifact20>", name "<random7>",
  namespaceType NONE, packaging ZIP}: the build writes its output zip at bucket/path/name; further outputs
  as secondaryArtifactsOverride with artifactIdentifier = artifact name;
- encryptionKeyOverride: the artifact store's KMS key;
- environmentVariablesOverride: the action's EnvironmentVariables (JSON list), #{...} already resolved;
- the build's exportedEnvironmentVariables become the action's output variables.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.emulator.codepipeline.actions.base import ActionContext, ActionFailed, ActionOutcome
from gitops_harness.emulator.scheduler import WaitFor

POLL_SECONDS = 5  # AWS seconds between BatchGetBuilds calls
BUILD_DONE = {"SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"}


def _artifacts_override(ctx: ActionContext, name: str) -> dict[str, Any]:
    key = ctx.output_location(name)["s3location"]["key"]
    path, _, leaf = key.rpartition("/")
    return {
        "type": "S3",
        "location": ctx.artifact_store["location"],
        "path": path,
        "name": leaf,
        "namespaceType": "NONE",
        "packaging": "ZIP",
        "overrideArtifactName": False,
    }


def start_build_request(ctx: ActionContext) -> dict[str, Any]:
    config = ctx.configuration
    inputs = ctx.input_names
    primary = config.get("PrimarySource") or inputs[0]
    location = ctx.input_detail(primary)["s3location"]
    request: dict[str, Any] = {
        "projectName": config["ProjectName"],
        "sourceTypeOverride": "S3",
        "sourceLocationOverride": f"{location['bucket']}/{location['key']}",
    }
    # The primary source's revision (a commit id for CodeCommit): a CODEPIPELINE project's build
    # reports it as CODEBUILD_RESOLVED_SOURCE_VERSION, which buildspecs use to tag images.
    revision = next(
        (r.get("revisionId") for r in ctx.execution.artifact_revisions if r.get("name") == primary), None
    )
    if revision:
        request["sourceVersion"] = revision
    secondary = [name for name in inputs if name != primary]
    if secondary:
        request["secondarySourcesOverride"] = [
            {
                "type": "S3",
                "location": "{bucket}/{key}".format(**ctx.input_detail(name)["s3location"]),
                "sourceIdentifier": name,
            }
            for name in secondary
        ]
    outputs = ctx.output_names
    request["artifactsOverride"] = (
        _artifacts_override(ctx, outputs[0]) if outputs else {"type": "NO_ARTIFACTS"}
    )
    if len(outputs) > 1:
        request["secondaryArtifactsOverride"] = [
            {**_artifacts_override(ctx, name), "artifactIdentifier": name} for name in outputs[1:]
        ]
    key_id = (ctx.artifact_store.get("encryptionKey") or {}).get("id")
    if key_id:
        request["encryptionKeyOverride"] = key_id
    if config.get("EnvironmentVariables"):
        try:
            variables = json.loads(config["EnvironmentVariables"])
        except ValueError:
            raise ActionFailed("EnvironmentVariables is not a JSON list", "ConfigurationError") from None
        request["environmentVariablesOverride"] = [
            {"name": v["name"], "value": v["value"], "type": v.get("type", "PLAINTEXT")} for v in variables
        ]
    return request


def run(ctx: ActionContext) -> Generator[Any, Any, ActionOutcome]:
    codebuild = ctx.clients("codebuild")
    try:
        build = codebuild.start_build(**start_build_request(ctx))["build"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ActionFailed(
            f"Could not start the build: {error.get('Code')}: {error.get('Message')}"
        ) from None
    build_id = build["id"]
    project = ctx.configuration["ProjectName"]
    url = (
        f"https://console.aws.amazon.com/codesuite/codebuild/{ctx.account_id}/projects/{project}/"
        f"build/{build_id}/?region={ctx.region}"
    )
    ctx.set_external(build_id, url)
    while build.get("buildStatus", "IN_PROGRESS") not in BUILD_DONE:
        ctx.run.wake.clear()
        yield WaitFor(ctx.run.wake, timeout=POLL_SECONDS)
        try:
            builds = codebuild.batch_get_builds(ids=[build_id])["builds"]
        except ClientError:
            continue  # a transient error: poll again, as CodePipeline's job worker does
        if builds:
            build = builds[0]
    status = build["buildStatus"]
    if status != "SUCCEEDED":
        phase = next(
            (
                p
                for p in reversed(build.get("phases") or [])
                if p.get("phaseStatus") not in (None, "SUCCEEDED")
            ),
            {},
        )
        context = (phase.get("contexts") or [{}])[0]
        raise ActionFailed(
            f"Build terminated with state: {status}. Phase: {phase.get('phaseType', '?')} "
            f"Code: {context.get('statusCode', '?')} Message: {context.get('message', '')} ({url})",
            "JobFailed",
            external_url=url,
        )
    for name in ctx.output_names:
        ctx.register_output(ctx.output_location(name))
    variables = {v["name"]: v.get("value", "") for v in build.get("exportedEnvironmentVariables") or []}
    return ActionOutcome(external_id=build_id, external_url=url, output_variables=variables)
