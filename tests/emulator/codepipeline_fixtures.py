"""Shared setup for the CodePipeline tests: an emulator with the CodeCommit and CodePipeline planes plus the
demo CodeBuild/CodeDeploy planes, a repository in the management account, and the pipeline account's
artifact bucket, KMS key, approval topic and event probe queues."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from dulwich.objects import Blob, Commit, Tree

from gitops_harness import waiting
from gitops_harness.emulator.testing import RunningEmulator

PIPE = "333333333301"  # pipeline account
MGMT = "333333333302"  # CodeCommit account
REGION = "us-east-1"
BUCKET = "cp-test-artifacts"


def wait_until(what: str, probe: Callable[[], Any], timeout: float = 20.0) -> Any:
    """`probe` until it returns something truthy; at the deadline, fail naming `what` and the last value."""
    return waiting.wait_until(probe, timeout=timeout, describe_expected=what, interval=0.02)


def plane(aws: RunningEmulator, cls: type) -> Any:
    return next(p for p in aws.aws.planes if isinstance(p, cls))


def commit(
    aws: RunningEmulator,
    codecommit_plane: Any,
    repo: str,
    branch: str,
    files: dict[str, bytes],
    message: str,
    account: str = MGMT,
) -> str:
    """Commit `files` as the whole tree on `branch` (the API has no CreateCommit here yet)."""
    with codecommit_plane.repositories.open_git(account, REGION, repo) as git:
        tree = Tree()
        for name, content in files.items():
            blob = Blob.from_string(content)
            git.object_store.add_object(blob)
            tree.add(name.encode(), 0o100644, blob.id)
        git.object_store.add_object(tree)
        ref = f"refs/heads/{branch}".encode()
        parent = git.refs.as_dict().get(ref)
        c = Commit()
        c.tree = tree.id
        c.parents = [parent] if parent else []
        c.author = c.committer = b"Dev <dev@example.com>"
        c.author_time = c.commit_time = int(time.time())
        c.author_timezone = c.commit_timezone = 0
        c.message = message.encode()
        git.object_store.add_object(c)
        git.refs[ref] = c.id
    return c.id.decode()


class Environment:
    def __init__(
        self,
        aws: RunningEmulator,
        codecommit_plane: Any,
        *,
        pipe: str = PIPE,
        mgmt: str = MGMT,
        bucket: str = BUCKET,
    ):
        # moto's state outlives an emulator in the process: a module running beside another one
        # (pytest-xdist's loadfile workers) passes accounts and a bucket of its own
        self.aws = aws
        self.codecommit_plane = codecommit_plane
        self.pipe, self.mgmt, self.bucket = pipe, mgmt, bucket
        self.pipeline_role = f"arn:aws:iam::{pipe}:role/pipeline-role"
        self.source_role = f"arn:aws:iam::{mgmt}:role/codecommit-source"
        self.cp = aws.client("codepipeline", account=pipe)
        aws.client("codecommit", account=mgmt).create_repository(repositoryName="app")
        self.head = commit(
            aws, codecommit_plane, "app", "main", {"README.md": b"hello\n"}, "first commit", account=mgmt
        )
        # the cross-account grants of the reference pipeline: key policy, bucket policy, source role policy
        grant = {
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{pipe}:root", f"arn:aws:iam::{mgmt}:root"]},
        }
        key_policy = {"Version": "2012-10-17", "Statement": [{**grant, "Action": "kms:*", "Resource": "*"}]}
        self.key_arn = aws.client("kms", account=pipe).create_key(Policy=json.dumps(key_policy))[
            "KeyMetadata"
        ]["Arn"]
        aws.client("s3", account=pipe).create_bucket(Bucket=bucket)
        bucket_policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    **grant,
                    "Action": ["s3:GetObject*", "s3:PutObject*"],
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
        aws.client("s3", account=pipe).put_bucket_policy(Bucket=bucket, Policy=json.dumps(bucket_policy))
        pipe_iam = aws.client("iam", account=pipe)
        service_trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "codepipeline.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        pipe_iam.create_role(RoleName="pipeline-role", AssumeRolePolicyDocument=json.dumps(service_trust))
        pipeline_policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": self.source_role},
                {
                    "Effect": "Allow",
                    "Action": ["s3:*", "kms:*", "codebuild:*", "codedeploy:*", "ecs:*", "sns:*"],
                    "Resource": "*",
                },
            ],
        }
        pipe_iam.put_role_policy(
            RoleName="pipeline-role", PolicyName="pipeline", PolicyDocument=json.dumps(pipeline_policy)
        )
        iam = aws.client("iam", account=mgmt)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{pipe}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(RoleName="codecommit-source", AssumeRolePolicyDocument=json.dumps(trust))
        role_policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["codecommit:*", "s3:*", "kms:*"], "Resource": "*"}],
        }
        iam.put_role_policy(
            RoleName="codecommit-source", PolicyName="source", PolicyDocument=json.dumps(role_policy)
        )
        sns, sqs = aws.client("sns", account=pipe), aws.client("sqs", account=pipe)
        self.topic = sns.create_topic(Name="approvals")["TopicArn"]
        self.approvals = sqs.create_queue(QueueName="approvals")["QueueUrl"]
        approvals_arn = sqs.get_queue_attributes(QueueUrl=self.approvals, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=self.topic,
            Protocol="sqs",
            Endpoint=approvals_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        self.events = sqs.create_queue(QueueName="pipeline-events")["QueueUrl"]
        events_arn = sqs.get_queue_attributes(QueueUrl=self.events, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        bus = aws.client("events", account=pipe)
        bus.put_rule(Name="pipeline-events", EventPattern=json.dumps({"source": ["aws.codepipeline"]}))
        bus.put_targets(Rule="pipeline-events", Targets=[{"Id": "q", "Arn": events_arn}])
        self.seen_events: list[dict[str, Any]] = []

    def declaration(
        self,
        name: str,
        *,
        branch: str = "main",
        project: str = "app-build",
        approval: bool = True,
        deploy: bool = True,
        approval_timeout: int | None = None,
    ) -> dict[str, Any]:
        def action(name_: str, category: str, provider: str, **rest: Any) -> dict[str, Any]:
            return {
                "name": name_,
                "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
                "runOrder": 1,
                **rest,
            }

        stages = [
            {
                "name": "Source",
                "actions": [
                    action(
                        "Source",
                        "Source",
                        "CodeCommit",
                        roleArn=self.source_role,
                        namespace="SourceVariables",
                        configuration={
                            "RepositoryName": "app",
                            "BranchName": branch,
                            "PollForSourceChanges": "false",
                        },
                        outputArtifacts=[{"name": "SourceOutput"}],
                    )
                ],
            },
            {
                "name": "Build",
                "actions": [
                    action(
                        "BuildImage",
                        "Build",
                        "CodeBuild",
                        namespace="BuildVariables",
                        configuration={
                            "ProjectName": project,
                            "EnvironmentVariables": json.dumps(
                                [
                                    {
                                        "name": "STAGE_LABEL",
                                        "value": "commit #{SourceVariables.CommitId}",
                                        "type": "PLAINTEXT",
                                    }
                                ]
                            ),
                        },
                        inputArtifacts=[{"name": "SourceOutput"}],
                        outputArtifacts=[{"name": "BuildOutput"}],
                    )
                ],
            },
        ]
        if approval:
            approve = action(
                "ApproveDeployment",
                "Approval",
                "Manual",
                configuration={
                    "NotificationArn": self.topic,
                    "CustomData": "Deploy #{BuildVariables.IMAGE_URI}?",
                    "ExternalEntityLink": "https://example.com/ecr",
                },
            )
            if approval_timeout:
                approve["timeoutInMinutes"] = approval_timeout
            stages.append({"name": "Approve", "actions": [approve]})
        if deploy:
            stages.append(
                {
                    "name": "Deploy",
                    "actions": [
                        action(
                            "BlueGreenDeploy",
                            "Deploy",
                            "CodeDeployToECS",
                            configuration={
                                "ApplicationName": "app",
                                "DeploymentGroupName": "app-dg",
                                "TaskDefinitionTemplateArtifact": "BuildOutput",
                                "AppSpecTemplateArtifact": "BuildOutput",
                                "Image1ArtifactName": "BuildOutput",
                                "Image1ContainerName": "IMAGE1_NAME",
                            },
                            inputArtifacts=[{"name": "BuildOutput"}],
                        )
                    ],
                }
            )
        return {
            "name": name,
            "roleArn": self.pipeline_role,
            "pipelineType": "V2",
            "executionMode": "SUPERSEDED",
            "artifactStore": {
                "type": "S3",
                "location": self.bucket,
                "encryptionKey": {"id": self.key_arn, "type": "KMS"},
            },
            "stages": stages,
        }

    def status(self, name: str, execution_id: str) -> str:
        return self.cp.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)[
            "pipelineExecution"
        ]["status"]

    def wait_status(self, name: str, execution_id: str, status: str, timeout: float = 20.0) -> None:
        wait_until(
            f"{name} {execution_id} {status}", lambda: self.status(name, execution_id) == status, timeout
        )

    def action_state(self, name: str, stage: str) -> dict[str, Any]:
        for state in self.cp.get_pipeline_state(name=name)["stageStates"]:
            if state["stageName"] == stage:
                return state["actionStates"][0].get("latestExecution", {})
        raise KeyError(stage)

    def pending_token(self, name: str, execution_id: str, stage: str = "Approve") -> str | None:
        for state in self.cp.get_pipeline_state(name=name)["stageStates"]:
            latest = state.get("latestExecution") or {}
            if state["stageName"] == stage and latest.get("pipelineExecutionId") == execution_id:
                return state["actionStates"][0].get("latestExecution", {}).get("token")
        return None

    def wait_event(
        self, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = 20.0
    ) -> dict[str, Any]:
        sqs = self.aws.client("sqs", account=self.pipe)

        def probe() -> dict[str, Any] | None:
            for event in self.seen_events:
                if predicate(event):
                    return event
            for message in sqs.receive_message(QueueUrl=self.events, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                self.seen_events.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.events, ReceiptHandle=message["ReceiptHandle"])
            return next((e for e in self.seen_events if predicate(e)), None)

        return wait_until(what, probe, timeout)
