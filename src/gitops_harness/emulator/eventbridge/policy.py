"""The two policy decisions EventBridge makes when it delivers, which moto does not make.

- A rule's target is an event bus in another account: the receiving bus's resource policy must allow
  events:PutEvents for the sender (its account, or the target's RoleArn when the target has one).
- A target with a RoleArn: EventBridge assumes the role, so its trust policy must let the
  events.amazonaws.com service principal call sts:AssumeRole.

Evaluation follows IAM's order: an explicit Deny wins, then any Allow, else denied. Conditions are
evaluated for the keys EventBridge documents for these decisions; a condition on a key or operator this
module does not know never satisfies a statement (so an unknown Allow does not open a bus), and is named
in the reason so a person can see why.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EVENTS_SERVICE = "events.amazonaws.com"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _like(pattern: str, value: str, *, case: bool = True) -> bool:
    # IAM wildcards: * any run, ? one character; fnmatch's [..] classes do not exist in IAM
    pattern = pattern.replace("[", "[[]")
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    return any(_like(str(a), action, case=False) for a in _as_list(statement.get("Action")))


def _resource_matches(statement: Mapping[str, Any], resource: str | None) -> bool:
    if "Resource" not in statement or resource is None:
        return True
    return any(_like(str(r), resource) for r in _as_list(statement["Resource"]))


def _aws_principal_matches(value: str, account: str, principal_arn: str | None) -> bool:
    if value in ("*", account, f"arn:aws:iam::{account}:root"):
        return True
    return principal_arn is not None and value == principal_arn


def _principal_matches(
    statement: Mapping[str, Any], *, account: str | None, principal_arn: str | None, service: str | None
) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False  # NotPrincipal and malformed principals never grant here
    if service is not None and service in _as_list(principal.get("Service")):
        return True
    if account is None:
        return "*" in _as_list(principal.get("AWS"))
    return any(_aws_principal_matches(str(v), account, principal_arn) for v in _as_list(principal.get("AWS")))


_OPERATORS = {
    "StringEquals": lambda want, have: have == want,
    "StringNotEquals": lambda want, have: have != want,
    "StringEqualsIgnoreCase": lambda want, have: have.lower() == want.lower(),
    "StringLike": lambda want, have: _like(want, have),
    "StringNotLike": lambda want, have: not _like(want, have),
    "ArnEquals": lambda want, have: have == want,
    "ArnLike": lambda want, have: _like(want, have),
    "ArnNotEquals": lambda want, have: have != want,
    "ArnNotLike": lambda want, have: not _like(want, have),
}
_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _conditions_hold(statement: Mapping[str, Any], context: Mapping[str, str]) -> tuple[bool, str]:
    """(all conditions hold, what was not understood)"""
    for operator, clauses in (statement.get("Condition") or {}).items():
        base = operator.removesuffix("IfExists")
        test = _OPERATORS.get(base)
        if test is None or not isinstance(clauses, Mapping):
            return False, f"condition operator {operator} is not evaluated by the embedded AWS"
        for key, wanted in clauses.items():
            have = context.get(key) if key in context else context.get(key.lower())
            if have is None:
                if operator.endswith("IfExists"):
                    continue
                return False, f"condition key {key} has no value for this delivery"
            values = [str(w) for w in _as_list(wanted)]
            # IAM: a negated operator holds when the value matches none; the others when it matches any
            matched = (
                all(test(w, have) for w in values) if base in _NEGATED else any(test(w, have) for w in values)
            )
            if not matched:
                return False, ""
    return True, ""


def evaluate(
    policy: str | Mapping[str, Any] | None,
    *,
    action: str,
    resource: str | None,
    account: str | None,
    principal_arn: str | None = None,
    service: str | None = None,
    context: Mapping[str, str] | None = None,
) -> Decision:
    """Whether a resource policy lets the principal (an account, a role in it, or a service) do `action`."""
    if policy is None or policy == "":
        return Decision(False, "no resource policy")
    document = json.loads(policy) if isinstance(policy, str) else policy
    context = {k.lower(): v for k, v in (context or {}).items()}
    allowed_by: str | None = None
    unknown: list[str] = []
    for index, statement in enumerate(_as_list(document.get("Statement"))):
        if not isinstance(statement, Mapping):
            continue
        if not (_action_matches(statement, action) and _resource_matches(statement, resource)):
            continue
        if not _principal_matches(statement, account=account, principal_arn=principal_arn, service=service):
            continue
        holds, why = _conditions_hold(statement, context)
        if why:
            unknown.append(why)
        if not holds:
            continue
        sid = statement.get("Sid") or f"statement {index}"
        if statement.get("Effect") == "Deny":
            return Decision(False, f"denied by {sid}")
        if statement.get("Effect") == "Allow" and allowed_by is None:
            allowed_by = str(sid)
    if allowed_by is not None:
        return Decision(True, f"allowed by {allowed_by}")
    return Decision(False, "no statement allows it" + (f" ({'; '.join(unknown)})" if unknown else ""))


def bus_allows_put_events(
    policy: str | None,
    *,
    bus_arn: str,
    sender_account: str,
    role_arn: str | None,
    event: Mapping[str, Any],
    rule_arn: str,
) -> Decision:
    """Whether the receiving bus accepts an event a rule in `sender_account` forwards to it."""
    context = {
        "aws:PrincipalAccount": sender_account,
        "aws:SourceAccount": sender_account,
        "aws:SourceArn": rule_arn,
        "events:source": str(event.get("source", "")),
        "events:detail-type": str(event.get("detail-type", "")),
    }
    if role_arn:
        context["aws:PrincipalArn"] = role_arn
    return evaluate(
        policy,
        action="events:PutEvents",
        resource=bus_arn,
        account=sender_account,
        principal_arn=role_arn,
        context=context,
    )


def trusts_service(
    trust_policy: str | Mapping[str, Any] | None, service: str, context: Mapping[str, str] | None = None
) -> Decision:
    """Whether a role's trust policy lets `service` assume it (sts:AssumeRole)."""
    return evaluate(
        trust_policy,
        action="sts:AssumeRole",
        resource=None,
        account=None,
        service=service,
        context=context,
    )
