"""The `pipeline` the suites drive: push through the GitLab mirror, wait for the execution a commit
started, answer the approval, read what the build produced, and turn a run into a timeline.

Every wait has a deadline and, on timeout, says what it expected and what it last saw
(`waiting.WaitTimeout`). Each wait also has a twin ending in `_e` that returns (value, error) instead
of raising, for code that decides what a timeout means (Terratest's helper pairs).
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_harness.config import HarnessConfig
from gitops_harness.deployments import BlueGreenDeployment
from gitops_harness.gitlab import FileContent, LocalMirrorProject, MirrorCredentials, files_from_dir
from gitops_harness.report import TimelineEntry
from gitops_harness.stacks import Deployment
from gitops_harness.targets import Target
from gitops_harness.waiting import WaitTimeout, wait_until, wait_until_e

FINAL_EXECUTION_STATES = frozenset({"Succeeded", "Failed", "Stopped", "Superseded", "Cancelled"})
SOURCE_STAGE, BUILD_STAGE, APPROVAL_STAGE, DEPLOY_STAGE = "Source", "Build", "Approve", "Deploy"


class ExecutionEnded(AssertionError):
    """The execution reached a final state while a wait expected it to get somewhere first."""


@dataclass(frozen=True)
class PendingApproval:
    execution_id: str
    stage: str
    action: str
    token: str


class PipelineUnderTest:
    """One deployed reference pipeline on one target, and the GitLab project that feeds it."""

    def __init__(
        self,
        target: Target,
        config: HarnessConfig,
        deployment: Deployment,
        project: LocalMirrorProject,
        mirror_credentials: MirrorCredentials,
        credential_id: str | None = None,
    ):
        self.target = target
        self.mirror_credentials = mirror_credentials
        self._credential_id = credential_id
        self.config = config
        self.deployment = deployment
        self.project = project
        self.name = deployment.pipeline_name
        self.codepipeline = target.client("codepipeline", "pipeline")

    @classmethod
    def connect(
        cls, target: Target, config: HarnessConfig, deployment: Deployment, workdir: Path
    ) -> PipelineUnderTest:
        """A GitLab project mirroring to the deployment's repository with fresh HTTPS Git credentials."""
        credential_id, credentials = create_git_credentials(target, deployment.mirror_user)
        project = LocalMirrorProject(
            workdir / "gitlab-project",
            mirror_url=deployment.clone_url,
            credentials=credentials,
            # main triggers the pipeline; release/* is mirrored too, so the suites can prove it does not.
            protected_branches=("main", "release/*"),
            url_rewrites=target.git_url_rewrites(),
        )
        return cls(target, config, deployment, project, credentials, credential_id)

    def close(self) -> None:
        """Delete the mirror's HTTPS Git credentials: IAM refuses to delete a user that still has them,
        so the stacks could not be torn down otherwise."""
        if self._credential_id is not None:
            self.target.client("iam", "management").delete_service_specific_credential(
                UserName=self.deployment.mirror_user, ServiceSpecificCredentialId=self._credential_id
            )
            self._credential_id = None

    # ---- the GitLab side ---------------------------------------------------------------------

    def push_app(
        self,
        changes: Mapping[str, FileContent] | None = None,
        message: str = "change the app",
        branch: str = "main",
    ) -> str:
        """Commit the app directory (first push) plus `changes` on `branch`, mirror it; the commit id."""
        files: dict[str, FileContent] = {}
        if self.project.head(branch) is None:
            files.update(files_from_dir(self.config.app_dir)[0])
        files.update(changes or {})
        if not files:
            files["CHANGELOG"] = f"{message}\n"
        sha = self.project.commit(files, message, branch=branch)
        self.project.push(branch)
        return sha

    # ---- executions --------------------------------------------------------------------------

    def executions(self) -> list[dict[str, Any]]:
        pages = self.codepipeline.get_paginator("list_pipeline_executions").paginate(pipelineName=self.name)
        return [summary for page in pages for summary in page["pipelineExecutionSummaries"]]

    def executions_for(self, commit_id: str) -> list[dict[str, Any]]:
        return [e for e in self.executions() if commit_id in _revisions(e)]

    def wait_for_execution_e(
        self, commit_id: str, timeout: float
    ) -> tuple[dict[str, Any] | None, WaitTimeout | None]:
        return wait_until_e(
            lambda: next(iter(self.executions_for(commit_id)), None),
            timeout=timeout,
            describe_expected=f"an execution of {self.name} for commit {commit_id[:12]}",
            describe_seen=lambda _: _describe_executions(self.executions()),
        )

    def wait_for_execution(self, commit_id: str, timeout: float) -> dict[str, Any]:
        """The execution whose source revision is `commit_id` (as ListPipelineExecutions summarises it)."""
        execution, error = self.wait_for_execution_e(commit_id, timeout)
        if error is not None:
            raise error
        return execution  # type: ignore[return-value]

    def execution(self, execution_id: str) -> dict[str, Any]:
        return self.codepipeline.get_pipeline_execution(
            pipelineName=self.name, pipelineExecutionId=execution_id
        )["pipelineExecution"]

    def wait_for_status(self, execution_id: str, statuses: Iterable[str], timeout: float) -> dict[str, Any]:
        wanted = frozenset(statuses)

        def reached() -> dict[str, Any] | None:
            execution = self.execution(execution_id)
            return execution if execution["status"] in wanted else None

        return wait_until(
            reached,
            timeout=timeout,
            describe_expected=f"execution {execution_id} in {' or '.join(sorted(wanted))}",
            describe_seen=lambda _: self._describe_execution(execution_id),
        )

    def wait_until_finished(self, execution_id: str, timeout: float) -> dict[str, Any]:
        return self.wait_for_status(execution_id, FINAL_EXECUTION_STATES, timeout)

    # ---- approval ----------------------------------------------------------------------------

    def pending_approval(self, execution_id: str) -> PendingApproval | None:
        state = self.codepipeline.get_pipeline_state(name=self.name)
        for stage in state["stageStates"]:
            for action in stage.get("actionStates", []):
                latest = action.get("latestExecution") or {}
                if (
                    latest.get("token")
                    and latest.get("status") == "InProgress"
                    and stage.get("latestExecution", {}).get("pipelineExecutionId") == execution_id
                ):
                    return PendingApproval(
                        execution_id, stage["stageName"], action["actionName"], latest["token"]
                    )
        return None

    def wait_for_approval_e(
        self, execution_id: str, timeout: float
    ) -> tuple[PendingApproval | None, AssertionError | None]:
        """The pending approval, or why there is none: a timeout, or the execution ending first
        (a failed build need not wait for the deadline)."""

        def pending() -> PendingApproval | None:
            found = self.pending_approval(execution_id)
            if found is None and self.execution(execution_id)["status"] in FINAL_EXECUTION_STATES:
                raise ExecutionEnded(
                    f"execution {execution_id} ended before its manual approval: "
                    f"{self._describe_execution(execution_id)}"
                )
            return found

        try:
            return wait_until_e(
                pending,
                timeout=timeout,
                describe_expected=f"execution {execution_id} waiting for a manual approval",
                describe_seen=lambda _: self._describe_execution(execution_id),
                # GetPipelineState is cheap and the approval is waited on right after the build: the
                # default 2 s cap saw it 0.8 s late on average (bench_notify; push -> approval pending).
                # A local endpoint answers it in milliseconds; on AWS, mind the API's rate.
                max_interval=0.25 if "real-aws" in self.target.capabilities else 0.1,
            )
        except ExecutionEnded as ended:
            return None, ended

    def wait_for_approval(self, execution_id: str, timeout: float) -> PendingApproval:
        approval, error = self.wait_for_approval_e(execution_id, timeout)
        if error is not None:
            raise error
        return approval  # type: ignore[return-value]

    def answer(
        self, approval: PendingApproval, status: str, summary: str, token: str | None = None
    ) -> dict[str, Any]:
        """PutApprovalResult: status Approved or Rejected; `token` overrides the real one (to test refusal)."""
        return self.codepipeline.put_approval_result(
            pipelineName=self.name,
            stageName=approval.stage,
            actionName=approval.action,
            result={"summary": summary, "status": status},
            token=token or approval.token,
        )

    def run_to_approval(
        self,
        changes: Mapping[str, FileContent] | None,
        message: str,
        *,
        trigger_timeout: float,
        build_timeout: float,
    ) -> PendingApproval:
        """Push a change and wait until its execution waits for the manual approval."""
        sha = self.push_app(changes, message)
        execution = self.wait_for_execution(sha, timeout=trigger_timeout)
        return self.wait_for_approval(execution["pipelineExecutionId"], timeout=build_timeout)

    def stop_running_executions(self, reason: str) -> None:
        """Abandon whatever is still running, so the next run starts from an idle pipeline."""
        for summary in self.executions():
            if summary["status"] in ("InProgress", "Stopping"):
                with contextlib.suppress(self.codepipeline.exceptions.PipelineExecutionNotStoppableException):
                    self.codepipeline.stop_pipeline_execution(
                        pipelineName=self.name,
                        pipelineExecutionId=summary["pipelineExecutionId"],
                        abandon=True,
                        reason=reason,
                    )

    # ---- what an execution did ---------------------------------------------------------------

    def action_executions(self, execution_id: str) -> list[dict[str, Any]]:
        pages = self.codepipeline.get_paginator("list_action_executions").paginate(
            pipelineName=self.name, filter={"pipelineExecutionId": execution_id}
        )
        details = [d for page in pages for d in page["actionExecutionDetails"]]
        return sorted(details, key=lambda d: d.get("startTime") or d.get("lastUpdateTime"))

    def stage_actions(self, execution_id: str, stage: str) -> list[dict[str, Any]]:
        return [d for d in self.action_executions(execution_id) if d["stageName"] == stage]

    def wait_for_stage_action_e(
        self, execution_id: str, stage: str, timeout: float, status: str | None = None
    ) -> tuple[dict[str, Any] | None, WaitTimeout | None]:
        """The first action execution of `stage` in this execution once the stage started (and, with
        `status`, once that action reached it), or the timeout."""
        return wait_until_e(
            lambda: next(
                (
                    d
                    for d in self.stage_actions(execution_id, stage)
                    if status is None or d["status"] == status
                ),
                None,
            ),
            timeout=timeout,
            describe_expected=f"execution {execution_id} to start stage {stage}"
            + (f" and its action to reach {status}" if status else ""),
            describe_seen=lambda _: self._describe_execution(execution_id),
        )

    def wait_for_stage_action(
        self, execution_id: str, stage: str, timeout: float, status: str | None = None
    ) -> dict[str, Any]:
        action, error = self.wait_for_stage_action_e(execution_id, stage, timeout, status)
        if error is not None:
            raise error
        return action  # type: ignore[return-value]

    def deployment_id(self, execution_id: str) -> str | None:
        """The CodeDeploy deployment the execution's Deploy action started: its externalExecutionId
        (ListActionExecutions, else GetPipelineState while the action runs), or None before that."""
        for detail in self.stage_actions(execution_id, DEPLOY_STAGE):
            external = detail.get("output", {}).get("executionResult", {}).get("externalExecutionId")
            if external:
                return external
        for stage in self.codepipeline.get_pipeline_state(name=self.name)["stageStates"]:
            if stage["stageName"] != DEPLOY_STAGE:
                continue
            if stage.get("latestExecution", {}).get("pipelineExecutionId") != execution_id:
                return None
            for action in stage.get("actionStates", []):
                external = (action.get("latestExecution") or {}).get("externalExecutionId")
                if external:
                    return external
        return None

    def wait_for_deployment(self, execution_id: str, timeout: float) -> BlueGreenDeployment:
        """The blue/green deployment this execution's Deploy action started, once it exists."""

        def started() -> str | None:
            found = self.deployment_id(execution_id)
            if found is None and self.execution(execution_id)["status"] in FINAL_EXECUTION_STATES:
                raise ExecutionEnded(
                    f"execution {execution_id} ended without a deployment: {self._describe_execution(execution_id)}"
                )
            return found

        deployment_id = wait_until(
            started,
            timeout=timeout,
            describe_expected=f"execution {execution_id}'s {DEPLOY_STAGE} action to start a CodeDeploy deployment",
            describe_seen=lambda _: self._describe_execution(execution_id),
        )
        return BlueGreenDeployment(self.target.client("codedeploy", "pipeline"), deployment_id)

    def ecr_images(self, image_uri: str) -> list[dict[str, Any]]:
        """ECR's imageDetails for an `<registry>/<repository>@sha256:<digest>` URI (empty when absent)."""
        repository, _, digest = image_uri.split("/", 1)[1].partition("@")
        ecr = self.target.client("ecr", "pipeline")
        try:
            return ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])[
                "imageDetails"
            ]
        except ecr.exceptions.ImageNotFoundException:
            return []

    def output_artifact(self, execution_id: str, stage: str = BUILD_STAGE) -> dict[str, bytes]:
        """The files of the first output artifact of `stage`, read from the artifact bucket."""
        for detail in self.stage_actions(execution_id, stage):
            for artifact in detail.get("output", {}).get("outputArtifacts", []):
                location = artifact["s3location"]
                body = (
                    self.target.client("s3", "pipeline")
                    .get_object(Bucket=location["bucket"], Key=location["key"])["Body"]
                    .read()
                )
                with zipfile.ZipFile(io.BytesIO(body)) as archive:
                    return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
        raise AssertionError(
            f"stage {stage} of execution {execution_id} has no output artifact yet: "
            f"{self._describe_execution(execution_id)}"
        )

    def build_id(self, execution_id: str) -> str:
        for detail in self.stage_actions(execution_id, BUILD_STAGE):
            external = detail.get("output", {}).get("executionResult", {}).get("externalExecutionId")
            if external:
                return external
        raise AssertionError(
            f"execution {execution_id} has no build yet: {self._describe_execution(execution_id)}"
        )

    def timeline(self, execution_id: str) -> list[TimelineEntry]:
        return [
            TimelineEntry(
                d["stageName"],
                d["actionName"],
                d["status"],
                d.get("startTime"),
                d.get("lastUpdateTime") if d["status"] != "InProgress" else None,
            )
            for d in self.action_executions(execution_id)
        ]

    def _describe_execution(self, execution_id: str) -> str:
        try:
            status = self.execution(execution_id)["status"]
            actions = ", ".join(
                f"{d['stageName']}.{d['actionName']}={d['status']}"
                for d in self.action_executions(execution_id)
            )
        except Exception as exc:  # the description must never hide the timeout it explains
            return f"(could not read the execution: {exc})"
        return f"execution {status}; actions: {actions or 'none yet'}"


def create_git_credentials(target: Target, user_name: str) -> tuple[str, MirrorCredentials]:
    """New HTTPS Git credentials for CodeCommit (IAM service-specific credentials) of the mirror user:
    (credential id, credentials)."""
    credential = target.client("iam", "management").create_service_specific_credential(
        UserName=user_name, ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    return credential["ServiceSpecificCredentialId"], MirrorCredentials(
        credential["ServiceUserName"], credential["ServicePassword"]
    )


def _revisions(summary: dict[str, Any]) -> list[str]:
    return [r.get("revisionId", "") for r in summary.get("sourceRevisions", [])]


def _describe_executions(executions: list[dict[str, Any]]) -> str:
    if not executions:
        return "no executions at all"
    shown = [
        f"{e['pipelineExecutionId'][:8]} {e['status']} revisions={[r[:12] for r in _revisions(e)]}"
        for e in executions[:5]
    ]
    return f"{len(executions)} execution(s): " + "; ".join(shown)
