"""The pipeline layer of `gitops-harness run`: stand the reference pipeline up on a target, push a
commit through the GitLab mirror, follow it to the approval, approve, and judge each step.

After the approval it follows the blue/green deployment with a live traffic probe on both listeners
(release.py) and judges the shift as one verdict, with a timeline row per lifecycle event and weight step.
It runs the same assertions the e2e suites make, once, in the order a person reads them, and stops
at the first step that fails (the later ones would only repeat its cause). Whatever the target
cannot do yet is reported as skipped with the reason, never as passed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import ClientError

from gitops_harness.artifacts.validate import validate_files
from gitops_harness.cfn_template import load_template
from gitops_harness.config import HarnessConfig
from gitops_harness.errors import HarnessError
from gitops_harness.findings import Severity
from gitops_harness.notify_check import NOTIFY_CLAIM, NOTIFY_NEEDS, ChatWatch
from gitops_harness.pipeline import DEPLOY_STAGE, PendingApproval, PipelineUnderTest
from gitops_harness.release import ReleaseRun, follow_release
from gitops_harness.report import TimelineEntry, Verdict
from gitops_harness.slack_readback import SlackSettings, slack_settings
from gitops_harness.stacks import deploy, teardown
from gitops_harness.targets import Target, make_target

TRIGGER_DEADLINE = 60
BUILD_DEADLINE = 240
BLUEGREEN_NEEDS = frozenset({"bluegreen", "alb-data-plane"})
BLUEGREEN_CLAIM = "CodeDeploy shifts ALB traffic blue -> green"

Progress = Callable[[str], None]


NO_GITLAB = (
    "no GitLab configured (gitlab.project and the URL variable): the mirror leg uses the harness's local "
    "mirror, which pushes to CodeCommit as GitLab's push mirror does"
)


class _StepFailed(Exception):
    """A step's verdict failed; the steps after it are not run."""


def pipeline_verdicts(
    config: HarnessConfig, target_name: str | None, progress: Progress
) -> tuple[list[Verdict], list[TimelineEntry]]:
    verdicts: list[Verdict] = []
    timeline: list[TimelineEntry] = []

    def judge(verdict: Verdict) -> None:
        verdicts.append(verdict)
        if not verdict.passed and not verdict.skipped:
            raise _StepFailed

    progress(f"starting the {target_name or config.default_target} target")
    with make_target(config, target_name) as target, tempfile.TemporaryDirectory(prefix="gitops-run-") as tmp:
        config = target.run_config(config)  # aws: names carry the run id
        # Slack read-back where chat is real (no receiver of the target's own); its settings and token
        # variable are checked before anything is deployed
        slack = slack_settings(config) if target.chat is None else None
        gitlab = gitlab_verdict(config)
        if gitlab is not None:  # without a GitLab, run's report says so in its notes
            verdicts.append(gitlab)
        missing = target.missing({"cloudformation", "codecommit-git", "pipeline-execution", "build"})
        if missing:
            judge(
                Verdict(
                    "pipeline",
                    "the pipeline runs on this target",
                    False,
                    f"the target lacks {', '.join(missing)}",
                    skipped=True,
                )
            )
            return verdicts, timeline
        with contextlib.suppress(_StepFailed):
            _run_steps(config, target, Path(tmp), progress, judge, timeline, slack)
        missing_bluegreen = target.missing(BLUEGREEN_NEEDS)
        if missing_bluegreen:
            verdicts.append(
                Verdict(
                    "bluegreen",
                    BLUEGREEN_CLAIM,
                    False,
                    f"the {target.name} target lacks {', '.join(missing_bluegreen)}",
                    skipped=True,
                )
            )
        missing_notify = target.missing(NOTIFY_NEEDS)
        unavailable = target.notify_unavailable()
        if missing_notify or unavailable:
            verdicts.append(
                Verdict(
                    "notify",
                    NOTIFY_CLAIM,
                    False,
                    f"the {target.name} target lacks {', '.join(missing_notify)}"
                    if missing_notify
                    else unavailable,
                    skipped=True,
                )
            )
    return verdicts, timeline


def gitlab_configured(config: HarnessConfig) -> bool:
    """A GitLab project and the variable with its URL: else the mirror leg uses the local mirror."""
    url_env = str(config.gitlab.get("url_env") or "")
    return bool(config.gitlab.get("project")) and bool(url_env and os.environ.get(url_env))


def gitlab_verdict(config: HarnessConfig) -> Verdict | None:
    """GitLab's own health first (it runs on Fargate beside the pipeline); None when no GitLab is
    configured, since then the mirror leg runs through the harness's local mirror."""
    from gitops_harness.gitlab import gitlab_health

    assertion = "GitLab answers its readiness and liveness checks"
    if not gitlab_configured(config):
        return None
    url = os.environ[str(config.gitlab["url_env"])]
    try:
        health = gitlab_health(url)
    except Exception as exc:  # unreachable GitLab: a failed verdict, not a crash
        return Verdict("gitlab", assertion, False, str(exc).splitlines()[0], f"{url}/-/readiness")
    return Verdict("gitlab", assertion, health.healthy, health.summary(), f"{url}/-/readiness?all=1")


def _run_steps(
    config: HarnessConfig,
    target: Target,
    workdir: Path,
    progress: Progress,
    judge: Callable[[Verdict], None],
    timeline: list[TimelineEntry],
    slack: SlackSettings | None = None,
) -> None:
    progress("deploying the management and pipeline stacks")
    started = time.perf_counter()
    try:
        deployment = deploy(target, config)
    except Exception as exc:  # the verdict carries the reason; nothing else to tear down
        judge(Verdict("stacks", "both reference stacks deploy", False, str(exc).splitlines()[0]))
        return
    try:
        claim = (
            "both reference stacks deploy"
            if deployment.owned
            else "the team's deployed pipeline is found by the names in harness.yaml"
        )
        judge(Verdict("stacks", claim, True, f"{time.perf_counter() - started:.1f}s"))
        pipeline = PipelineUnderTest.connect(target, config, deployment, workdir)
        try:
            _push_to_approval(config, pipeline, progress, judge, timeline, slack)
        finally:
            pipeline.stop_running_executions("gitops-harness run finished")
            pipeline.close()
    finally:
        progress("tearing the stacks down")
        teardown(target, deployment)


def _push_to_approval(
    config: HarnessConfig,
    pipeline: PipelineUnderTest,
    progress: Progress,
    judge: Callable[[Verdict], None],
    timeline: list[TimelineEntry],
    slack: SlackSettings | None = None,
) -> None:
    progress("pushing a commit through the GitLab push mirror")
    version = f"run-{int(time.time())}"
    changes = {"VERSION": f"{version}\n"}
    if not pipeline.deployment.owned:
        # the team's pipeline (aws, existing mode): on top of their main, and only a marker file changes
        if pipeline.project.seed_from_mirror() is None:
            judge(
                Verdict(
                    "mirror", "the team's repository has a main branch to commit on", False, "no main branch"
                )
            )
        changes = {".gitops-harness/smoke": f"gitops-harness smoke run at {int(time.time())}\n"}
    pushed_at = time.time()
    sha = pipeline.push_app(changes, "gitops-harness run")
    chat = ChatWatch(pipeline.target, pipeline.deployment, sha, pushed_at, slack=slack)
    notify = not pipeline.target.missing(NOTIFY_NEEDS) and pipeline.target.notify_unavailable() is None
    execution, error = pipeline.wait_for_execution_e(sha, timeout=TRIGGER_DEADLINE)
    judge(
        Verdict(
            "mirror",
            "a push to main starts an execution for the pushed commit",
            error is None,
            f"commit {sha[:12]}" if error is None else str(error),
        )
    )
    execution_id = execution["pipelineExecutionId"]  # type: ignore[index]
    chat.execution_id = execution_id
    deploy_rows: list[TimelineEntry] = []
    try:
        progress(f"execution {execution_id}: building, then waiting for the approval")
        approval, error = pipeline.wait_for_approval_e(execution_id, timeout=BUILD_DEADLINE)
        judge(
            Verdict(
                "approval",
                "the execution stops at the manual approval, Deploy not started",
                error is None and not pipeline.stage_actions(execution_id, DEPLOY_STAGE),
                "" if error is None else str(error),
            )
        )

        files = pipeline.output_artifact(execution_id)
        findings = validate_files(files, load_template(config.templates.pipeline), build_output=True)
        errors = [f for f in findings if f.severity is Severity.ERROR]
        judge(
            Verdict(
                "artifacts",
                "the build's taskdef/appspec/imageDetail pass validate-artifacts",
                not errors,
                f"{len(errors)} error(s)",
                errors[0].one_line() if errors else "",
            )
        )
        image_uri = json.loads(files["imageDetail.json"])["ImageURI"]
        found = pipeline.ecr_images(image_uri)
        judge(
            Verdict(
                "artifacts",
                "imageDetail.json names an image digest that exists in ECR",
                bool(found),
                image_uri if found else f"{image_uri} is not in ECR",
            )
        )

        if pipeline.target.missing(BLUEGREEN_NEEDS):
            progress("approving")
            pipeline.answer(approval, "Approved", "approved by gitops-harness run")  # type: ignore[arg-type]
            _, error = pipeline.wait_for_stage_action_e(execution_id, DEPLOY_STAGE, timeout=TRIGGER_DEADLINE)
            judge(
                Verdict(
                    "approval",
                    "Approved moves the execution into the Deploy stage",
                    error is None,
                    "" if error is None else str(error),
                )
            )
            if notify:
                _judge_chat(chat, None, progress, judge, deploy_rows)
            return
        progress("approving, then following the blue/green deployment with live traffic on both listeners")
        # buildspec.yml: the service reports "<VERSION>+<commit[:12]>".
        run = _follow_bluegreen(pipeline, approval, image_uri, f"{version}+{sha[:12]}", judge, deploy_rows)  # type: ignore[arg-type]
        if notify:
            _judge_chat(chat, run, progress, judge, deploy_rows)
    finally:
        rows = pipeline.timeline(execution_id) + deploy_rows
        epoch = datetime.min.replace(tzinfo=UTC)
        timeline.extend(sorted(rows, key=lambda r: r.start or epoch))


def _judge_chat(
    chat: ChatWatch,
    run: ReleaseRun | None,
    progress: Progress,
    judge: Callable[[Verdict], None],
    rows: list[TimelineEntry],
) -> None:
    progress("checking the chat messages")
    verdict, chat_rows = chat.judge(run)
    rows.extend(chat_rows)
    judge(verdict)


def _follow_bluegreen(
    pipeline: PipelineUnderTest,
    approval: PendingApproval,
    image_uri: str,
    green_version: str,
    judge: Callable[[Verdict], None],
    deploy_rows: list[TimelineEntry],
) -> ReleaseRun:
    try:
        run = follow_release(pipeline, approval, image_uri, green_version)
    except (
        AssertionError,
        LookupError,
        ClientError,
        HarnessError,
    ) as exc:  # a wait timed out, no listener...
        judge(Verdict("bluegreen", BLUEGREEN_CLAIM, False, str(exc).splitlines()[0]))
        raise _StepFailed from None
    deploy_rows.extend(run.timeline)
    judge(Verdict("approval", "Approved moves the execution into the Deploy stage", True, run.deployment.id))
    failed = {claim: problems for claim, problems in run.problems().items() if problems}
    detail = run.describe()
    if failed:
        claim, problems = next(iter(failed.items()))
        detail = f"{claim}: {problems[0]}; {detail}"
    judge(
        Verdict(
            "bluegreen",
            BLUEGREEN_CLAIM,
            not failed,
            detail,
            where_to_look=f"aws deploy get-deployment-target --deployment-id {run.deployment.id} "
            f"--target-id {run.final_target.target_id if run.final_target else '<cluster>:<service>'}",
        )
    )
    return run
