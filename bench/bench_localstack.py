"""--target localstack against the embedded target, in the same run (medians, runs alternated):

- start: target start until its capabilities are read (LocalStack 4.14.0 in host mode with the plugin,
  from the Makefile's .venv-localstack, against the in-process embedded emulator);
- management stack: the reference management-account stack through CreateStack until CREATE_COMPLETE
  (LocalStack's CloudFormation with the plugin's CodeCommit provider), then DeleteStack;
- execution -> approval pending: StartPipelineExecution of a two-stage pipeline (S3 source, manual
  approval) until GetPipelineState shows the approval waiting. Push -> approval pending (the README's
  embedded number) cannot run on LocalStack 4.14 community yet: the pipeline-account stack needs ECS and
  ELBv2 resources it lacks, and the mirror's HTTPS Git credentials come from IAM's service-specific
  credentials, which the plugin does not serve (localstack/README.md). This is the same pipeline
  engine's path from the execution's start, without the git push and the EventBridge trigger.

    GITOPS_HARNESS_LOCALSTACK_VENV=.venv-localstack .venv/bin/python bench/bench_localstack.py [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import zipfile
from typing import Any

from gitops_harness.config import load_config
from gitops_harness.stacks import delete_stack, deploy_stack, pipeline_specs
from gitops_harness.targets import make_target
from gitops_harness.targets.localstack import LocalStackTarget
from gitops_harness.targets.localstack_host import VENV_ENV
from gitops_harness.waiting import wait_until
from timing import REPO, report


def _pipeline(target: Any, name: str) -> None:
    """A two-stage pipeline in the pipeline account: S3 source, manual approval (names per run: the
    embedded targets of one process share moto's state)."""
    account = target.account_id("pipeline")
    s3 = target.client("s3")
    bucket = f"{name}-{account}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("VERSION", "bench\n")
    s3.put_object(Bucket=bucket, Key="source.zip", Body=data.getvalue())
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codepipeline.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = target.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    target.client("iam").put_role_policy(
        RoleName=name,
        PolicyName="all",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    target.client("codepipeline").create_pipeline(
        pipeline={
            "name": name,
            "roleArn": role["Role"]["Arn"],
            "pipelineType": "V2",
            "artifactStore": {"type": "S3", "location": bucket},
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        {
                            "name": "Source",
                            "actionTypeId": {
                                "category": "Source",
                                "owner": "AWS",
                                "provider": "S3",
                                "version": "1",
                            },
                            "configuration": {
                                "S3Bucket": bucket,
                                "S3ObjectKey": "source.zip",
                                "PollForSourceChanges": "false",
                            },
                            "outputArtifacts": [{"name": "Src"}],
                        }
                    ],
                },
                {
                    "name": "Approve",
                    "actions": [
                        {
                            "name": "Approve",
                            "actionTypeId": {
                                "category": "Approval",
                                "owner": "AWS",
                                "provider": "Manual",
                                "version": "1",
                            },
                        }
                    ],
                },
            ],
        }
    )


def _approval_pending(target: Any, name: str) -> float:
    codepipeline = target.client("codepipeline")
    started = time.perf_counter()
    execution = codepipeline.start_pipeline_execution(name=name)["pipelineExecutionId"]

    def waiting() -> bool:
        for stage in codepipeline.get_pipeline_state(name=name)["stageStates"]:
            if stage["stageName"] == "Approve":
                latest = stage.get("latestExecution") or {}
                return (
                    latest.get("pipelineExecutionId") == execution
                    and latest.get("status") == "InProgress"
                    and any(a.get("latestExecution", {}).get("token") for a in stage.get("actionStates", []))
                )
        return False

    wait_until(
        waiting,
        timeout=120,
        describe_expected=f"{name} waiting at its approval",
        interval=0.02,
        max_interval=0.1,
    )
    seconds = time.perf_counter() - started
    codepipeline.stop_pipeline_execution(pipelineName=name, pipelineExecutionId=execution, abandon=True)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    if not os.environ.get(VENV_ENV):
        print(f"skipped: {VENV_ENV} is not set (make .venv-localstack/.installed)")
        return 0
    config = load_config(REPO / "harness.yaml")
    starts: dict[str, list[float]] = {"localstack": [], "embedded": []}
    stacks: dict[str, list[float]] = {"localstack": [], "embedded": []}
    approvals: dict[str, list[float]] = {"localstack": [], "embedded": []}
    for run in range(runs):
        for name in ("localstack", "embedded"):
            target = (
                LocalStackTarget.from_config(config)
                if name == "localstack"
                else make_target(config, "embedded")
            )
            if name == "localstack":
                target._start_host = True  # noqa: SLF001 - the bench always runs its own LocalStack
            started = time.perf_counter()
            target.start()
            try:
                starts[name].append(time.perf_counter() - started)
                [management] = [
                    s for s in pipeline_specs(target, config, ("code", "chat.zip")) if s.key == "management"
                ]
                started = time.perf_counter()
                deploy_stack(target, management, timeout=180)
                stacks[name].append(time.perf_counter() - started)
                delete_stack(target, management, timeout=180)
                _pipeline(target, f"bench-approval-{run}")
                approvals[name].append(_approval_pending(target, f"bench-approval-{run}"))
            finally:
                target.stop()
    report(
        "localstack target start (host mode, plugin)",
        starts["localstack"],
        "embedded start",
        starts["embedded"],
    )
    report(
        "management stack CREATE_COMPLETE on localstack", stacks["localstack"], "embedded", stacks["embedded"]
    )
    report(
        "execution start -> approval pending on localstack",
        approvals["localstack"],
        "embedded",
        approvals["embedded"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
