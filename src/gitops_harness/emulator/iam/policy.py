"""Evaluate one policy document (identity, trust, bucket or key policy) for one request.

Action and Resource are matched by moto's own statement matcher, after codecommit/authorization.py's
rewrite (literal patterns, case-insensitive actions, NotResource). Principal and Condition are evaluated
here: moto treats any conditioned statement as a denial and checks principals only against "*".

The answer keeps what the caller-side decision needs (AWS policy evaluation logic):
- `denied`: an explicit Deny applies; it wins over everything, in every account;
- `grants_principal`: an Allow names the caller itself (its user/role/session ARN, or "*");
- `grants_account`: an Allow names the caller's account (`"<acct>"` or `arn:aws:iam::<acct>:root`), which
  delegates the decision to that account's identity policies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from moto.iam.access_control import IAMPolicyStatement, PermissionResult

from gitops_harness.emulator.codecommit.authorization import _rewrite_statement
from gitops_harness.emulator.iam.conditions import conditions_hold
from gitops_harness.emulator.iam.principals import Principal

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_ROOT_RE = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):root$")


@dataclass(frozen=True)
class Evaluation:
    denied: bool = False
    grants_principal: bool = False
    grants_account: bool = False

    @property
    def allowed(self) -> bool:
        return not self.denied and (self.grants_principal or self.grants_account)


@dataclass(frozen=True)
class Request:
    """What a policy is asked about: action ("s3:GetObject"), resource ARN, condition context."""

    action: str
    resource: str
    context: Mapping[str, Sequence[str]]
    # the caller stands in for any AWS service principal (a 12-digit key assuming a role of its own
    # account: how the emulator's control planes act as CodeBuild, CodePipeline, ...; see enforcement.py)
    as_service: bool = False


def statements(document: str | Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not document:
        return []
    policy = json.loads(document) if isinstance(document, str | bytes) else dict(document)
    found = policy.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _values(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _principal_match(element: Any, principal: Principal, request: Request) -> str | None:
    """ "principal" (names the caller), "account" (names its account) or None."""
    if element == "*":
        return "principal"
    if not isinstance(element, Mapping):
        return None
    best: str | None = None
    for value in _values(element.get("AWS")):
        root = _ROOT_RE.match(value)
        if value == "*" or value in (principal.arn, principal.principal_arn) and principal.kind != "root":
            return "principal"
        if (root.group(1) if root else value if _ACCOUNT_RE.match(value) else None) == principal.account:
            best = "account"
    if request.as_service and _values(element.get("Service")):
        return "principal"
    return best


def _action_and_resource_match(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    probe = {k: v for k, v in statement.items() if k not in ("Principal", "NotPrincipal", "Condition")}
    probe["Effect"] = "Allow"
    if "Resource" not in probe and "NotResource" not in probe:
        probe["Resource"] = "*"  # trust policies have no Resource
    verdict = IAMPolicyStatement(_rewrite_statement(probe)).is_action_permitted(action.lower(), resource)
    return verdict == PermissionResult.PERMITTED


def evaluate(
    document: str | Mapping[str, Any] | None, request: Request, principal: Principal | None = None
) -> Evaluation:
    """Evaluate a policy; `principal` is given for resource-based policies (they carry Principal)."""
    denied = grants_principal = grants_account = False
    for statement in statements(document):
        if principal is not None:
            if "NotPrincipal" in statement:
                named = (
                    "principal"
                    if _principal_match(statement["NotPrincipal"], principal, request) is None
                    else None
                )
            else:
                named = _principal_match(statement.get("Principal"), principal, request)
            if named is None:
                continue
        else:
            named = "principal"
        if not _action_and_resource_match(statement, request.action, request.resource):
            continue
        if not conditions_hold(statement.get("Condition"), request.context):
            continue
        if statement.get("Effect") == "Deny":
            denied = True
        elif named == "principal":
            grants_principal = True
        else:
            grants_account = True
    return Evaluation(denied, grants_principal, grants_account)


def evaluate_all(documents: Sequence[str], request: Request) -> Evaluation:
    """Identity policies together: any Deny denies, any Allow allows."""
    results = [evaluate(document, request) for document in documents]
    return Evaluation(
        denied=any(r.denied for r in results),
        grants_principal=any(r.grants_principal for r in results),
    )
