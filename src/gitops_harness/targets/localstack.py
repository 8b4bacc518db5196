"""The localstack target: the pipeline in a LocalStack, with this project's plugin (localstack/) serving
the code services LocalStack lacks.

Endpoint: $GITOPS_HARNESS_LOCALSTACK_ENDPOINT, else targets.localstack.endpoint in harness.yaml; with
`start: host` (or $GITOPS_HARNESS_LOCALSTACK_START=host) the target starts LocalStack in host mode from
its own venv (localstack_host.py) on a free 127.0.0.1 port and stops it afterwards. The auth token (for
the current image) is read from the variable `auth_token_env` names, only to say whether one is set:
the container, not the harness, presents it.

Capabilities are read from the running LocalStack: /_localstack/health (its services) and the plugin's
/_gitops/health (its providers, their operations, the CloudFormation resource types LocalStack has).
Without the plugin the target says up front which of the reference templates' resource types LocalStack
cannot deploy.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import boto3

from gitops_harness.config import Accounts, HarnessConfig
from gitops_harness.emulator.codecommit import insteadof_config
from gitops_harness.errors import ToolError
from gitops_harness.targets.base import _CLIENT_CONFIG, Target
from gitops_harness.targets.embedded import PLANE_OPERATIONS, SERVICES, serves_git

ENDPOINT_ENV = "GITOPS_HARNESS_LOCALSTACK_ENDPOINT"
START_ENV = "GITOPS_HARNESS_LOCALSTACK_START"
PLUGIN_HEALTH = "/_gitops/health"
LISTENERS = "/_gitops/listeners"  # the plugin's ALB data plane: each listener's local URL
_TYPE_RE = re.compile(r"^\s+Type:\s+(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)\s*$", re.MULTILINE)
# CloudFormation service prefix -> the LocalStack service (health name) its resources need
_TYPE_SERVICE = {"elasticloadbalancingv2": "elbv2", "codestarnotifications": "codestar-notifications"}


def template_types(paths: Iterable[Path]) -> set[str]:
    """The resource types (AWS::Service::Thing) the templates declare."""
    found: set[str] = set()
    for path in paths:
        found.update(_TYPE_RE.findall(Path(path).read_text()))
    return found


def _get_json(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - the configured LocalStack
            body = resp.read()
    except (urllib.error.URLError, OSError):
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def preflight(config: HarnessConfig) -> None:
    """InputError before any work when the configured LocalStack cannot be reached or started."""
    from gitops_harness.errors import InputError
    from gitops_harness.targets.localstack_host import VENV_ENV

    target = LocalStackTarget.from_config(config)
    if target._start_host:
        venv = target._venv or os.environ.get(VENV_ENV)
        if not venv or not (Path(venv) / "bin" / "python").exists():
            raise InputError(
                f"targets.localstack.start: host needs LocalStack's venv: set {VENV_ENV} or "
                "targets.localstack.venv (make .venv-localstack/.installed builds it)"
            )
        return
    if _get_json(f"{target.endpoint_url}/_localstack/health") is None:
        raise InputError(
            f"targets.localstack.endpoint: no LocalStack answers at {target.endpoint_url}/_localstack/health "
            f"(start it: docker compose up; or set {ENDPOINT_ENV}, or targets.localstack.start: host)"
        )


class LocalStackTarget(Target):
    name = "localstack"

    def __init__(
        self,
        accounts: Accounts | None = None,
        region: str = "us-east-1",
        *,
        endpoint: str = "http://localhost:4566",
        start_host: bool = False,
        venv: str | None = None,
        templates: Iterable[Path] = (),
        auth_token_set: bool = False,
        time_scale: float | None = None,
    ):
        super().__init__(accounts or Accounts(management="111111111111", pipeline="222222222222"), region)
        self._endpoint = endpoint.rstrip("/")
        self._start_host = start_host
        self._venv = venv
        self.templates = list(templates)
        self.auth_token_set = auth_token_set
        self._host_time_scale = time_scale  # for a LocalStack this target starts (start: host)
        self.host: Any = None
        self.health: dict[str, Any] = {}
        self.plugin: dict[str, Any] | None = None
        self.missing_types: list[str] = []
        self._ls_sessions: dict[tuple[str, str], Any] = {}

    @classmethod
    def from_config(cls, config: HarnessConfig) -> LocalStackTarget:
        settings = config.target_settings("localstack")
        token_env = settings.get("auth_token_env") or "LOCALSTACK_AUTH_TOKEN"
        templates = [config.templates.management, config.templates.pipeline]
        return cls(
            config.accounts,
            config.region,
            endpoint=os.environ.get(ENDPOINT_ENV) or settings.get("endpoint") or "http://localhost:4566",
            start_host=(os.environ.get(START_ENV) or settings.get("start") or "") == "host",
            venv=settings.get("venv"),
            templates=templates,
            auth_token_set=bool(os.environ.get(token_env)),
            time_scale=settings.get("time_scale"),
        )

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> LocalStackTarget:
        if self._capabilities is not None:
            return self
        if self._start_host and self.host is None:
            from gitops_harness.targets.localstack_host import HostLocalStack

            self.host = HostLocalStack(self._venv, time_scale=self._host_time_scale).start()
            self._endpoint = self.host.endpoint_url
        try:
            found = self._discover_capabilities()
            if "lambda-invoke" in found:
                # the plugin's Lambda runs the chat notifier on this machine: it can post to a receiver
                # here, as on the embedded target (a Slack-compatible receiver on 127.0.0.1, per target)
                from gitops_harness.chat_receiver import ChatReceiver

                self.chat = ChatReceiver(host="127.0.0.1").start()
                found |= {"chat-receiver"}
            self._capabilities = found
        except BaseException:
            self.stop()
            raise
        return self

    def stack_parameters(self) -> dict[str, dict[str, str]]:
        """The pipeline stack's ChatWebhookUrl (NoEcho) is this target's receiver, when it runs one."""
        return {} if self.chat is None else {"pipeline": {"ChatWebhookUrl": self.chat.url}}

    def stop(self) -> None:
        if self.chat is not None:
            self.chat.stop()
            self.chat = None
        if self.host is not None:
            self.host.stop()
            self.host = None
        self._capabilities = None

    @property
    def endpoint_url(self) -> str:
        return self._endpoint

    def credentials(self, account_id: str) -> dict[str, str]:
        # LocalStack takes a 12-digit access key id as the account
        return {"aws_access_key_id": account_id, "aws_secret_access_key": "test"}

    def client(self, service: str, account: str = "pipeline", region: str | None = None) -> Any:
        """A client from localstack-client's Session (what LocalStack users expect), pointed at this
        target's endpoint; services localstack-client does not list (codestar-notifications) get a
        plain boto3 client on the same endpoint."""
        from localstack_client.session import Session

        account_id = self.account_id(account)
        region = region or self.region
        host = self._endpoint.split("://", 1)[-1]
        with self._lock:
            key = (account_id, region)
            session = self._ls_sessions.get(key)
            if session is None:
                session = self._ls_sessions[key] = Session(
                    aws_access_key_id=account_id,
                    aws_secret_access_key="test",
                    aws_session_token=None,
                    region_name=region,
                    botocore_session=None,
                    localstack_host=host,
                )
            try:
                return session.client(service, config=_CLIENT_CONFIG)
            except Exception:
                return boto3.session.Session().client(
                    service,
                    region_name=region,
                    endpoint_url=self._endpoint,
                    config=_CLIENT_CONFIG,
                    **self.credentials(account_id),
                )

    def git_url_rewrites(self) -> list[tuple[str, str]]:
        return [insteadof_config(self._endpoint, self.region)]

    # -- capabilities ---------------------------------------------------------------------------------

    def _discover_capabilities(self) -> frozenset[str]:
        health = _get_json(f"{self._endpoint}/_localstack/health")
        if health is None:
            raise ToolError(
                f"no LocalStack answers at {self._endpoint}/_localstack/health: start it (docker compose up, "
                f"or make .venv-localstack/.installed and targets.localstack.start: host) or set {ENDPOINT_ENV}"
            )
        self.health = health
        self.plugin = _get_json(f"{self._endpoint}{PLUGIN_HEALTH}")
        if self.plugin is not None and self.plugin.get("plugin") != "gitops-harness-localstack":
            self.plugin = None
        # the waits the suites scale (deployment configs, hook timeouts) follow the plugin's planes
        self.time_scale = float((self.plugin or {}).get("time_scale") or 1.0)
        services = {
            name
            for name, state in (health.get("services") or {}).items()
            if state in ("available", "running")
        }
        found = {"localstack", "disposable-accounts"}  # LocalStack takes the account from the access key
        ours = (self.plugin or {}).get("providers") or {}
        operations = {
            name: set(info.get("operations") or [])
            for name, info in ours.items()
            if name in services and info.get("configured_provider") in ("default", "gitops")
        }
        for capability, needs in PLANE_OPERATIONS.items():
            if all(set(ops) <= operations.get(service, set()) for service, ops in needs.items()):
                found.add(capability)
        for capability, needed in SERVICES.items():
            if all(s in services for s in needed):
                found.add(capability)
        if self.plugin is not None and self.plugin.get("git_smart_http") and serves_git(self._endpoint):
            found.add("codecommit-git")
        # CodeDeploy's ECS blue/green acts on ECS and ELBv2, which the services must serve
        if not {"ecs", "elbv2"} <= services:
            found.discard("bluegreen")
        found |= self._plugin_runtimes(services)
        if not self._notifications_fed():  # rules stored but never fed: no notification would come
            found.discard("chat")
        self.missing_types = self._missing_types(services)
        if self.missing_types:  # the reference stacks cannot deploy: say so now, not at CREATE_FAILED
            found.discard("cloudformation")
        if not self._pipeline_rule_target():  # nor without a sender for the source-change rule's target
            found.discard("cloudformation")
        self._services = services
        return frozenset(found)

    def _plugin_runtimes(self, services: set[str]) -> set[str]:
        """What the plugin's moto-served providers run here: ECS tasks behind ALB listeners that answer
        HTTP (its ecs/elbv2 providers, not LocalStack's), Lambda functions as local processes (its lambda
        provider, chosen with PROVIDER_OVERRIDE_LAMBDA=gitops)."""
        ours = (self.plugin or {}).get("providers") or {}

        def chosen(api: str, names: tuple[str, ...]) -> bool:
            return api in services and (ours.get(api) or {}).get("configured_provider") in names

        found = set()
        if chosen("ecs", ("default", "gitops")) and chosen("elbv2", ("default", "gitops")):
            found.add("alb-data-plane")
        if chosen("lambda", ("gitops",)):
            found.add("lambda-invoke")
        return found

    def _pipeline_rule_target(self) -> bool:
        """Whether LocalStack's EventBridge takes a CodePipeline target (the pipeline stack's source-change
        rule): community 4.14 answers PutTargets "Unsupported target for Service: codepipeline" unless the
        plugin registers a sender for it (its health's `eventbridge_targets`). Without the plugin the
        missing types already say the stack cannot deploy."""
        return self.plugin is None or "codepipeline" in (self.plugin.get("eventbridge_targets") or [])

    def _notifications_fed(self) -> bool:
        """CodeStar Notifications' rules notify only when its managed rule gets the services' events from
        LocalStack's EventBridge; the plugin says so in its health (`notification_rules_fed`)."""
        return bool((self.plugin or {}).get("notification_rules_fed"))

    def listener_url(self, listener_arn: str) -> str:
        """Where a load balancer listener answers on this machine: the plugin's ALB data plane server
        (GET /_gitops/listeners), as the embedded target's."""
        listing = _get_json(f"{self._endpoint}{LISTENERS}") or {}
        for listener in listing.get("listeners") or []:
            if listener.get("listenerArn") == listener_arn:
                return str(listener["url"])
        raise ToolError(f"no listener {listener_arn} in LocalStack at {self._endpoint} (see {LISTENERS})")

    def explain(self, capability: str) -> str | None:
        services = getattr(self, "_services", set())
        if capability == "cloudformation" and self.missing_types:
            return (
                "the reference stacks cannot deploy: LocalStack has no CloudFormation provider for "
                f"{', '.join(self.missing_types)}"
            )
        if capability == "bluegreen":
            lacking = sorted({"ecs", "elbv2", "codedeploy"} - services)
            return f"LocalStack does not serve {', '.join(lacking)}" if lacking else None
        if capability == "cloudformation" and not self._pipeline_rule_target():
            return (
                "LocalStack's EventBridge has no CodePipeline target sender (the pipeline stack's "
                "source-change rule: PutTargets answers 'Unsupported target for Service: codepipeline')"
            )
        if capability == "chat" and self.plugin is not None and not self._notifications_fed():
            return (
                "this plugin does not feed CodeStar Notifications' managed rule from LocalStack's EventBridge "
                "(its /_gitops/health lacks notification_rules_fed: a plugin older than the harness, or one "
                "without its codestar-notifications target sender): notification rules would never notify"
            )
        if capability == "codecommit-git" and self.plugin is None:
            return "no git smart HTTP without the gitops plugin (localstack/)"
        if capability == "alb-data-plane":
            if self.plugin is None:
                return "LocalStack community has no ELBv2, so no listener answers HTTP (install the gitops plugin)"
            return "LocalStack serves ECS/ELBv2 with its own providers: PROVIDER_OVERRIDE_ECS=gitops and PROVIDER_OVERRIDE_ELBV2=gitops run the plugin's task runtime and ALB data plane"
        if capability == "lambda-invoke":
            return (
                "LocalStack runs Lambda functions in Docker containers with a downloaded init binary, which "
                "host mode here has not (PROVIDER_OVERRIDE_LAMBDA=gitops runs the plugin's local-process Lambda)"
            )
        if capability == "cross-account-events":
            if "codepipeline" in ((self.plugin or {}).get("eventbridge_targets") or []):
                return (
                    "LocalStack forwards events between accounts' buses and the plugin starts pipelines from "
                    "them, but LocalStack does not evaluate the receiving bus's resource policy (nor IAM, KMS "
                    "key or S3 bucket policies), whose refusals the cross_account suite checks"
                )
            return "without the gitops plugin LocalStack's EventBridge has no CodePipeline target"
        needs = PLANE_OPERATIONS.get(capability)
        if needs and self.plugin is None:
            return f"LocalStack {self.health.get('version', '?')} does not serve {', '.join(needs)} without the gitops plugin"
        return None

    def _missing_types(self, services: set[str]) -> list[str]:
        """The reference templates' resource types this LocalStack cannot deploy: from the plugin's list of
        LocalStack's resource providers, or (no plugin) those whose service LocalStack does not serve."""
        types = template_types(self.templates)
        if self.plugin is not None and "cloudformation_types" in self.plugin:
            known = {t.lower() for t in self.plugin["cloudformation_types"]}
            return sorted(t for t in types if t.lower() not in known)
        missing = []
        for t in types:
            prefix = t.split("::")[1].lower()
            service = _TYPE_SERVICE.get(prefix, prefix)
            if service not in services:
                missing.append(t)
        return sorted(missing)

    def describe(self) -> str:
        """One paragraph for the report: what this LocalStack is and what it lacks."""
        version = self.health.get("version", "?")
        plugin = (
            f"plugin {self.plugin.get('version')} (harness {self.plugin.get('harness_version')})"
            if self.plugin
            else "without the gitops plugin (install localstack/ into LocalStack's Python)"
        )
        lacks = ", ".join(self.missing_types) or "none"
        return f"LocalStack {version} at {self._endpoint}, {plugin}; CloudFormation types it lacks: {lacks}"
