"""Deploy and tear down the pipeline's CloudFormation stacks on a target.

    specs = pipeline_specs(target, config)        # management stack, then pipeline stack
    try:
        deployment = deploy(target, config, specs)  # uploads the chat-notifier zip, creates both stacks
        ...
    finally:
        teardown(target, specs)                    # both stacks, even after a failed deploy

``deploy_stacks`` is generic over a list of ``StackSpec``: each stack is created in its account with
its parameters and capabilities, waited for with a deadline, and its Outputs read. A stack that ends
anywhere but CREATE_COMPLETE raises ``StackError`` naming the first failed resources and their
ResourceStatusReason from DescribeStackEvents.

Keeping stacks between runs (Terratest's skippable stages): with ``GITOPS_HARNESS_KEEP_STACKS=1`` a
stack whose template-and-parameters hash (a stack tag) matches is reused instead of recreated, one
whose hash differs is replaced, and ``teardown`` leaves stacks in place.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.config import HarnessConfig
from gitops_harness.errors import HarnessError, InputError
from gitops_harness.targets.base import Target
from gitops_harness.waiting import wait_until

KEEP_STACKS_ENV = "GITOPS_HARNESS_KEEP_STACKS"
HASH_TAG = "gitops-harness:template-hash"
MAX_TEMPLATE_BODY_BYTES = 51_200  # CreateStack's TemplateBody; a larger template goes through S3
DEFAULT_TIMEOUT = 1800.0  # AWS seconds; a real pipeline stack (ALB, ECS) takes 10-20 minutes
_FAILED_EVENTS_SHOWN = 3
_STABLE_OK = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}


class StackError(HarnessError):
    """A stack could not be created or deleted; the message names the failed resources and why."""


@dataclass(frozen=True)
class StackSpec:
    key: str  # how a Deployment refers to it: "management", "pipeline", ...
    name: str
    account: str  # "management", "pipeline" or an account id
    template: Path | str  # a file, or the template body
    parameters: Mapping[str, str] = field(default_factory=dict)
    capabilities: tuple[str, ...] = ("CAPABILITY_NAMED_IAM",)
    tags: Mapping[str, str] = field(default_factory=dict)
    # a bucket of the stack's account for a template over CloudFormation's TemplateBody limit
    template_bucket: str | None = None

    def body(self) -> str:
        if isinstance(self.template, Path):
            try:
                return self.template.read_text(encoding="utf-8")
            except OSError as exc:
                raise InputError(f"{self.template}: cannot read the template: {exc.strerror}") from None
        return self.template

    def fingerprint(self) -> str:
        """Hash of what makes the stack: template body, parameters and capabilities."""
        data = json.dumps(
            [self.body(), sorted(self.parameters.items()), sorted(self.capabilities)], separators=(",", ":")
        )
        return hashlib.sha256(data.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class DeployedStack:
    spec: StackSpec
    stack_id: str
    outputs: dict[str, str]
    reused: bool = False

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            raise StackError(
                f"stack {self.spec.name} has no output {key!r} (outputs: {', '.join(sorted(self.outputs)) or 'none'})"
            ) from None


@dataclass(frozen=True)
class Deployment:
    """The deployed reference pipeline: both stacks' outputs, typed."""

    stacks: dict[str, DeployedStack]
    code_bucket: str
    code_key: str
    owned: bool = True  # False: a pipeline the team deployed (aws existing mode): never torn down

    @property
    def specs(self) -> list[StackSpec]:
        return [s.spec for s in self.stacks.values()]

    def _out(self, stack: str, key: str) -> str:
        return self.stacks[stack].output(key)

    @property
    def repository_name(self) -> str:
        return self._out("management", "RepositoryName")

    @property
    def clone_url(self) -> str:
        return self._out("management", "CloneUrlHttp")

    @property
    def mirror_user(self) -> str:
        return self._out("management", "MirrorUserName")

    @property
    def cross_account_role_arn(self) -> str:
        return self._out("management", "CrossAccountSourceRoleArn")

    @property
    def pipeline_name(self) -> str:
        return self._out("pipeline", "PipelineName")

    @property
    def artifact_bucket(self) -> str:
        return self._out("pipeline", "ArtifactBucketName")

    @property
    def artifact_key_arn(self) -> str:
        return self._out("pipeline", "ArtifactKeyArn")

    @property
    def approval_topic_arn(self) -> str:
        return self._out("pipeline", "ApprovalTopicArn")

    @property
    def notification_topic_arn(self) -> str:
        return self._out("pipeline", "NotificationTopicArn")

    @property
    def build_project(self) -> str:
        return self._out("pipeline", "BuildProjectName")

    @property
    def ecr_repository_uri(self) -> str:
        return self._out("pipeline", "EcrRepositoryUri")

    @property
    def codedeploy_application(self) -> str:
        return self._out("pipeline", "CodeDeployApplicationName")

    @property
    def deployment_group(self) -> str:
        return self._out("pipeline", "CodeDeployDeploymentGroupName")

    @property
    def cluster_name(self) -> str:
        return self._out("pipeline", "ClusterName")

    @property
    def service_name(self) -> str:
        return self._out("pipeline", "ServiceName")

    @property
    def production_listener_arn(self) -> str:
        return self._out("pipeline", "ProductionListenerArn")

    @property
    def test_listener_arn(self) -> str:
        return self._out("pipeline", "TestListenerArn")

    @property
    def chat_notifier_function(self) -> str:
        return self._out("pipeline", "ChatNotifierFunctionName")


def keep_stacks() -> bool:
    return os.environ.get(KEEP_STACKS_ENV, "").strip().lower() in ("1", "true", "yes")


# -- the reference pipeline ----------------------------------------------------------------------------


def code_bucket_name(config: HarnessConfig) -> str:
    return f"{config.project}-harness-code-{config.accounts.pipeline}-{config.region}"


def zip_directory(directory: Path) -> bytes:
    """A reproducible zip of ``directory`` (sorted entries, fixed timestamps), as Lambda takes it."""
    if not directory.is_dir():
        raise InputError(f"{directory}: the chat-notifier folder does not exist")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if not path.is_file() or {"__pycache__", ".pytest_cache"} & set(relative.parts):
                continue
            info = zipfile.ZipInfo(relative.as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def upload_chat_notifier(target: Target, config: HarnessConfig) -> tuple[str, str]:
    """Zip the chat notifier into the pipeline account's code bucket; (bucket, key) for the template."""
    data = zip_directory(config.chat_notifier_dir)
    bucket = code_bucket_name(config)
    key = f"chat-notifier-{hashlib.sha256(data).hexdigest()[:16]}.zip"  # a new key when the code changes
    s3 = target.client("s3", "pipeline")
    try:
        create: dict[str, Any] = {"Bucket": bucket}
        if config.region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": config.region}
        s3.create_bucket(**create)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    tags = target.resource_tags()
    if tags:  # the run's tags, so teardown and sweep find the bucket even if the run dies here
        s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
        )
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return bucket, key


def pipeline_specs(
    target: Target,
    config: HarnessConfig,
    code: tuple[str, str] | None = None,
    bodies: Mapping[str, str] | None = None,
) -> list[StackSpec]:
    """The management stack, then the pipeline stack, with the harness's parameters over the config's;
    ``bodies`` replaces a stack's template file with a template body (template_variants)."""
    bodies = bodies or {}
    bucket, key = code or (code_bucket_name(config), "chat-notifier.zip")
    extra = config.templates.parameters
    management = {
        **extra.get("management", {}),
        "ProjectName": config.project,
        "PipelineAccountId": config.accounts.pipeline,
    }
    pipeline = {
        **extra.get("pipeline", {}),
        "ProjectName": config.project,
        "ManagementAccountId": config.accounts.management,
        "ChatNotifierCodeBucket": bucket,
        "ChatNotifierCodeKey": key,
    }
    # The target's own parameters last (the embedded target's chat receiver as ChatWebhookUrl).
    added = target.stack_parameters()
    management.update(added.get("management", {}))
    pipeline.update(added.get("pipeline", {}))
    tags = target.resource_tags()
    return [
        StackSpec(
            "management",
            f"{config.project}-management",
            "management",
            bodies.get("management", config.templates.management),
            management,
            tags=tags,
        ),
        StackSpec(
            "pipeline",
            f"{config.project}-pipeline",
            "pipeline",
            bodies.get("pipeline", config.templates.pipeline),
            pipeline,
            tags=tags,
            template_bucket=bucket,  # the code bucket, in the pipeline account like the stack
        ),
    ]


def deploy(
    target: Target,
    config: HarnessConfig,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    bodies: Mapping[str, str] | None = None,
) -> Deployment:
    """Upload the chat notifier, create the management then the pipeline stack, read their outputs.
    A target that runs through an already-deployed pipeline (aws, existing mode) hands that instead."""
    existing = target.existing_deployment(config)
    if existing is not None:
        return existing
    bucket, key = upload_chat_notifier(target, config)
    deployed = deploy_stacks(target, pipeline_specs(target, config, (bucket, key), bodies), timeout=timeout)
    return Deployment({s.spec.key: s for s in deployed}, bucket, key)


# -- generic stack handling ----------------------------------------------------------------------------


def deploy_stacks(
    target: Target, specs: Sequence[StackSpec], *, timeout: float = DEFAULT_TIMEOUT, keep: bool | None = None
) -> list[DeployedStack]:
    """Create each stack in order (or reuse it when keeping stacks and its hash matches)."""
    keep = keep_stacks() if keep is None else keep
    return [deploy_stack(target, spec, timeout=timeout, keep=keep) for spec in specs]


def deploy_stack(
    target: Target, spec: StackSpec, *, timeout: float = DEFAULT_TIMEOUT, keep: bool = False
) -> DeployedStack:
    cfn = target.client("cloudformation", spec.account)
    fingerprint = spec.fingerprint()
    existing = _describe(cfn, spec.name)
    if existing is not None:
        tags = {t["Key"]: t["Value"] for t in existing.get("Tags", [])}
        if keep and existing["StackStatus"] in _STABLE_OK and tags.get(HASH_TAG) == fingerprint:
            return DeployedStack(spec, existing["StackId"], _outputs(existing), reused=True)
        # a changed template, a failed stack, or not keeping: start from nothing
        delete_stack(target, spec, timeout=timeout)
    tags = {**spec.tags, HASH_TAG: fingerprint}
    try:
        stack_id = cfn.create_stack(
            StackName=spec.name,
            **_template_source(target, spec, fingerprint),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in spec.parameters.items()],
            Capabilities=list(spec.capabilities),
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            OnFailure="ROLLBACK",  # keep the events that say why; teardown deletes the stack
        )["StackId"]
    except ClientError as exc:
        error = exc.response["Error"]
        raise StackError(
            f"stack {spec.name} ({_where(target, spec)}): CreateStack refused: {error['Code']}: {error['Message']}"
        ) from None
    stack = _wait_stable(cfn, spec, stack_id, timeout, target)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise StackError(_failure_message(cfn, spec, stack, target))
    return DeployedStack(spec, stack_id, _outputs(stack))


def teardown(
    target: Target,
    stacks: Deployment | Sequence[StackSpec],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    force: bool = False,
) -> None:
    """Delete the stacks in reverse order, emptying versioned buckets they output first; every stack is
    attempted even when one fails. With GITOPS_HARNESS_KEEP_STACKS set (and not ``force``) nothing is
    deleted."""
    if (keep_stacks() and not force) or (isinstance(stacks, Deployment) and not stacks.owned):
        return
    specs = stacks.specs if isinstance(stacks, Deployment) else list(stacks)
    errors: list[str] = []
    for spec in reversed(specs):
        try:
            delete_stack(target, spec, timeout=timeout)
        except Exception as exc:  # keep going: the other stacks must go too
            errors.append(str(exc))
    if isinstance(stacks, Deployment):
        try:
            empty_bucket(target.client("s3", "pipeline"), stacks.code_bucket, delete=True)
        except Exception as exc:
            errors.append(f"code bucket {stacks.code_bucket}: {exc}")
    if errors:
        raise StackError("teardown incomplete: " + " | ".join(errors))


def _template_source(target: Target, spec: StackSpec, fingerprint: str) -> dict[str, str]:
    """TemplateBody, or for a template over CloudFormation's 51,200-byte TemplateBody limit the object
    it is uploaded to in the spec's bucket, as TemplateURL (AWS reads up to 1 MB from S3)."""
    body = spec.body()
    size = len(body.encode("utf-8"))
    if size <= MAX_TEMPLATE_BODY_BYTES:
        return {"TemplateBody": body}
    if not spec.template_bucket:
        raise StackError(
            f"stack {spec.name} ({_where(target, spec)}): the template is {size} bytes, over CloudFormation's "
            f"{MAX_TEMPLATE_BODY_BYTES}-byte TemplateBody limit, and no bucket is given to upload it to"
        )
    key = f"templates/{spec.name}-{fingerprint[:16]}.yaml"
    target.client("s3", spec.account).put_object(Bucket=spec.template_bucket, Key=key, Body=body.encode())
    return {"TemplateURL": target.template_url(spec.template_bucket, key)}


def delete_stack(target: Target, spec: StackSpec, *, timeout: float = DEFAULT_TIMEOUT) -> None:
    cfn = target.client("cloudformation", spec.account)
    stack = _describe(cfn, spec.name)
    if stack is None:
        return
    s3 = target.client("s3", spec.account)
    for bucket in _bucket_outputs(cfn, stack):
        empty_bucket(s3, bucket)
    cfn.delete_stack(StackName=stack["StackId"])

    def status() -> str:
        found = _describe(cfn, stack["StackId"])
        return "DELETE_COMPLETE" if found is None else found["StackStatus"]

    final = wait_until(
        status,
        timeout=timeout,
        accept=lambda s: not s.endswith("_IN_PROGRESS"),
        describe_expected=f"stack {spec.name} ({_where(target, spec)}) to be deleted",
        describe_seen=lambda s: f"status {s}",
        interval=0.2,
        max_interval=10.0,
    )
    if final != "DELETE_COMPLETE":
        raise StackError(_failure_message(cfn, spec, {**stack, "StackStatus": final}, target))


def empty_bucket(s3: Any, bucket: str, *, delete: bool = False) -> None:
    """Delete every object version and delete marker (a versioned bucket cannot be deleted otherwise)."""
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            objects = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(objects), 1000):
                answer = s3.delete_objects(
                    Bucket=bucket, Delete={"Objects": objects[start : start + 1000], "Quiet": True}
                )
                # DeleteObjects reports refused keys in its answer instead of failing the call
                if answer.get("Errors"):
                    first = answer["Errors"][0]
                    raise StackError(
                        f"bucket {bucket}: {len(answer['Errors'])} object(s) could not be deleted, e.g. "
                        f"{first['Key']}: {first.get('Code')} {first.get('Message', '')}".rstrip()
                    )
        if delete:
            s3.delete_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchBucket":
            raise


# -- helpers -------------------------------------------------------------------------------------------


def _where(target: Target, spec: StackSpec) -> str:
    return f"account {target.account_id(spec.account)}, target {target.name}"


def _describe(cfn: Any, name_or_id: str) -> dict[str, Any] | None:
    try:
        stacks = cfn.describe_stacks(StackName=name_or_id)["Stacks"]
    except ClientError as exc:
        if "does not exist" in exc.response["Error"].get("Message", ""):
            return None
        raise
    if not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE":
        return None
    return stacks[0]


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _bucket_outputs(cfn: Any, stack: dict[str, Any]) -> list[str]:
    """The stack's S3 buckets (physical ids of its AWS::S3::Bucket resources)."""
    try:
        resources = cfn.describe_stack_resources(StackName=stack["StackId"])["StackResources"]
    except ClientError:
        return []
    return [
        r["PhysicalResourceId"]
        for r in resources
        if r.get("ResourceType") == "AWS::S3::Bucket"
        and r.get("PhysicalResourceId")
        and r["ResourceStatus"] != "DELETE_COMPLETE"
    ]


def _wait_stable(cfn: Any, spec: StackSpec, stack_id: str, timeout: float, target: Target) -> dict[str, Any]:
    def current() -> dict[str, Any]:
        return cfn.describe_stacks(StackName=stack_id)["Stacks"][0]

    return wait_until(
        current,
        timeout=timeout,
        accept=lambda s: not s["StackStatus"].endswith("_IN_PROGRESS"),
        describe_expected=f"stack {spec.name} ({_where(target, spec)}) to finish creating",
        describe_seen=lambda s: f"status {s['StackStatus']} {s.get('StackStatusReason') or ''}".strip(),
        interval=0.2,
        max_interval=10.0,
    )


def _failure_message(cfn: Any, spec: StackSpec, stack: dict[str, Any], target: Target) -> str:
    events = list(
        reversed(cfn.describe_stack_events(StackName=stack["StackId"])["StackEvents"])
    )  # oldest first
    failed = [
        e
        for e in events
        if e["ResourceStatus"].endswith("_FAILED")
        and e.get("PhysicalResourceId") != stack["StackId"]
        and e["LogicalResourceId"] != spec.name
    ]
    shown = [
        f"{e['LogicalResourceId']} ({e.get('ResourceType', '?')}) {e['ResourceStatus']}: {e.get('ResourceStatusReason') or 'no reason given'}"
        for e in failed[:_FAILED_EVENTS_SHOWN]
    ]
    more = f" (+{len(failed) - _FAILED_EVENTS_SHOWN} more)" if len(failed) > _FAILED_EVENTS_SHOWN else ""
    # Some failures are reported only on the stack's own event ("The following resource(s) failed ...").
    stack_reasons = [
        e.get("ResourceStatusReason")
        for e in events
        if e["ResourceStatus"].endswith("_FAILED") and e.get("ResourceStatusReason") and e not in failed
    ]
    reason = (
        "; ".join(shown) + more
        if shown
        else (
            stack.get("StackStatusReason")
            or (stack_reasons[-1] if stack_reasons else "no failed resource reported")
        )
    )
    return f"stack {spec.name} ({_where(target, spec)}) ended {stack['StackStatus']}: {reason}"
