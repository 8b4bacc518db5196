"""What an image's OCI config alone says about it (no container needed): it runs as a non-root user,
exposes the task definition's container port, has a HEALTHCHECK, and carries no secrets in its
environment or labels. suites/image runs these everywhere and, where a container engine answers,
testinfra against a running container of the same image."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Names that hold secrets by convention, and values that are secrets whatever their name.
_SECRET_NAME = re.compile(
    r"(?i)(secret|passw(or)?d|token|api[_-]?key|private[_-]?key|credential|aws_secret_access_key)"
)
_SECRET_VALUE = re.compile(
    r"(AKIA|ASIA)[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|glpat-[0-9A-Za-z_-]{20}|xox[baprs]-[0-9A-Za-z-]{10,}"
)


def _config(image_config: Mapping[str, Any]) -> Mapping[str, Any]:
    return image_config.get("config") or {}


def user_problem(image_config: Mapping[str, Any]) -> str | None:
    user = str(_config(image_config).get("User") or "")
    name = user.split(":")[0]
    if name in ("", "0", "root"):
        return f"the image runs as root (USER {user or 'unset'}): set a non-root USER"
    return None


def port_problem(image_config: Mapping[str, Any], container_port: int) -> str | None:
    exposed = set(_config(image_config).get("ExposedPorts") or {})
    if f"{container_port}/tcp" not in exposed:
        return f"the image does not EXPOSE {container_port}/tcp (the taskdef's containerPort); it exposes {sorted(exposed) or 'nothing'}"
    return None


def healthcheck_problem(image_config: Mapping[str, Any]) -> str | None:
    test = (_config(image_config).get("Healthcheck") or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return "the image has no HEALTHCHECK"
    return None


def secret_problems(image_config: Mapping[str, Any]) -> list[str]:
    config = _config(image_config)
    pairs = [("ENV", *entry.partition("=")[::2]) for entry in config.get("Env") or []]
    pairs += [("LABEL", key, value) for key, value in (config.get("Labels") or {}).items()]
    problems = []
    for kind, name, value in pairs:
        if value and (_SECRET_NAME.search(name) or _SECRET_VALUE.search(value)):
            problems.append(f"{kind} {name} looks like a secret (value not shown): pass it at run time")
    return problems


def config_problems(image_config: Mapping[str, Any], container_port: int) -> list[str]:
    found = [
        user_problem(image_config),
        port_problem(image_config, container_port),
        healthcheck_problem(image_config),
    ]
    return [p for p in found if p] + secret_problems(image_config)
