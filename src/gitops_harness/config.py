"""harness.yaml: the pipeline's templates and parameters, accounts, the app, the policy gate, targets.

A user overrides any part in harness.local.yaml (merged over harness.yaml) or with --config.
Secrets are named by environment variable and read only when a target needs them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitops_harness.errors import InputError

CONFIG_NAME = "harness.yaml"
LOCAL_OVERRIDE_NAME = "harness.local.yaml"
TARGETS = ("embedded", "localstack", "aws")
_ACCOUNT_ID = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Accounts:
    management: str
    pipeline: str


@dataclass(frozen=True)
class PipelineTemplates:
    management: Path
    pipeline: Path
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicySettings:
    paths: tuple[Path, ...]
    checks_dir: Path
    output_dir: Path


@dataclass(frozen=True)
class HarnessConfig:
    path: Path | None  # None when no harness.yaml was found and defaults apply
    root: Path  # relative paths in the config are relative to this folder
    project: str
    region: str
    accounts: Accounts
    templates: PipelineTemplates
    app_dir: Path
    chat_notifier_dir: Path
    policy: PolicySettings
    gitlab: dict[str, Any]
    chat: dict[str, Any]
    targets: dict[str, Any]

    @property
    def default_target(self) -> str:
        return self.targets.get("default", "embedded")

    def target_settings(self, name: str) -> dict[str, Any]:
        if name not in TARGETS:
            raise InputError(f"unknown target {name!r}: choose one of {', '.join(TARGETS)}")
        settings = self.targets.get(name) or {}
        if not isinstance(settings, dict):
            raise InputError(f"{self._where()}: targets.{name} must be a mapping")
        return settings

    def secret(self, env_name_key: str, section: dict[str, Any]) -> str:
        """The value of the environment variable that `section[env_name_key]` names."""
        env_name = section.get(env_name_key)
        if not env_name:
            raise InputError(f"{self._where()}: {env_name_key} is not set; name the environment variable")
        value = os.environ.get(env_name)
        if not value:
            raise InputError(
                f"environment variable {env_name} is empty (named by {env_name_key} in {self._where()})"
            )
        return value

    def _where(self) -> str:
        return str(self.path) if self.path else CONFIG_NAME


def find_config(start: Path | None = None) -> Path | None:
    """harness.yaml in the start folder or the nearest parent, as git finds .git."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(path: str | Path | None = None) -> HarnessConfig:
    """Load harness.yaml (found from the cwd when path is None), merged with harness.local.yaml."""
    config_path = Path(path) if path else find_config()
    if path and not config_path.is_file():
        raise InputError(f"{config_path}: config file not found")
    raw: dict[str, Any] = {}
    if config_path:
        raw = _read_yaml(config_path)
        local = config_path.with_name(LOCAL_OVERRIDE_NAME)
        if local.is_file():
            raw = _deep_merge(raw, _read_yaml(local))
    root = config_path.parent.resolve() if config_path else Path.cwd().resolve()
    return _build(raw, config_path, root)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{path}{line}: cannot parse YAML: {problem}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path}:1: the config must be a mapping, not {type(data).__name__}")
    return data


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _build(raw: dict[str, Any], path: Path | None, root: Path) -> HarnessConfig:
    where = str(path) if path else CONFIG_NAME

    def section(name: str) -> dict[str, Any]:
        value = raw.get(name) or {}
        if not isinstance(value, dict):
            raise InputError(f"{where}: {name} must be a mapping")
        return value

    def rel(value: Any, key: str) -> Path:
        if not isinstance(value, str) or not value:
            raise InputError(f"{where}: {key} must be a path")
        p = Path(value)
        return p if p.is_absolute() else root / p

    accounts_raw = section("accounts")
    accounts = {}
    for role, default in (("management", "111111111111"), ("pipeline", "222222222222")):
        value = str(accounts_raw.get(role, default))
        if not _ACCOUNT_ID.match(value):
            raise InputError(f"{where}: accounts.{role} must be a 12-digit account id, got {value!r}")
        accounts[role] = value
    if accounts["management"] == accounts["pipeline"]:
        raise InputError(
            f"{where}: accounts.management and accounts.pipeline must differ (cross-account pipeline)"
        )

    pipeline = section("pipeline")
    templates_raw = pipeline.get("templates") or {}
    params = pipeline.get("parameters") or {}
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values() if v is not None):
        raise InputError(f"{where}: pipeline.parameters must map a stack (management, pipeline) to a mapping")
    templates = PipelineTemplates(
        management=rel(
            templates_raw.get("management", "fixtures/pipeline/management-account.yaml"),
            "pipeline.templates.management",
        ),
        pipeline=rel(
            templates_raw.get("pipeline", "fixtures/pipeline/pipeline-account.yaml"),
            "pipeline.templates.pipeline",
        ),
        parameters={k: {pk: str(pv) for pk, pv in (v or {}).items()} for k, v in params.items()},
    )

    app = section("app")
    policy_raw = section("policy")
    paths = policy_raw.get("paths", ["fixtures/pipeline"])
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not paths:
        raise InputError(f"{where}: policy.paths must be a list of template files or folders")
    policy = PolicySettings(
        paths=tuple(rel(p, "policy.paths[]") for p in paths),
        checks_dir=rel(policy_raw.get("checks_dir", "policies"), "policy.checks_dir"),
        output_dir=rel(policy_raw.get("output_dir", "reports/policy"), "policy.output_dir"),
    )
    targets = section("targets")
    default_target = targets.get("default", "embedded")
    if default_target not in TARGETS:
        raise InputError(
            f"{where}: targets.default must be one of {', '.join(TARGETS)}, got {default_target!r}"
        )

    return HarnessConfig(
        path=path,
        root=root,
        project=str(raw.get("project", "gitops-sample")),
        region=str(raw.get("region", "us-east-1")),
        accounts=Accounts(**accounts),
        templates=templates,
        app_dir=rel(app.get("dir", "fixtures/app"), "app.dir"),
        chat_notifier_dir=rel(
            app.get("chat_notifier_dir", "fixtures/chat-notifier"), "app.chat_notifier_dir"
        ),
        policy=policy,
        gitlab=section("gitlab"),
        chat=section("chat"),
        targets=targets,
    )
