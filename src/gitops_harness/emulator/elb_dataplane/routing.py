"""Which action a listener takes for a request: its rules by priority (conditions path-pattern,
host-header, http-request-method, http-header, query-string, source-ip), then its default actions;
for a forward action, which target group (weighted ForwardConfig chosen per request)."""

from __future__ import annotations

import fnmatch
import ipaddress
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query
    query: str
    headers: dict[str, str]  # lower-case names
    source_ip: str


def find_listener(listener_arn: str) -> Any | None:
    """moto's listener for this ARN (arn:aws:elasticloadbalancing:<region>:<account>:listener/...)."""
    from moto.elbv2.models import elbv2_backends

    parts = listener_arn.split(":")
    if len(parts) < 6:
        return None
    region, account = parts[3], parts[4]
    backend = elbv2_backends[account][region]
    for balancer in list(backend.load_balancers.values()):
        listener = balancer.listeners.get(listener_arn)
        if listener is not None:
            return listener
    return None


def find_target_group(target_group_arn: str) -> Any | None:
    from moto.elbv2.models import elbv2_backends

    parts = target_group_arn.split(":")
    return elbv2_backends[parts[4]][parts[3]].target_groups.get(target_group_arn)


def _values(condition: dict[str, Any], config_key: str) -> list[str]:
    config = condition.get(config_key) or {}
    return list(config.get("Values") or condition.get("Values") or [])


def _glob(pattern: str, value: str, case_sensitive: bool) -> bool:
    if case_sensitive:
        return fnmatch.fnmatchcase(value, pattern)
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def condition_matches(condition: dict[str, Any], request: Request) -> bool:
    field = condition.get("Field")
    if field == "path-pattern":
        return any(_glob(p, request.path, True) for p in _values(condition, "PathPatternConfig"))
    if field == "host-header":
        host = request.headers.get("host", "").rsplit(":", 1)[0]
        return any(_glob(p, host, False) for p in _values(condition, "HostHeaderConfig"))
    if field == "http-request-method":
        return request.method in _values(condition, "HttpRequestMethodConfig")
    if field == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        value = request.headers.get(str(config.get("HttpHeaderName", "")).lower())
        return value is not None and any(_glob(p, value, False) for p in config.get("Values") or [])
    if field == "query-string":
        pairs = parse_qsl(request.query, keep_blank_values=True)
        wanted = (condition.get("QueryStringConfig") or {}).get("Values") or []
        return any(
            any(
                (w.get("Key") is None or _glob(w["Key"], k, False)) and _glob(w.get("Value", ""), v, False)
                for k, v in pairs
            )
            for w in wanted
        )
    if field == "source-ip":
        source = ipaddress.ip_address(request.source_ip)
        cidrs = (condition.get("SourceIpConfig") or {}).get("Values") or []
        return any(source in ipaddress.ip_network(c, strict=False) for c in cidrs)
    return False


def actions_for(listener: Any, request: Request) -> list[Any]:
    """The actions of the first rule whose conditions all match (rules by priority, default last)."""
    rules = [r for r in list(listener.rules.values()) if not r.is_default]
    rules.sort(key=lambda r: int(r.priority))
    for rule in rules:
        if all(condition_matches(c, request) for c in rule.conditions or []):
            return list(rule.actions)
    return list(listener.default_actions)


def final_action(actions: list[Any]) -> dict[str, Any] | None:
    """The terminating action (authenticate-* actions come first by Order and are not modelled)."""
    ordered = sorted((a.data for a in actions), key=lambda a: int(a.get("Order", 0) or 0))
    for action in ordered:
        if action.get("Type") in ("forward", "fixed-response", "redirect"):
            return action
    return None


def choose_target_group(action: dict[str, Any], rng: random.Random | None = None) -> str | None:
    """The action's target group; with a ForwardConfig, one drawn by weight (all weights 0: None)."""
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    if not groups:
        return action.get("TargetGroupArn")
    weights = [int(g.get("Weight", 1)) for g in groups]
    if sum(weights) <= 0:
        return None
    return (rng or random).choices([g["TargetGroupArn"] for g in groups], weights=weights)[0]
