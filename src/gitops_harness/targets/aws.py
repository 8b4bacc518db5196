"""The ``aws`` target: the team's dev accounts, for the nightly smoke.

Before anything is written, ``start()`` resolves credentials for both accounts (boto3's default chain,
a profile per account, or GitLab CI OIDC: the job's ID token -> AssumeRoleWithWebIdentity into the
pipeline account's role -> AssumeRole into the management account's role), calls GetCallerIdentity with
each, and refuses (InputError, exit 2) unless every account is the configured one and on
``targets.aws.allowed_accounts``. The region was checked when the settings were read.

A run (``purpose="run"``) has a run id: ``ephemeral`` mode deploys the pipeline's stacks as
``<project>-<run id>`` (stack and resource names carry it), every stack and resource the harness creates
is tagged with ``run_tags.RunTags``, and ``stop()`` deletes everything carrying the run id (sweep.py),
however the run ended: SIGTERM, SIGHUP, Ctrl-C and the run's deadline all unwind through it
(run_guard.py). ``existing`` mode runs through the team's deployed pipeline, named in the settings.

``endpoint_url`` (rehearsal): every client goes to that endpoint instead of AWS's, e.g. the embedded
AWS; capabilities then come from what that endpoint reports it serves.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
import threading
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from gitops_harness.config import Accounts, HarnessConfig
from gitops_harness.errors import InputError
from gitops_harness.run_guard import RunGuard
from gitops_harness.run_tags import RunTags
from gitops_harness.targets.aws_settings import ACCOUNT_ROLES, AwsSettings, aws_settings
from gitops_harness.targets.base import Target
from gitops_harness.waiting import wait_until, wait_until_e

if TYPE_CHECKING:
    from gitops_harness.stacks import Deployment

# What AWS itself offers the suites (the kind marker included).
AWS_CAPABILITIES = frozenset(
    {
        "codecommit-git",
        "codecommit-api",
        "events",
        "cross-account-events",
        "sns",
        "cloudformation",
        "build",
        "pipeline-execution",
        "manual-approval",
        "bluegreen",
        "chat",
        "lambda-invoke",
        "real-aws",
    }
)
CALLS_FILE_ENV = "GITOPS_HARNESS_AWS_CALLS_FILE"
_REFRESH_BEFORE = timedelta(minutes=5)
# Operations that only read; every other call may change something.
READ_PREFIXES = ("Describe", "Get", "List", "BatchGet", "Head", "Query", "Scan", "Receive")
_IN_FLIGHT_SETTLE = 60.0  # the clients' read timeout (targets.base)
_IN_FLIGHT_OTHER = 5.0
_STS_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
_PROJECT_NAME_MAX = 31  # the reference templates' ProjectName pattern: ^[a-z][a-z0-9-]{2,30}$

Progress = Callable[[str], None]


@dataclasses.dataclass
class _AccountCredentials:
    """Credentials for one account: re-fetched when they are about to expire (assumed roles last 1 h)."""

    fetch: Callable[[], tuple[dict[str, str], datetime | None]]
    current: dict[str, str] | None = None
    expires: datetime | None = None

    def get(self) -> dict[str, str]:
        if self.current is None or (
            self.expires is not None and self.expires - datetime.now(UTC) < _REFRESH_BEFORE
        ):
            self.current, self.expires = self.fetch()
        return self.current


class AwsTarget(Target):
    name = "aws"

    def __init__(
        self,
        accounts: Accounts,
        settings: AwsSettings,
        *,
        project: str = "gitops-sample",
        purpose: str = "run",
        run_id: str | None = None,
        progress: Progress | None = None,
        chat_webhook_url: str | None = None,
        chat_webhook_env: str = "CHAT_WEBHOOK_URL",
    ):
        super().__init__(accounts, settings.region)
        self.settings = settings
        # ephemeral mode: the chat notifier it deploys posts there (a secret: only ever a NoEcho parameter)
        self._chat_webhook_url = chat_webhook_url
        self._chat_webhook_env = chat_webhook_env
        self.project = project
        self.purpose = purpose  # "run": tagged, torn down on stop; "sweep": only finds and deletes
        self.tags = RunTags.new(run_id, timedelta(hours=settings.smoke.expires_after_hours))
        self.run_id = self.tags.run_id
        self.cleanup_failures: list[str] = []
        self.identities: dict[str, str] = {}  # account role -> caller ARN
        self.called: dict[str, set[str]] = {}  # account role -> IAM actions its clients called
        self._progress = progress or (lambda m: print(f"gitops-harness: {m}", file=sys.stderr, flush=True))
        self._credentials: dict[str, _AccountCredentials] = {}
        self._guard: RunGuard | None = None
        self._started = False
        self._lock_credentials = threading.Lock()
        self._clients: dict[tuple[str, str, str, str], Any] = {}
        # API calls sent and not answered: a run interrupted mid-call (SIGTERM during CreateStack) may
        # have created something AWS shows only once that call completes server-side.
        self._in_flight: dict[int, str] = {}
        events = self._session.events
        events.register("before-call", self._call_started)
        events.register("after-call", self._call_ended)
        events.register("after-call-error", self._call_ended)

    @classmethod
    def from_config(cls, config: HarnessConfig, *, purpose: str = "run", **overrides: Any) -> AwsTarget:
        webhook_env = str(config.chat.get("webhook_url_env") or "CHAT_WEBHOOK_URL")
        overrides.setdefault("chat_webhook_url", os.environ.get(webhook_env, "").strip() or None)
        overrides.setdefault("chat_webhook_env", webhook_env)
        return cls(
            config.accounts, aws_settings(config), project=config.project, purpose=purpose, **overrides
        )

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> AwsTarget:
        if self._started:
            return self
        if self.purpose == "run":
            self._guard = RunGuard(
                self.settings.smoke.run_timeout_minutes * 60, note=self._progress
            ).__enter__()
        try:
            self._resolve_credentials()
            self.check_accounts()
            self._capabilities = self._discover_capabilities()
        except BaseException:
            self._exit_guard()
            raise
        self._started = True
        return self

    def stop(self) -> None:
        if not self._started:
            return
        try:
            if self.purpose == "run":
                guard = self._guard
                if guard is not None and guard.active:
                    with guard.shielded():
                        self.clean_up()
                else:
                    self.clean_up()
        finally:
            self._exit_guard()
            self._started = False
            self._capabilities = None
            self._write_calls()

    def _write_calls(self) -> None:
        """With GITOPS_HARNESS_AWS_CALLS_FILE set, add the IAM actions this target called to that JSON
        file ({account: [actions]}): what the nightly role's policy must allow (targets/aws_policy.py)."""
        path = os.environ.get(CALLS_FILE_ENV)
        if not path:
            return
        target = Path(path)
        merged: dict[str, set[str]] = {}
        if target.is_file():
            merged = {k: set(v) for k, v in json.loads(target.read_text()).items()}
        for account, actions in self.called.items():
            merged.setdefault(account, set()).update(actions)
        target.write_text(json.dumps({k: sorted(v) for k, v in sorted(merged.items())}, indent=2) + "\n")

    def _exit_guard(self) -> None:
        if self._guard is not None:
            self._guard.__exit__(None, None, None)
            self._guard = None

    def _call_started(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        self._in_flight[id(context)] = f"{model.service_model.service_name}:{model.name}"

    def _call_ended(self, context: dict[str, Any], **_: Any) -> None:
        self._in_flight.pop(id(context), None)

    def _run_stacks_settled(self) -> bool:
        """True once a stack named after this run exists in some account and none is *_IN_PROGRESS."""
        statuses = [
            summary["StackStatus"]
            for role in ACCOUNT_ROLES
            for page in self.client("cloudformation", role).get_paginator("list_stacks").paginate()
            for summary in page.get("StackSummaries", [])
            if self.run_id in summary["StackName"] and summary["StackStatus"] != "DELETE_COMPLETE"
        ]
        return bool(statuses) and not any(s.endswith("_IN_PROGRESS") for s in statuses)

    def interrupted_writes(self) -> list[str]:
        """Calls that were sent but never answered (the run was stopped while waiting for them)."""
        return sorted(
            call
            for call in self._in_flight.values()
            if not call.split(":")[1].startswith(READ_PREFIXES) and not call.startswith("sts:")
        )

    def clean_up(self) -> list[str]:
        """Delete everything tagged with this run's id (and log groups named after it); what failed."""
        from gitops_harness.sweep import delete_leftovers, find_leftovers

        def find() -> list[Any]:
            # a throttled or failing read must not end the teardown: retry it within a deadline
            return wait_until(
                lambda: find_leftovers(self, run_id=self.run_id, project=self.project),
                timeout=_IN_FLIGHT_SETTLE,
                accept=lambda _: True,
                describe_expected=f"a listing of run {self.run_id}'s resources",
                retry_on=(Exception,),
                interval=1.0,
            )

        interrupted = self.interrupted_writes()
        self._in_flight.clear()
        if interrupted:
            self._progress(f"run {self.run_id}: waiting for {', '.join(interrupted)}, interrupted in flight")
        if "cloudformation:CreateStack" in interrupted:
            # The stack shows once AWS has taken the call; wait (bounded by the clients' read timeout)
            # until it stops changing. ListStacks only: it carries the name and status, which is all
            # this needs, and reads nothing a creation is still writing.
            wait_until_e(
                self._run_stacks_settled,
                timeout=_IN_FLIGHT_SETTLE,
                describe_expected=f"run {self.run_id}'s stacks to stop changing",
                retry_on=(ClientError, BotoCoreError),
                interval=1.0,
                max_interval=5.0,
            )
        left = find()
        if interrupted and not left:  # another write in flight: what it made shows up shortly
            found, _ = wait_until_e(
                find,
                timeout=_IN_FLIGHT_OTHER,
                describe_expected="what the interrupted call made",
                interval=1.0,
            )
            left = found or []
        if left:
            self._progress(f"run {self.run_id}: tearing down {len(left)} resource(s)")
        failed = delete_leftovers(self, left, self._progress)
        remaining = find() if left else []
        if remaining:  # e.g. log groups a function wrote while its stack was being deleted
            failed += delete_leftovers(self, remaining, self._progress)
            remaining = find()
        self.cleanup_failures = [f"{i.kind} {i.name}: {why}" for i, why in failed] + [
            f"{i.kind} {i.name}: still there after teardown"
            for i in remaining
            if i not in (f for f, _ in failed)
        ]
        if self.cleanup_failures:
            self._progress(
                f"run {self.run_id}: teardown left {len(self.cleanup_failures)} resource(s); "
                f"`gitops-harness sweep --run-id {self.run_id} --yes` retries: "
                + " | ".join(self.cleanup_failures)
            )
        return self.cleanup_failures

    # -- where and as whom ----------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str | None:
        return self.settings.endpoint_url

    def credentials(self, account_id: str) -> dict[str, str]:
        for role in ACCOUNT_ROLES:
            if getattr(self.accounts, role) == account_id:
                with self._lock_credentials:
                    return dict(self._credentials[role].get())
        raise InputError(
            f"account {account_id} is neither accounts.management nor accounts.pipeline: the aws target "
            "acts only in those two"
        )

    def client(self, service: str, account: str = "pipeline", region: str | None = None) -> Any:
        """As Target.client, kept per (service, account, credentials): teardown and sweep ask for a dozen
        services per account, and building a botocore client costs a few hundred milliseconds."""
        account_id = self.account_id(account)
        key = (service, account_id, region or self.region, self.credentials(account_id)["aws_access_key_id"])
        cached = self._clients.get(key)
        if cached is None:
            cached = self._clients[key] = super().client(service, account, region)
            role = next(r for r in ACCOUNT_ROLES if getattr(self.accounts, r) == account_id)
            cached.meta.events.register("before-call", functools.partial(self._record_call, role))
        return cached

    def _record_call(self, account: str, model: Any, **_: Any) -> None:
        from gitops_harness.targets.aws_policy import iam_action

        self.called.setdefault(account, set()).add(iam_action(model.service_model, model.name))

    def git_url_rewrites(self) -> list[tuple[str, str]]:
        if not self.endpoint_url:
            return []
        from gitops_harness.emulator.codecommit.models import insteadof_config

        return [insteadof_config(self.endpoint_url, self.region)]

    def _sts(self, creds: dict[str, str] | None = None) -> Any:
        kwargs: dict[str, Any] = dict(creds or {})
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        with self._lock:
            return self._session.client("sts", region_name=self.region, config=_STS_CONFIG, **kwargs)

    def _resolve_credentials(self) -> None:
        settings = self.settings.credentials
        if settings.source == "oidc":
            self._credentials["pipeline"] = _AccountCredentials(self._web_identity)
            self._credentials["management"] = _AccountCredentials(
                lambda: self._assume(settings.roles["management"], self._credentials["pipeline"].get())
            )
            return
        for role in ACCOUNT_ROLES:
            base = self._base_credentials(role)
            arn = settings.roles.get(role)
            if arn:
                self._credentials[role] = _AccountCredentials(
                    lambda arn=arn, base=base: self._assume(arn, base())  # type: ignore[misc]
                )
            else:
                self._credentials[role] = _AccountCredentials(lambda base=base: (base(), None))  # type: ignore[misc]

    def _base_credentials(self, role: str) -> Callable[[], dict[str, str]]:
        """boto3's default chain, or the account's profile: frozen credentials, refreshed by botocore."""
        profile = self.settings.credentials.profiles.get(role)
        try:
            session = boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
        except ProfileNotFound:
            raise InputError(
                f"targets.aws.credentials.profiles.{role}: profile {profile!r} is not in the AWS config files"
            ) from None
        found = session.get_credentials()
        if found is None:
            where = (
                f"profile {profile!r}"
                if profile
                else "boto3's default chain (environment, config files, instance role)"
            )
            raise InputError(f"no AWS credentials for accounts.{role} from {where}")

        def frozen() -> dict[str, str]:
            creds = found.get_frozen_credentials()
            out = {"aws_access_key_id": creds.access_key, "aws_secret_access_key": creds.secret_key}
            if creds.token:
                out["aws_session_token"] = creds.token
            return out

        return frozen

    def _assume(self, role_arn: str, source: dict[str, str]) -> tuple[dict[str, str], datetime | None]:
        try:
            answer = self._sts(source).assume_role(
                RoleArn=role_arn, RoleSessionName=self._session_name(), Tags=self._session_tags()
            )
        except ClientError as exc:
            raise InputError(f"cannot assume {role_arn}: {_aws_error(exc)}") from None
        return _from_sts(answer["Credentials"])

    def _web_identity(self) -> tuple[dict[str, str], datetime | None]:
        settings = self.settings.credentials
        token = os.environ.get(settings.web_identity_token_env, "").strip()
        if not token:
            raise InputError(
                f"environment variable {settings.web_identity_token_env} (targets.aws.credentials."
                "web_identity_token_env) is empty: in GitLab CI, declare it under id_tokens with "
                "aud: sts.amazonaws.com"
            )
        try:
            answer = self._sts().assume_role_with_web_identity(
                RoleArn=settings.roles["pipeline"],
                RoleSessionName=self._session_name(),
                WebIdentityToken=token,
            )
        except ClientError as exc:
            raise InputError(
                f"cannot assume {settings.roles['pipeline']} with the web identity token: {_aws_error(exc)}"
            ) from None
        return _from_sts(answer["Credentials"])

    def _session_name(self) -> str:
        return f"{self.settings.credentials.session_name}-{self.run_id}"[:64]

    def _session_tags(self) -> list[dict[str, str]]:
        return [{"Key": "gitops-harness-run-id", "Value": self.run_id}]

    def check_accounts(self) -> None:
        """GetCallerIdentity with each account's credentials: refuse (InputError) unless each is the
        configured account and on the allowlist. Only STS is called before this passes."""
        allowed = self.settings.allowed_accounts
        problems: list[str] = []
        for role in ACCOUNT_ROLES:
            expected = getattr(self.accounts, role)
            try:
                identity = self._sts(self._credentials[role].get()).get_caller_identity()
            except ClientError as exc:
                raise InputError(f"GetCallerIdentity for accounts.{role} failed: {_aws_error(exc)}") from None
            except (NoCredentialsError, BotoCoreError) as exc:
                raise InputError(f"GetCallerIdentity for accounts.{role} failed: {exc}") from None
            actual, arn = identity["Account"], identity["Arn"]
            self.identities[role] = arn
            if actual not in allowed:
                problems.append(
                    f"account {actual} ({arn}, the credentials for accounts.{role}) is not in "
                    f"targets.aws.allowed_accounts ({', '.join(allowed)})"
                )
            elif actual != expected:
                problems.append(
                    f"the credentials for accounts.{role} act in account {actual} ({arn}), "
                    f"but harness.yaml says accounts.{role} is {expected}"
                )
        if problems:
            raise InputError("; ".join(problems) + ": refusing to run, nothing was changed")

    # -- what a run deploys ---------------------------------------------------------------------------

    def resource_tags(self) -> dict[str, str]:
        return self.tags.as_dict() if self.purpose == "run" else {}

    def stack_parameters(self) -> dict[str, dict[str, str]]:
        """Ephemeral mode: the chat notifier posts to the webhook in chat.webhook_url_env's variable."""
        if self.settings.mode != "ephemeral" or not self._chat_webhook_url:
            return {}
        return {"pipeline": {"ChatWebhookUrl": self._chat_webhook_url}}

    def notify_unavailable(self) -> str | None:
        if self.settings.mode == "ephemeral" and not self._chat_webhook_url:
            return (
                f"no chat webhook for the chat notifier the run deploys: set the environment variable "
                f"{self._chat_webhook_env} (chat.webhook_url_env)"
            )
        if self.settings.mode == "existing" and not self.settings.existing.get("chat_notifier"):
            return (
                "targets.aws.existing.chat_notifier is not set: the notify verdict reads that function's log"
            )
        return None

    def run_config(self, config: HarnessConfig) -> HarnessConfig:
        """Ephemeral mode: the project (so every stack and resource name) carries the run id, and the
        smoke run's deployment config and termination wait are stack parameters."""
        if self.settings.mode != "ephemeral":
            return config
        project = f"{config.project}-{self.run_id}"
        if len(project) > _PROJECT_NAME_MAX:
            raise InputError(
                f"project {config.project!r} is too long for ephemeral runs: {project!r} exceeds "
                f"{_PROJECT_NAME_MAX} characters (the templates' ProjectName limit)"
            )
        smoke = self.settings.smoke
        parameters = {key: dict(value) for key, value in config.templates.parameters.items()}
        parameters["pipeline"] = {
            **parameters.get("pipeline", {}),
            "DeploymentConfigName": smoke.deployment_config,
            "TerminationWaitMinutes": str(smoke.termination_wait_minutes),
        }
        templates = dataclasses.replace(config.templates, parameters=parameters)
        return dataclasses.replace(config, project=project, templates=templates, region=self.region)

    def existing_deployment(self, config: HarnessConfig) -> Deployment | None:
        """Existing mode: the team's deployed pipeline, read from AWS by the names in the settings."""
        if self.settings.mode != "existing":
            return None
        from gitops_harness.targets.aws_existing import find_existing_deployment

        return find_existing_deployment(self, self.settings.existing)

    # -- capabilities ---------------------------------------------------------------------------------

    def _discover_capabilities(self) -> frozenset[str]:
        if not self.endpoint_url:
            return AWS_CAPABILITIES
        return _endpoint_capabilities(self.endpoint_url)


def _endpoint_capabilities(endpoint_url: str) -> frozenset[str]:
    """What a stand-in endpoint serves, from its health document (the embedded AWS's
    /_emulator/health); the real-aws marker stays off, since it is not AWS."""
    from gitops_harness.targets.embedded import PLANE_OPERATIONS, SERVICES, serves_git

    try:
        with urllib.request.urlopen(f"{endpoint_url}/_emulator/health", timeout=10) as answer:  # noqa: S310
            health = json.load(answer)
            services = health.get("services", {})
    except (OSError, ValueError) as exc:
        raise InputError(
            f"targets.aws.endpoint_url {endpoint_url}: no emulator health document ({exc})"
        ) from None
    found = set()
    for capability, needs in PLANE_OPERATIONS.items():
        if all(
            set(ops) <= set(services.get(service, {}).get("operations", [])) for service, ops in needs.items()
        ):
            found.add(capability)
    for capability, names in SERVICES.items():
        if all(name in services for name in names):
            found.add(capability)
    if "events" in found:
        found.add("cross-account-events")  # the embedded AWS forwards between accounts' buses
    if serves_git(endpoint_url):
        found.add("codecommit-git")
    # Functions run there (the chat notifier, hooks). Its ALB data plane is not taken: on the aws target a
    # listener is reached by its load balancer's DNS name, which the stand-in's listeners do not answer.
    if "lambda-invoke" in health.get("features", []):
        found.add("lambda-invoke")
    return frozenset(found)


def _from_sts(credentials: dict[str, Any]) -> tuple[dict[str, str], datetime | None]:
    expiry = credentials.get("Expiration")
    return (
        {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        },
        expiry if isinstance(expiry, datetime) else None,
    )


def _aws_error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', '?')}: {error.get('Message', '')}".strip()


__all__ = ["AWS_CAPABILITIES", "AwsTarget"]
