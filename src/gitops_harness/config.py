"""harness.yaml: the pipeline's templates and parameters, accounts, the app, the policy gate, targets.

A user overrides any part in harness.local.yaml (merged over harness.yaml) or with --config.
Secrets are named by environment variable and read only when a target needs them.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitops_harness.errors import InputError

CONFIG_NAME = "harness.yaml"
LOCAL_OVERRIDE_NAME = "harness.local.yaml"
TARGETS = ("embedded", "localstack", "aws")
_ACCOUNT_ID = re.compile(r"[0-9]{12}")  # ASCII digits only: fullwidth digits are not an account id
_REGION = re.compile(r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}")


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


Places = dict[tuple[str, ...], str]  # key path -> "file:line", for messages


def load_config(path: str | Path | None = None) -> HarnessConfig:
    """Load harness.yaml (found from the cwd when path is None), merged with harness.local.yaml.
    The whole file is validated here, before any command does work: unknown keys, wrong types and
    bad values are one InputError naming the key and its file:line."""
    config_path = Path(path) if path else find_config()
    if path and not config_path.is_file():
        what = "is a directory, not a config file" if config_path.is_dir() else "config file not found"
        raise InputError(f"{config_path}: {what}")
    raw: dict[str, Any] = {}
    places: Places = {}
    if config_path:
        raw = _read_yaml(config_path, places)
        local = config_path.with_name(LOCAL_OVERRIDE_NAME)
        if local.is_file():
            raw = _deep_merge(raw, _read_yaml(local, places))
    root = config_path.parent.resolve() if config_path else Path.cwd().resolve()
    where = str(config_path) if config_path else CONFIG_NAME
    _validate(raw, SCHEMA, (), places, where)
    return _build(raw, config_path, root)


def _read_yaml(path: Path, places: Places) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: cannot read the config: not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        # libyaml when present: the pure-Python loader takes seconds to reach the recursion limit on
        # deeply nested flow collections; compose once and construct from the same nodes
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{path}{line}: cannot parse YAML: {' '.join(str(problem).split())}") from None
    except RecursionError:
        raise InputError(f"{path}:1: cannot parse YAML: nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path}:1: the config must be a mapping, not {type(data).__name__}")
    _record_places(node, (), path, places)
    return data


def _record_places(node: yaml.Node | None, at: tuple[str, ...], path: Path, places: Places) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                places[(*at, key.value)] = f"{path}:{key.start_mark.line + 1}"
                _record_places(value, (*at, key.value), path, places)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# ---- the config's shape: every key, its type and its allowed values --------------------------------

Check = Callable[[Any], str | None]  # the value -> None when fine, else what it must be


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be text"


def _path(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() and "\0" not in value else "must be a path"


def _paths(value: Any) -> str | None:
    values = [value] if isinstance(value, str) else value
    ok = isinstance(values, list) and values and all(_path(v) is None for v in values)
    return None if ok else "must be a list of template files or folders"


def _account(value: Any) -> str | None:
    ok = isinstance(value, str | int) and not isinstance(value, bool) and _ACCOUNT_ID.fullmatch(str(value))
    return None if ok else f"must be a 12-digit account id (ASCII digits, quoted), got {value!r}"


def _accounts(value: Any) -> str | None:
    ok = isinstance(value, list) and all(_account(v) is None for v in value)
    return None if ok else "must be a list of 12-digit account ids"


def _region(value: Any) -> str | None:
    ok = isinstance(value, str) and _REGION.fullmatch(value)
    return None if ok else f"must be an AWS region such as us-east-1, got {value!r}"


def _port(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535
    return None if ok else f"must be a port number 0..65535 (0: a free port), got {value!r}"


def _time_scale(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    return None if ok else f"must be a number > 0 (clock seconds per AWS second), got {value!r}"


def _target_name(value: Any) -> str | None:
    return None if value in TARGETS else f"must be one of {', '.join(TARGETS)}, got {value!r}"


def _parameters(value: Any) -> str | None:
    ok = value is None or (
        isinstance(value, dict) and all(isinstance(v, str | int | float | bool) for v in value.values())
    )
    return None if ok else "must map parameter names to values"


def _url(value: Any) -> str | None:
    ok = isinstance(value, str) and re.fullmatch(r"https?://[^\s/]+(/\S*)?", value)
    return None if ok else f"must be an http(s) URL, got {value!r}"


def _any(value: Any) -> str | None:
    return None


def _mapping(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict) else "must be a mapping"


SCHEMA: dict[str, Any] = {
    "project": _text,
    "region": _region,
    "accounts": {"management": _account, "pipeline": _account},
    "pipeline": {
        "templates": {"management": _path, "pipeline": _path},
        "parameters": {"management": _parameters, "pipeline": _parameters},
    },
    "app": {"dir": _path, "chat_notifier_dir": _path},
    "policy": {"paths": _paths, "checks_dir": _path, "output_dir": _path},
    "gitlab": {"url_env": _text, "token_env": _text, "project": _text},
    # slack: read the messages back (slack_readback.py): the bot token's variable and a channel id
    "chat": {"webhook_url_env": _text, "slack": {"bot_token_env": _text, "channel": _text, "api_url": _url}},
    "targets": {
        "default": _target_name,
        "embedded": {"port": _port, "time_scale": _time_scale},
        # start: "host" makes the target start LocalStack itself (targets/localstack_host.py; its venv from
        # GITOPS_HARNESS_LOCALSTACK_VENV); otherwise it uses the LocalStack already answering at endpoint
        "localstack": {"endpoint": _url, "auth_token_env": _text, "start": _text, "venv": _path},
        # values are checked by targets/aws_settings.py when the aws target is chosen; keys here
        "aws": {
            "region": _region,
            "allowed_accounts": _accounts,
            "allowed_regions": _any,
            "mode": _text,
            "credentials": {
                "source": _text,
                "profiles": _mapping,
                "roles": _mapping,
                "web_identity_token_env": _text,
                "session_name": _text,
            },
            "smoke": {
                "deployment_config": _text,
                "termination_wait_minutes": _any,
                "run_timeout_minutes": _any,
                "expires_after_hours": _any,
            },
            "existing": _mapping,
            "endpoint_url": _any,
        },
    },
}


def _validate(value: Any, schema: Any, at: tuple[str, ...], places: Places, where: str) -> None:
    name = ".".join(at)
    place = places.get(at, where)
    if callable(schema):
        problem = schema(value)
        if problem:
            raise InputError(f"{place}: {name} {problem}")
        return
    if value is None:
        return  # an empty section: its defaults apply
    if not isinstance(value, dict):
        raise InputError(f"{place}: {name or 'the config'} must be a mapping, got {type(value).__name__}")
    for key, child in value.items():
        if key not in schema:
            known = [str(k) for k in schema]
            guess = difflib.get_close_matches(str(key), known, n=1)
            prefix = "".join(f"{part}." for part in at)
            hint = f"did you mean '{prefix}{guess[0]}'?" if guess else f"known keys: {', '.join(known)}"
            full = ".".join((*at, str(key)))
            raise InputError(f"{places.get((*at, str(key)), place)}: unknown key {full!r}; {hint}")
        _validate(child, schema[key], (*at, str(key)), places, where)


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
        if not _ACCOUNT_ID.fullmatch(value):
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
