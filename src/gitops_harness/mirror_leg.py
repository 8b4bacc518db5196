"""The mirror leg of the reference pipeline on its own: the management-account stack (repository, mirror
user, cross-account source role, the forwarding rule) and fixtures/localstack/mirror-pipeline.yaml in the
pipeline account (the source-change rule and a pipeline CodeCommit source -> CodeBuild -> manual
approval). It runs the push -> trigger -> build -> approval path where the reference pipeline-account
stack cannot deploy (LocalStack community lacks its ECS/ELBv2 types), and deploys unchanged on every
target, so the push -> approval pending benchmark compares the same stacks.

The result is a `stacks.Deployment`, so `pipeline.PipelineUnderTest` drives it as it drives the reference
pipeline (push_app, wait_for_execution, wait_for_approval); it has no image, topics or deployment.
"""

from __future__ import annotations

from pathlib import Path

from gitops_harness.config import HarnessConfig
from gitops_harness.stacks import DEFAULT_TIMEOUT, Deployment, StackSpec, deploy_stacks, pipeline_specs
from gitops_harness.targets import Target

TEMPLATE = Path("fixtures") / "localstack" / "mirror-pipeline.yaml"  # relative to the repository root


def mirror_leg_specs(target: Target, config: HarnessConfig, template: Path) -> list[StackSpec]:
    """The reference management stack as the harness deploys it, then the mirror-leg pipeline stack."""
    [management] = [s for s in pipeline_specs(target, config, ("unused", "unused")) if s.key == "management"]
    repository = management.parameters.get("RepositoryName")
    pipeline = StackSpec(
        "pipeline",
        f"{config.project}-mirror-pipeline",
        "pipeline",
        template,
        {
            "ProjectName": config.project,
            "ManagementAccountId": target.account_id("management"),
            **({"RepositoryName": repository} if repository else {}),
        },
        tags=target.resource_tags(),
    )
    return [management, pipeline]


def deploy_mirror_leg(
    target: Target, config: HarnessConfig, template: Path, *, timeout: float = DEFAULT_TIMEOUT
) -> Deployment:
    """Both stacks, created in order; tear down with `stacks.teardown(target, deployment)`."""
    deployed = deploy_stacks(target, mirror_leg_specs(target, config, template), timeout=timeout, keep=False)
    bucket = deployed[1].output("ArtifactBucketName")
    # no chat notifier code here: the "code bucket" teardown empties is the artifact bucket, gone by then
    return Deployment({s.spec.key: s for s in deployed}, bucket, "")
