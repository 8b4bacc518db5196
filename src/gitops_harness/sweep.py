"""Find and delete what harness runs left in the allowed accounts, and `gitops-harness sweep`.

Where leftovers are found, in this order (an ARN found twice counts once):
1. CloudFormation stacks carrying ``gitops-harness:run-id``;
2. the Resource Groups Tagging API (S3, SQS, SNS, EventBridge, Lambda, logs, KMS, ...);
3. the services it does not cover, listed and their tags read: CodeCommit, CodePipeline, CodeBuild,
   CodeDeploy, ECR;
4. log groups AWS creates at run time (CodeBuild, Lambda, ECS, SNS delivery status) by name:
   ``<prefix><project>-<run id>``, SNS's prefix being ``sns/<region>/<account>/``.

Deleting goes in dependency order: stacks (pipeline account first; buckets emptied, ECR images, ECS task
sets and the mirror user's Git credentials removed first, since CloudFormation cannot), then pipelines,
projects, applications, functions, rules, topics, queues, repositories, buckets, log groups, keys. A
failure is reported and the rest still attempted.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.errors import EXIT_FINDINGS, EXIT_OK
from gitops_harness.run_tags import CREATED_AT_TAG, DEFAULT_TTL, EXPIRES_AT_TAG, RUN_ID_TAG, parse_time
from gitops_harness.stacks import empty_bucket
from gitops_harness.targets.base import Target
from gitops_harness.waiting import wait_until

STACK_DELETE_TIMEOUT = 1800.0
LOG_GROUP_PREFIXES = ("/aws/codebuild/", "/aws/lambda/", "/ecs/")
_RUN_ID_IN_NAME = r"(r[a-z0-9]{7})(?![a-z0-9])"
# kind -> position in the deletion order
ORDER = {
    "cloudformation-stack": 0,
    "codepipeline-pipeline": 10,
    "codebuild-project": 11,
    "codedeploy-application": 12,
    "lambda-function": 13,
    "events-rule": 14,
    "sns-topic": 15,
    "sqs-queue": 16,
    "ecr-repository": 17,
    "s3-bucket": 18,
    "codecommit-repository": 19,
    "logs-log-group": 20,
    "secretsmanager-secret": 21,
    "kms-key": 22,
}
# The IAM actions finding and deleting may call (kept beside the code that calls them; the nightly
# roles' policies include them: targets/aws_policy.py).
SWEEP_ACTIONS = frozenset(
    {
        "cloudformation:DescribeStacks",
        "cloudformation:DescribeStackResources",
        "cloudformation:DescribeStackEvents",
        "cloudformation:ListStacks",
        "cloudformation:DeleteStack",
        "tag:GetResources",
        "codecommit:ListRepositories",
        "codecommit:ListTagsForResource",
        "codecommit:DeleteRepository",
        "codepipeline:ListPipelines",
        "codepipeline:ListTagsForResource",
        "codepipeline:DeletePipeline",
        "codebuild:ListProjects",
        "codebuild:BatchGetProjects",
        "codebuild:DeleteProject",
        "codedeploy:ListApplications",
        "codedeploy:ListTagsForResource",
        "codedeploy:DeleteApplication",
        "ecr:DescribeRepositories",
        "ecr:ListTagsForResource",
        "ecr:ListImages",
        "ecr:BatchDeleteImage",
        "ecr:DeleteRepository",
        "logs:DescribeLogGroups",
        "logs:DeleteLogGroup",
        "lambda:DeleteFunction",
        "events:ListTargetsByRule",
        "events:RemoveTargets",
        "events:DeleteRule",
        "sns:DeleteTopic",
        "sqs:GetQueueUrl",
        "sqs:DeleteQueue",
        "s3:ListBucketVersions",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:DeleteBucket",
        "iam:ListServiceSpecificCredentials",
        "iam:DeleteServiceSpecificCredential",
        "iam:ListAccessKeys",
        "iam:DeleteAccessKey",
        "ecs:DescribeServices",
        "ecs:DeleteTaskSet",
        "secretsmanager:DeleteSecret",
        "kms:DescribeKey",
        "kms:ScheduleKeyDeletion",
    }
)
_GONE = {
    "NoSuchBucket",
    "ResourceNotFoundException",
    "NotFound",
    "NotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "RepositoryNotFoundException",
    "RepositoryDoesNotExistException",
    "PipelineNotFoundException",
    "ApplicationDoesNotExistException",
    "NoSuchEntity",
}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Leftover:
    account: str
    kind: str  # a key of ORDER, or "<service>-<type>" the sweep cannot delete
    name: str
    arn: str
    run_id: str | None
    created_at: datetime | None
    expires_at: datetime | None
    found_by: str  # "stack tags", "tagging API", "codecommit tags", "log group name"
    stack_id: str | None = None  # the stack that owns it (aws:cloudformation:stack-id): goes with it
    status: str | None = None  # a stack's StackStatus

    @property
    def in_progress(self) -> bool:
        return bool(self.status and self.status.endswith("_IN_PROGRESS"))

    @property
    def order(self) -> int:
        return ORDER.get(self.kind, 99)

    def why(self, now: datetime) -> str:
        parts = [f"run {self.run_id or '?'}", f"found by {self.found_by}"]
        if self.expires_at is not None:
            ago = now - self.expires_at
            parts.append(
                f"expired {_human(ago)} ago" if ago >= timedelta(0) else f"expires in {_human(-ago)}"
            )
        if self.created_at is not None:
            parts.append(f"created {_human(now - self.created_at)} ago")
        return ", ".join(parts)


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


def _tags(pairs: Iterable[dict[str, str]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {p[key]: p[value] for p in pairs or []}


# -- finding -------------------------------------------------------------------------------------------


def find_leftovers(
    target: Target,
    accounts: Sequence[str] = ("pipeline", "management"),
    *,
    run_id: str | None = None,
    project: str | None = None,
) -> list[Leftover]:
    """Everything carrying the run-id tag (``run_id``'s only, when given) in ``accounts``, plus log groups
    named after a run of ``project``; in deletion order."""
    found: dict[str, Leftover] = {}
    for account in accounts:
        account_id = target.account_id(account)
        finders = (_stacks, _tagging_api, _code_services, _log_groups)
        for finder in finders:
            for item in finder(target, account, account_id, run_id, project):
                if run_id is not None and item.run_id != run_id:
                    continue
                found.setdefault(item.arn, item)
    stacks = {i.arn for i in found.values() if i.kind == "cloudformation-stack"}
    items = [i for i in found.values() if i.stack_id is None or i.stack_id not in stacks]
    account_rank = {target.account_id(a): n for n, a in enumerate(accounts)}
    return sorted(items, key=lambda i: (i.order, account_rank.get(i.account, 9), i.name))


def _tag_filter(run_id: str | None) -> list[dict[str, Any]]:
    return [{"Key": RUN_ID_TAG, "Values": [run_id]}] if run_id else [{"Key": RUN_ID_TAG}]


def _leftover(
    account_id: str, kind: str, name: str, arn: str, tags: dict[str, str], found_by: str
) -> Leftover:
    stack_id = tags.get("aws:cloudformation:stack-id") if kind != "cloudformation-stack" else None
    return Leftover(
        account=account_id,
        kind=kind,
        name=name,
        arn=arn,
        run_id=tags.get(RUN_ID_TAG),
        created_at=parse_time(tags.get(CREATED_AT_TAG, "")),
        expires_at=parse_time(tags.get(EXPIRES_AT_TAG, "")),
        found_by=found_by,
        stack_id=stack_id,
    )


def _stacks(
    target: Target, account: str, account_id: str, run_id: str | None, project: str | None
) -> Iterable[Leftover]:
    cfn = target.client("cloudformation", account)
    for page in cfn.get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            tags = _tags(stack.get("Tags"))
            if RUN_ID_TAG not in tags or stack["StackStatus"] == "DELETE_COMPLETE":
                continue
            item = _leftover(
                account_id, "cloudformation-stack", stack["StackName"], stack["StackId"], tags, "stack tags"
            )
            changes: dict[str, Any] = {"status": stack["StackStatus"]}
            if item.created_at is None:
                changes["created_at"] = stack.get("CreationTime")
            yield Leftover(**{**vars(item), **changes})


def _tagging_api(
    target: Target, account: str, account_id: str, run_id: str | None, project: str | None
) -> Iterable[Leftover]:
    tagging = target.client("resourcegroupstaggingapi", account)
    for page in tagging.get_paginator("get_resources").paginate(TagFilters=_tag_filter(run_id)):
        for resource in page["ResourceTagMappingList"]:
            arn = resource["ResourceARN"]
            tags = _tags(resource.get("Tags"))
            kind, name = _kind_of(arn)
            if kind == "cloudformation-stack":
                continue  # listed with their status by _stacks
            if kind == "kms-key" and _key_pending_deletion(target, account, arn):
                continue
            yield _leftover(account_id, kind, name, arn, tags, "tagging API")


def _code_services(
    target: Target, account: str, account_id: str, run_id: str | None, project: str | None
) -> Iterable[Leftover]:
    region = target.region
    codecommit = target.client("codecommit", account)
    for page in codecommit.get_paginator("list_repositories").paginate():
        for repo in page.get("repositories", []):
            arn = f"arn:aws:codecommit:{region}:{account_id}:{repo['repositoryName']}"
            tags = codecommit.list_tags_for_resource(resourceArn=arn).get("tags", {})
            if RUN_ID_TAG in tags:
                yield _leftover(
                    account_id, "codecommit-repository", repo["repositoryName"], arn, tags, "CodeCommit tags"
                )
    codepipeline = target.client("codepipeline", account)
    for page in codepipeline.get_paginator("list_pipelines").paginate():
        for pipeline in page.get("pipelines", []):
            arn = f"arn:aws:codepipeline:{region}:{account_id}:{pipeline['name']}"
            tags = _tags(codepipeline.list_tags_for_resource(resourceArn=arn).get("tags"), "key", "value")
            if RUN_ID_TAG in tags:
                yield _leftover(
                    account_id, "codepipeline-pipeline", pipeline["name"], arn, tags, "CodePipeline tags"
                )
    codebuild = target.client("codebuild", account)
    names = [
        n for page in codebuild.get_paginator("list_projects").paginate() for n in page.get("projects", [])
    ]
    for start in range(0, len(names), 100):
        for project_info in codebuild.batch_get_projects(names=names[start : start + 100]).get(
            "projects", []
        ):
            tags = _tags(project_info.get("tags"), "key", "value")
            if RUN_ID_TAG in tags:
                yield _leftover(
                    account_id,
                    "codebuild-project",
                    project_info["name"],
                    project_info["arn"],
                    tags,
                    "CodeBuild tags",
                )
    codedeploy = target.client("codedeploy", account)
    for page in codedeploy.get_paginator("list_applications").paginate():
        for name in page.get("applications", []):
            arn = f"arn:aws:codedeploy:{region}:{account_id}:application:{name}"
            tags = _tags(codedeploy.list_tags_for_resource(ResourceArn=arn).get("Tags"))
            if RUN_ID_TAG in tags:
                yield _leftover(account_id, "codedeploy-application", name, arn, tags, "CodeDeploy tags")
    ecr = target.client("ecr", account)
    for page in ecr.get_paginator("describe_repositories").paginate():
        for repo in page.get("repositories", []):
            tags = _tags(ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"]).get("tags"))
            if RUN_ID_TAG in tags:
                yield _leftover(
                    account_id,
                    "ecr-repository",
                    repo["repositoryName"],
                    repo["repositoryArn"],
                    tags,
                    "ECR tags",
                )


def _log_groups(
    target: Target, account: str, account_id: str, run_id: str | None, project: str | None
) -> Iterable[Leftover]:
    if not project:
        return
    logs = target.client("logs", account)
    pattern = re.compile(
        re.escape(project) + "-" + (re.escape(run_id) + "(?![a-z0-9])" if run_id else _RUN_ID_IN_NAME)
    )
    # SNS writes delivery status to sns/<region>/<account>/<topic>[/Failure], creating the group if missing
    for prefix in (*LOG_GROUP_PREFIXES, f"sns/{target.region}/{account_id}/"):
        for page in logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=f"{prefix}{project}-"
        ):
            for group in page.get("logGroups", []):
                matched = pattern.match(group["logGroupName"].removeprefix(prefix))
                if not matched:
                    continue
                created = datetime.fromtimestamp(group.get("creationTime", 0) / 1000, UTC)
                arn = group.get("arn", "").removesuffix(":*") or (
                    f"arn:aws:logs:{target.region}:{account_id}:log-group:{group['logGroupName']}"
                )
                yield Leftover(
                    account_id,
                    "logs-log-group",
                    group["logGroupName"],
                    arn,
                    run_id or matched.group(1),
                    created,
                    None,
                    "log group name",
                )


def _kind_of(arn: str) -> tuple[str, str]:
    """(kind, name) of an ARN: arn:aws:<service>:<region>:<account>:<resource>."""
    parts = arn.split(":", 5)
    service, resource = parts[2], parts[5] if len(parts) > 5 else ""
    if service == "s3":
        return "s3-bucket", resource.split("/")[0]
    if service == "sqs":
        return "sqs-queue", resource
    if service == "sns":
        return "sns-topic", resource
    if service == "logs":
        return "logs-log-group", resource.removeprefix("log-group:").removesuffix(":*")
    if service == "lambda":
        return "lambda-function", resource.removeprefix("function:").split(":")[0]
    if service == "events" and resource.startswith("rule/"):
        return "events-rule", resource.removeprefix("rule/")
    if service == "kms" and resource.startswith("key/"):
        return "kms-key", resource.removeprefix("key/")
    if service == "secretsmanager":
        return "secretsmanager-secret", resource.removeprefix("secret:")
    if service == "codedeploy" and resource.startswith("application:"):
        return "codedeploy-application", resource.removeprefix("application:")
    if service == "cloudformation":
        return "cloudformation-stack", resource.split("/")[1] if "/" in resource else resource
    kind = resource.split("/")[0].split(":")[0]
    return f"{service}-{kind}", resource


def _key_pending_deletion(target: Target, account: str, arn: str) -> bool:
    try:
        state = target.client("kms", account).describe_key(KeyId=arn)["KeyMetadata"]["KeyState"]
    except ClientError:
        return True  # gone
    return state in ("PendingDeletion", "PendingReplicaDeletion")


def select(leftovers: Iterable[Leftover], now: datetime, older_than: timedelta | None) -> list[Leftover]:
    """What a sweep deletes: older than ``older_than`` when given, else expired (expires-at passed, or
    created more than the default time-to-live ago when only that is known)."""
    chosen = []
    for item in leftovers:
        if older_than is not None:
            if item.created_at is not None and now - item.created_at >= older_than:
                chosen.append(item)
        elif item.expires_at is not None:
            if item.expires_at <= now:
                chosen.append(item)
        elif item.created_at is not None and now - item.created_at >= DEFAULT_TTL:
            chosen.append(item)
    return chosen


# -- deleting ------------------------------------------------------------------------------------------


def delete_leftovers(
    target: Target, leftovers: Sequence[Leftover], progress: Progress = lambda _: None
) -> list[tuple[Leftover, str]]:
    """Delete in dependency order; (leftover, why it failed) for each one that could not be deleted."""
    failed: list[tuple[Leftover, str]] = []
    for item in sorted(leftovers, key=lambda i: i.order):
        account = item.account
        progress(f"deleting {item.kind} {item.name} (account {account})")
        try:
            _delete(target, item)
        except ClientError as exc:
            error = exc.response["Error"]
            if error.get("Code") in _GONE:
                continue
            failed.append((item, f"{error.get('Code')}: {error.get('Message')}"))
        except Exception as exc:  # one failure must not stop the others
            failed.append((item, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
    return failed


def _delete(target: Target, item: Leftover) -> None:
    account = item.account
    client = lambda service: target.client(service, account)  # noqa: E731
    kind = item.kind
    if kind == "cloudformation-stack":
        delete_stack_fully(target, account, item.arn)
    elif kind == "codepipeline-pipeline":
        client("codepipeline").delete_pipeline(name=item.name)
    elif kind == "codebuild-project":
        client("codebuild").delete_project(name=item.name)
    elif kind == "codedeploy-application":
        client("codedeploy").delete_application(applicationName=item.name)
    elif kind == "lambda-function":
        client("lambda").delete_function(FunctionName=item.name)
    elif kind == "events-rule":
        events = client("events")
        bus, _, rule = item.name.rpartition("/")
        where = {"EventBusName": bus} if bus else {}
        ids = [t["Id"] for t in events.list_targets_by_rule(Rule=rule, **where).get("Targets", [])]
        if ids:
            events.remove_targets(Rule=rule, Ids=ids, Force=True, **where)
        events.delete_rule(Name=rule, Force=True, **where)
    elif kind == "sns-topic":
        client("sns").delete_topic(TopicArn=item.arn)
    elif kind == "sqs-queue":
        sqs = client("sqs")
        sqs.delete_queue(
            QueueUrl=sqs.get_queue_url(QueueName=item.name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        )
    elif kind == "ecr-repository":
        client("ecr").delete_repository(repositoryName=item.name, force=True)
    elif kind == "s3-bucket":
        empty_bucket(client("s3"), item.name, delete=True)
    elif kind == "codecommit-repository":
        client("codecommit").delete_repository(repositoryName=item.name)
    elif kind == "logs-log-group":
        client("logs").delete_log_group(logGroupName=item.name)
    elif kind == "secretsmanager-secret":
        client("secretsmanager").delete_secret(SecretId=item.arn, ForceDeleteWithoutRecovery=True)
    elif kind == "kms-key":
        client("kms").schedule_key_deletion(KeyId=item.arn, PendingWindowInDays=7)
    else:
        raise RuntimeError(f"the sweep cannot delete {kind} resources: delete {item.arn} by hand")


def delete_stack_fully(
    target: Target, account: str, stack_id: str, *, timeout: float = STACK_DELETE_TIMEOUT
) -> None:
    """Clear what CloudFormation cannot delete, delete the stack, wait; once more if it ends
    DELETE_FAILED (a resource that was busy, e.g. a task set draining), then report its reasons."""
    cfn = target.client("cloudformation", account)
    for attempt in (1, 2):
        _prepare_stack(target, account, cfn, stack_id)
        cfn.delete_stack(StackName=stack_id)
        final = wait_until(
            lambda: cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"],
            timeout=timeout,
            accept=lambda s: not s.endswith("_IN_PROGRESS"),
            describe_expected=f"stack {stack_id} to be deleted",
            describe_seen=lambda s: f"status {s}",
            interval=0.2,
            max_interval=10.0,
        )
        if final == "DELETE_COMPLETE":
            return
        if attempt == 2:
            events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
            reasons = [
                f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
                for e in events
                if e["ResourceStatus"] == "DELETE_FAILED" and e.get("PhysicalResourceId") != stack_id
            ][:3]
            raise RuntimeError(f"stack ended {final}: {'; '.join(reasons) or 'no reason given'}")


def _prepare_stack(target: Target, account: str, cfn: Any, stack_id: str) -> None:
    try:
        resources = cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    except ClientError:
        return
    live = [r for r in resources if r.get("PhysicalResourceId") and r["ResourceStatus"] != "DELETE_COMPLETE"]
    for resource in live:
        kind, physical = resource["ResourceType"], resource["PhysicalResourceId"]
        try:
            if kind == "AWS::S3::Bucket":
                empty_bucket(target.client("s3", account), physical)
            elif kind == "AWS::ECR::Repository":
                _empty_ecr(target.client("ecr", account), physical)
            elif kind == "AWS::IAM::User":
                _drop_user_credentials(target.client("iam", account), physical)
            elif kind == "AWS::ECS::Service":
                _delete_task_sets(target.client("ecs", account), physical)
        except ClientError as exc:
            if exc.response["Error"].get("Code") not in _GONE:
                raise


def _empty_ecr(ecr: Any, repository: str) -> None:
    """ECR refuses to delete a repository with images (unless EmptyOnDelete): delete them first."""
    for page in ecr.get_paginator("list_images").paginate(repositoryName=repository):
        ids = page.get("imageIds", [])
        for start in range(0, len(ids), 100):
            ecr.batch_delete_image(repositoryName=repository, imageIds=ids[start : start + 100])


def _drop_user_credentials(iam: Any, user: str) -> None:
    """IAM refuses DeleteUser while the user has HTTPS Git credentials or access keys (DeleteConflict)."""
    for credential in iam.list_service_specific_credentials(UserName=user).get(
        "ServiceSpecificCredentials", []
    ):
        iam.delete_service_specific_credential(
            UserName=user, ServiceSpecificCredentialId=credential["ServiceSpecificCredentialId"]
        )
    for key in iam.list_access_keys(UserName=user).get("AccessKeyMetadata", []):
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])


def _delete_task_sets(ecs: Any, service_arn: str) -> None:
    """CodeDeploy's task sets (created at deploy time, outside the stack) keep a CODE_DEPLOY service alive."""
    cluster = service_arn.split("/")[1] if service_arn.count("/") >= 2 else None
    if cluster is None:
        return
    for service in ecs.describe_services(cluster=cluster, services=[service_arn]).get("services", []):
        for task_set in service.get("taskSets", []):
            try:
                ecs.delete_task_set(
                    cluster=cluster, service=service_arn, taskSet=task_set["taskSetArn"], force=True
                )
            except ClientError as exc:  # gone meanwhile: a stopped deployment's rollback deletes green
                if exc.response["Error"].get("Code") != "TaskSetNotFoundException":
                    raise


# -- the command ---------------------------------------------------------------------------------------


def parse_age(text: str) -> timedelta:
    """``90m``, ``6h``, ``2d`` -> timedelta."""
    matched = re.fullmatch(r"(\d+)([mhd])", text.strip())
    if not matched:
        raise argparse.ArgumentTypeError(f"{text!r}: use a number and m, h or d (e.g. 90m, 6h, 2d)")
    number, unit = int(matched.group(1)), matched.group(2)
    return {"m": timedelta(minutes=number), "h": timedelta(hours=number), "d": timedelta(days=number)}[unit]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="find (and with --yes delete) what earlier aws runs left behind",
        description="List what harness runs left in the allowed accounts of targets.aws (stacks and "
        "resources tagged gitops-harness:run-id, and log groups named after a run). A dry run by default. "
        "Exit codes: 0 nothing left (or all deleted), 1 leftovers listed or some could not be deleted, "
        "2 bad config or an account not on the allowlist.",
    )
    parser.add_argument("--config", type=Path, help="harness.yaml to use (default: found from the cwd)")
    parser.add_argument(
        "--older-than", type=parse_age, help="only what was created longer ago than this (default: expired)"
    )
    parser.add_argument("--run-id", help="only what one run created (whatever its age)")
    parser.add_argument("--yes", action="store_true", help="delete what is listed (default: dry run)")
    parser.set_defaults(func=run_sweep)


def run_sweep(args: argparse.Namespace) -> int:
    from gitops_harness.config import load_config
    from gitops_harness.targets.aws import AwsTarget

    config = load_config(args.config)
    target = AwsTarget.from_config(config, purpose="sweep")
    with target:  # GetCallerIdentity per account, refused unless all are on the allowlist
        now = datetime.now(UTC)
        found = find_leftovers(target, run_id=args.run_id, project=config.project)
        chosen = found if args.run_id else select(found, now, args.older_than)
        rule = (
            f"run {args.run_id}"
            if args.run_id
            else f"older than {args.older_than}"
            if args.older_than
            else "expired"
        )
        print(f"{len(found)} harness resource(s) found, {len(chosen)} {rule}:")
        for item in chosen:
            print(f"  {item.kind:<24} {item.name}  (account {item.account}; {item.why(now)})")
        if not chosen:
            return EXIT_OK
        if not args.yes:
            print("dry run: nothing deleted; run again with --yes to delete these")
            return EXIT_FINDINGS
        failed = delete_leftovers(target, chosen, lambda m: print(f"  {m}", file=sys.stderr, flush=True))
        for item, reason in failed:
            print(f"FAILED {item.kind} {item.name} (account {item.account}): {reason}")
        print(f"deleted {len(chosen) - len(failed)}, failed {len(failed)}")
        return EXIT_FINDINGS if failed else EXIT_OK


__all__ = ["Leftover", "delete_leftovers", "find_leftovers", "parse_age", "select"]
