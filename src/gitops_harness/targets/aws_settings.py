"""``targets.aws`` in harness.yaml, parsed and checked before anything talks to AWS.

    targets:
      aws:
        region: eu-west-1
        allowed_accounts: ["111111111111", "222222222222"]   # required: the harness refuses any other
        allowed_regions: [eu-west-1]                         # optional: refuse any other region
        mode: ephemeral                                      # or: existing
        credentials:
          source: default                # default (boto3's chain) | profiles | oidc
          profiles: {management: dev-mgmt, pipeline: dev-pipeline}
          roles: {pipeline: arn:aws:iam::222222222222:role/gitops-harness-nightly,
                  management: arn:aws:iam::111111111111:role/gitops-harness-nightly}
          web_identity_token_env: AWS_ID_TOKEN   # oidc: GitLab's id_tokens variable
        smoke:
          deployment_config: CodeDeployDefault.ECSAllAtOnce
          termination_wait_minutes: 0
          run_timeout_minutes: 45
          expires_after_hours: 6
        existing: {repository: ..., pipeline: ..., application: ..., deployment_group: ...,
                   approval_topic: ..., notification_topic: ..., listener: ...}
        endpoint_url: ""                 # rehearsal only: the embedded AWS standing in for AWS

Kept apart from config.py's whole-file parsing: only the aws target reads this section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import botocore.session

from gitops_harness.config import HarnessConfig
from gitops_harness.errors import InputError

MODES = ("ephemeral", "existing")
CREDENTIAL_SOURCES = ("default", "profiles", "oidc")
ACCOUNT_ROLES = ("management", "pipeline")
EXISTING_NAMES = (
    "repository",
    "pipeline",
    "application",
    "deployment_group",
    "approval_topic",
    "notification_topic",
    "listener",
)
# mirror_user: needed only when the smoke commit goes through the local mirror (no GitLab configured), the
# IAM user whose HTTPS Git credentials push to CodeCommit. chat_notifier: the function subscribed to the
# notification topic, whose log lines the notify verdict reads (without it notify is skipped).
EXISTING_OPTIONAL = ("mirror_user", "chat_notifier")
DEPLOYMENT_CONFIGS = (
    "CodeDeployDefault.ECSAllAtOnce",
    "CodeDeployDefault.ECSCanary10Percent5Minutes",
    "CodeDeployDefault.ECSCanary10Percent15Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
)
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")


@dataclass(frozen=True)
class CredentialSettings:
    source: str = "default"
    profiles: dict[str, str] = field(default_factory=dict)  # account role -> profile name
    roles: dict[str, str] = field(default_factory=dict)  # account role -> role ARN to assume
    web_identity_token_env: str = "AWS_ID_TOKEN"
    session_name: str = "gitops-harness"


@dataclass(frozen=True)
class SmokeSettings:
    deployment_config: str = "CodeDeployDefault.ECSAllAtOnce"
    termination_wait_minutes: int = 0
    run_timeout_minutes: float = 45.0
    expires_after_hours: float = 6.0


@dataclass(frozen=True)
class AwsSettings:
    region: str
    allowed_accounts: tuple[str, ...]
    allowed_regions: tuple[str, ...]
    mode: str
    credentials: CredentialSettings
    smoke: SmokeSettings
    existing: dict[str, str]  # EXISTING_NAMES -> name or ARN (mode existing)
    endpoint_url: str | None


def aws_settings(config: HarnessConfig) -> AwsSettings:
    """``targets.aws`` checked: one InputError naming the key and why, before any AWS call."""
    raw = config.target_settings("aws")
    where = f"{config.path or 'harness.yaml'}: targets.aws"

    def mapping(value: Any, key: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise InputError(f"{where}.{key} must be a mapping")
        return value

    def strings(value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise InputError(f"{where}.{key} must be a list")
        return tuple(str(v) for v in value)

    allowed = strings(raw.get("allowed_accounts"), "allowed_accounts")
    if not allowed:
        raise InputError(
            f"{where}.allowed_accounts is empty: list the account ids the harness may touch "
            "(it refuses every other account)"
        )
    for account in allowed:
        if not _ACCOUNT_ID.match(account):
            raise InputError(f"{where}.allowed_accounts: {account!r} is not a 12-digit account id")
    for role in ACCOUNT_ROLES:
        account = getattr(config.accounts, role)
        if account not in allowed:
            raise InputError(
                f"{where}.allowed_accounts does not list accounts.{role} ({account}): refusing to run"
            )

    region = str(raw.get("region") or config.region)
    known = set(botocore.session.get_session().get_available_regions("cloudformation"))
    if region not in known:
        raise InputError(f"{where}.region {region!r} is not an AWS region botocore knows")
    allowed_regions = strings(raw.get("allowed_regions"), "allowed_regions")
    if allowed_regions and region not in allowed_regions:
        raise InputError(
            f"{where}.region {region!r} is not in allowed_regions ({', '.join(allowed_regions)})"
        )

    mode = str(raw.get("mode", "ephemeral"))
    if mode not in MODES:
        raise InputError(f"{where}.mode must be one of {', '.join(MODES)}, got {mode!r}")

    creds_raw = mapping(raw.get("credentials"), "credentials")
    source = str(creds_raw.get("source", "default"))
    if source not in CREDENTIAL_SOURCES:
        raise InputError(
            f"{where}.credentials.source must be one of {', '.join(CREDENTIAL_SOURCES)}, got {source!r}"
        )
    profiles = {str(k): str(v) for k, v in mapping(creds_raw.get("profiles"), "credentials.profiles").items()}
    roles = {str(k): str(v) for k, v in mapping(creds_raw.get("roles"), "credentials.roles").items()}
    for key in (*profiles, *roles):
        if key not in ACCOUNT_ROLES:
            raise InputError(f"{where}.credentials: {key!r} is not an account (use management, pipeline)")
    for role, arn in roles.items():
        matched = _ROLE_ARN.match(arn)
        if not matched:
            raise InputError(f"{where}.credentials.roles.{role}: {arn!r} is not an IAM role ARN")
        if matched.group(1) != getattr(config.accounts, role):
            raise InputError(
                f"{where}.credentials.roles.{role}: {arn} is in account {matched.group(1)}, "
                f"not accounts.{role} ({getattr(config.accounts, role)})"
            )
    if source == "profiles" and set(profiles) != set(ACCOUNT_ROLES):
        raise InputError(f"{where}.credentials.profiles must name a profile for management and pipeline")
    if source == "oidc" and set(roles) != set(ACCOUNT_ROLES):
        raise InputError(
            f"{where}.credentials.roles must name the pipeline role (web identity) and the management "
            "role (chained from it) for source oidc"
        )
    credentials = CredentialSettings(
        source=source,
        profiles=profiles,
        roles=roles,
        web_identity_token_env=str(creds_raw.get("web_identity_token_env", "AWS_ID_TOKEN")),
        session_name=str(creds_raw.get("session_name", "gitops-harness")),
    )

    smoke_raw = mapping(raw.get("smoke"), "smoke")
    try:
        smoke = SmokeSettings(
            deployment_config=str(smoke_raw.get("deployment_config", SmokeSettings.deployment_config)),
            termination_wait_minutes=int(smoke_raw.get("termination_wait_minutes", 0)),
            run_timeout_minutes=float(smoke_raw.get("run_timeout_minutes", 45)),
            expires_after_hours=float(smoke_raw.get("expires_after_hours", 6)),
        )
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}.smoke: {exc}") from None
    if smoke.deployment_config not in DEPLOYMENT_CONFIGS:
        raise InputError(
            f"{where}.smoke.deployment_config must be one of {', '.join(DEPLOYMENT_CONFIGS)}, "
            f"got {smoke.deployment_config!r}"
        )
    if not 0 <= smoke.termination_wait_minutes <= 2880:
        raise InputError(f"{where}.smoke.termination_wait_minutes must be 0-2880 (CodeDeploy's range)")
    if smoke.run_timeout_minutes <= 0 or smoke.expires_after_hours <= 0:
        raise InputError(f"{where}.smoke: run_timeout_minutes and expires_after_hours must be positive")

    existing = {str(k): str(v) for k, v in mapping(raw.get("existing"), "existing").items()}
    unknown = sorted(set(existing) - set(EXISTING_NAMES) - set(EXISTING_OPTIONAL))
    if unknown:
        raise InputError(f"{where}.existing: unknown key(s) {', '.join(unknown)}")
    if mode == "existing":
        missing = [name for name in EXISTING_NAMES if not existing.get(name)]
        if missing:
            raise InputError(f"{where}.existing must name the deployed pipeline's {', '.join(missing)}")

    endpoint = raw.get("endpoint_url") or None
    if endpoint is not None and not str(endpoint).startswith(("http://", "https://")):
        raise InputError(f"{where}.endpoint_url must be an http(s) URL, got {endpoint!r}")
    return AwsSettings(
        region=region,
        allowed_accounts=allowed,
        allowed_regions=allowed_regions,
        mode=mode,
        credentials=credentials,
        smoke=smoke,
        existing=existing,
        endpoint_url=str(endpoint) if endpoint else None,
    )
