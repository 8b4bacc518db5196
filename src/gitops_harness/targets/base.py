"""What every target offers the suites: clients per account, an environment for tools, capabilities.

A target is where the pipeline runs: ``embedded`` (this project's emulator), later ``localstack`` and
``aws``. Suites never ask which target they are on; they ask for capabilities, and a suite whose
capabilities a target lacks is skipped with the reason (``require``, ``skip_reason``), never passed.

Capabilities (strings):
  codecommit-git       CodeCommit's git smart HTTP (a push mirror can push)
  codecommit-api       CodeCommit API (repositories, branches)
  events               EventBridge rules delivering to SQS (probes) in one account
  cross-account-events EventBridge forwarding to another account's bus
  sns                  SNS topics delivering to SQS
  cloudformation       CreateStack/DescribeStacks with S3 and SNS resources
  build                CodeBuild runs builds
  pipeline-execution   CodePipeline runs executions (GetPipelineState, GetPipelineExecution)
  manual-approval      CodePipeline approval actions (PutApprovalResult)
  bluegreen            CodeDeploy ECS blue/green deployments observable with GetDeploymentTarget
  chat                 notification rules (CodeStar Notifications) for build/deploy messages
  alb-data-plane       load balancer listeners answer HTTP here (target.listener_url(arn)) and forward to
                       ECS tasks that run
  lambda-invoke        Lambda functions run (CodeDeploy hooks, the chat notifier)
  chat-receiver        the target runs its own chat webhook receiver (``target.chat``, chat_receiver.py) and
                       deploys the pipeline with the notifier pointed at it
  disposable-accounts  any 12-digit account id is an empty account to deploy into (with_accounts)
  embedded / localstack / real-aws  the kind of target (for the embedded_only / aws_only markers)

Adding a target: subclass Target, implement start/stop, ``credentials`` and ``_discover_capabilities``.
"""

from __future__ import annotations

import copy
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

import boto3
from botocore.config import Config

from gitops_harness.config import Accounts, HarnessConfig

# The suites (suites/e2e/<name>, suites/smoke) and markers, and what each needs from a target.
CAPABILITIES: Mapping[str, frozenset[str]] = {
    "pipeline": frozenset({"cloudformation", "codecommit-git", "pipeline-execution"}),
    "mirror": frozenset({"codecommit-git", "events"}),
    "artifacts": frozenset({"pipeline-execution", "build"}),
    "build_failures": frozenset({"pipeline-execution", "build"}),
    "cross_account": frozenset({"codecommit-git", "cross-account-events", "pipeline-execution"}),
    "approval": frozenset({"pipeline-execution", "manual-approval", "sns"}),
    "bluegreen": frozenset({"pipeline-execution", "build", "bluegreen", "alb-data-plane"}),
    "bluegreen_hooks": frozenset({"bluegreen", "alb-data-plane", "lambda-invoke"}),
    "notify": frozenset({"build", "bluegreen", "chat", "sns", "lambda-invoke"}),
    "notify_receiver": frozenset({"build", "bluegreen", "chat", "sns", "lambda-invoke", "chat-receiver"}),
    "smoke": frozenset({"cloudformation", "codecommit-git", "pipeline-execution"}),
    "stacks": frozenset({"cloudformation"}),
    "embedded_only": frozenset({"embedded"}),
    "aws_only": frozenset({"real-aws"}),
}

ACCOUNT_ROLES = ("management", "pipeline")
_CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)


class Target(ABC):
    """A place the pipeline runs. Use as a context manager, or start()/stop()."""

    name: str
    # Wall seconds per AWS second: waits the target scales (deployment configs, hook timeouts) take this long.
    time_scale: float = 1.0
    # The chat webhook receiver the notifier posts to (capability chat-receiver), or None: a real chat.
    chat: Any = None

    def __init__(self, accounts: Accounts, region: str):
        self.accounts = accounts
        self.region = region
        self._capabilities: frozenset[str] | None = None
        self._session = boto3.session.Session()
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------------

    @abstractmethod
    def start(self) -> Target: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Target:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- where and as whom ----------------------------------------------------------------------------

    @property
    @abstractmethod
    def endpoint_url(self) -> str | None:
        """The single endpoint for every service, or None for AWS's own endpoints."""

    @abstractmethod
    def credentials(self, account_id: str) -> dict[str, str]:
        """boto3 credential arguments (aws_access_key_id, ...) acting in ``account_id``."""

    def account_id(self, account: str) -> str:
        """``management`` / ``pipeline`` / a 12-digit id -> the account id."""
        if account in ACCOUNT_ROLES:
            return str(getattr(self.accounts, account))
        if len(account) == 12 and account.isdigit():
            return account
        raise ValueError(f"unknown account {account!r}: use management, pipeline or a 12-digit account id")

    def client(self, service: str, account: str = "pipeline", region: str | None = None) -> Any:
        """A boto3 client for ``service`` acting in ``account`` (a role name or an id)."""
        kwargs: dict[str, Any] = dict(self.credentials(self.account_id(account)))
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        with self._lock:  # boto3 Session.client is not thread-safe
            return self._session.client(
                service, region_name=region or self.region, config=_CLIENT_CONFIG, **kwargs
            )

    def with_accounts(self, accounts: Accounts) -> Target:
        """This running target acting for another pair of accounts, for suites that must not share the
        configured ones (a target with ``disposable-accounts``). A view: stop the original, not this."""
        if "disposable-accounts" not in self.capabilities:
            raise RuntimeError(
                f"target {self.name} cannot deploy into accounts other than the configured ones"
            )
        view = copy.copy(self)
        view.accounts = accounts
        return view

    def env(self, account: str = "pipeline") -> dict[str, str]:
        """Environment variables that point the AWS CLI and SDKs at this target as ``account``."""
        creds = self.credentials(self.account_id(account))
        env = {
            "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }
        if creds.get("aws_session_token"):
            env["AWS_SESSION_TOKEN"] = creds["aws_session_token"]
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env

    # -- what a run deploys (the aws target names and tags it per run) ---------------------------------

    def resource_tags(self) -> dict[str, str]:
        """Tags for every stack and resource the harness creates on this target (none by default)."""
        return {}

    def stack_parameters(self) -> dict[str, dict[str, str]]:
        """CloudFormation parameters this target adds per stack key ("pipeline": the embedded target's
        ChatWebhookUrl, pointing the chat notifier at its receiver). None by default."""
        return {}

    def notify_unavailable(self) -> str | None:
        """Why this target's runs cannot judge chat delivery although it has the capabilities (the aws
        target without a webhook for the notifier it deploys); None: it can."""
        return None

    def run_config(self, config: HarnessConfig) -> HarnessConfig:
        """The config a run deploys with (the aws target puts the run id into the project name)."""
        return config

    def existing_deployment(self, config: HarnessConfig) -> Any:
        """An already-deployed pipeline to run through instead of deploying one (stacks.Deployment), or None."""
        return None

    def git_url_rewrites(self) -> list[tuple[str, str]]:
        """git config (key, value) pairs sending AWS CodeCommit clone URLs to this target (none on AWS)."""
        return []

    def template_url(self, bucket: str, key: str) -> str:
        """A CloudFormation TemplateURL for an object: path style on the target's own endpoint (the
        embedded AWS and LocalStack read those from their S3), else S3's virtual-hosted URL."""
        if self.endpoint_url:
            return f"{self.endpoint_url}/{bucket}/{key}"
        return f"https://{bucket}.s3.{self.region}.amazonaws.com/{key}"

    def listener_url(self, listener_arn: str) -> str:
        """A URL that reaches a load balancer listener: the load balancer's DNSName and the listener's
        port (DescribeListeners, DescribeLoadBalancers). Targets whose listeners live elsewhere override it."""
        account = listener_arn.split(":")[4]
        elbv2 = self.client("elbv2", account)
        [listener] = elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"]
        [balancer] = elbv2.describe_load_balancers(LoadBalancerArns=[listener["LoadBalancerArn"]])[
            "LoadBalancers"
        ]
        return f"{listener['Protocol'].lower()}://{balancer['DNSName']}:{listener['Port']}/"

    # -- capabilities ---------------------------------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[str]:
        if self._capabilities is None:
            raise RuntimeError(f"target {self.name} is not started: its capabilities are found on start")
        return self._capabilities

    @abstractmethod
    def _discover_capabilities(self) -> frozenset[str]:
        """What this running target can do, found from the target itself, not from a fixed list."""

    def missing(self, required: Iterable[str]) -> list[str]:
        return sorted(set(required) - self.capabilities)

    def explain(self, capability: str) -> str | None:
        """Why this target lacks ``capability`` (what it is missing), for skip reasons; None: no detail."""
        return None


def requirements(suite_or_marker: str) -> frozenset[str]:
    try:
        return CAPABILITIES[suite_or_marker]
    except KeyError:
        raise KeyError(
            f"{suite_or_marker!r} is not in targets.CAPABILITIES: add the suite and what it needs"
        ) from None


def skip_reason(target: Target, suite_or_marker: str) -> str | None:
    """Why ``suite_or_marker`` cannot run on ``target``, or None when it can."""
    missing = target.missing(requirements(suite_or_marker))
    if not missing:
        return None
    reason = f"{suite_or_marker} needs {', '.join(missing)}, which target {target.name} does not offer"
    details = [d for d in (target.explain(c) for c in missing) if d]
    return f"{reason} ({'; '.join(details)})" if details else reason


def require(target: Target, capability: str, *, why: str | None = None) -> None:
    """Skip the calling test (pytest.skip, with the reason) unless ``target`` has ``capability``."""
    if capability in target.capabilities:
        return
    import pytest

    reason = f"target {target.name} lacks capability {capability!r}"
    detail = target.explain(capability)
    if detail:
        reason = f"{reason} ({detail})"
    pytest.skip(f"{reason}: {why}" if why else reason)


def require_suite(target: Target, suite_or_marker: str) -> None:
    """Skip the calling test unless ``target`` has everything ``suite_or_marker`` needs."""
    reason = skip_reason(target, suite_or_marker)
    if reason:
        import pytest

        pytest.skip(reason)
