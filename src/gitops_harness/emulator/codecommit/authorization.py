"""Is an IAM user allowed a CodeCommit git action (codecommit:GitPull / codecommit:GitPush) on a repository?

The user's identity policies (inline, attached managed, and those of the user's groups) come from moto's
IAM backend and are evaluated with moto's own evaluator (``moto.iam.access_control.IAMPolicy``): an
explicit Deny wins, then any Allow, otherwise the implicit deny.

moto's matcher turns ``*`` into ``.*`` and uses the rest of the pattern as a regex, compares actions
case-sensitively and treats ``NotResource`` as "no resource given". Each statement is rewritten before it
is handed over so those gaps do not change the answer: patterns are regex-escaped with ``?`` kept as one
character, actions are lower-cased (IAM action names are case-insensitive), and ``NotResource`` becomes a
negative-lookahead ``Resource``. Not modelled: permissions boundaries, SCPs, and condition keys (moto
evaluates a statement whose Condition has no value as not matching, so a conditioned Allow does not grant
here, and moto reports it as a denial).
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.models import iam_backends

GIT_PULL = "codecommit:GitPull"
GIT_PUSH = "codecommit:GitPush"


def _pattern(value: str) -> str:
    # moto later replaces "*" with ".*" and anchors the pattern; everything else must be literal.
    return "".join(ch if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in value)


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _rewrite_statement(statement: dict[str, Any]) -> dict[str, Any]:
    out = dict(statement)
    for key in ("Action", "NotAction"):
        if key in out:
            out[key] = [_pattern(a.lower()) for a in _as_list(out[key])]
    if "Resource" in out:
        out["Resource"] = [_pattern(r) for r in _as_list(out["Resource"])]
    if "NotResource" in out:
        alternatives = "|".join(f"(?:{_pattern(r)})" for r in _as_list(out.pop("NotResource")))
        out["Resource"] = f"(?!(?:{alternatives})$)*"
    return out


def _rewrite(document: str) -> str:
    policy = json.loads(document)
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return json.dumps({**policy, "Statement": [_rewrite_statement(s) for s in statements]})


def _documents(account_id: str, user_name: str) -> list[str]:
    """Every identity-policy document that applies to the user."""
    backend = iam_backends[account_id]["aws"]
    docs: list[str] = []
    for name in backend.list_user_policies(user_name):
        docs.append(backend.get_user_policy(user_name, name)["policy_document"])
    attached, _ = backend.list_attached_user_policies(user_name)
    managed = list(attached)
    for group in backend.get_groups_for_user(user_name):
        for name in backend.list_group_policies(group.name):
            docs.append(backend.get_group_policy(group.name, name)["policy_document"])
        group_attached, _ = backend.list_attached_group_policies(group.name)
        managed.extend(group_attached)
    for policy in managed:
        version = next(v for v in policy.versions if v.is_default)
        docs.append(version.document)
    return docs


def is_allowed(account_id: str, user_name: str, action: str, resource_arn: str) -> bool:
    """True when the user's identity policies allow ``action`` on ``resource_arn``."""
    allowed = False
    for document in _documents(account_id, user_name):
        result = IAMPolicy(_rewrite(document)).is_action_permitted(action.lower(), resource_arn)
        if result == PermissionResult.DENIED:
            return False
        if result == PermissionResult.PERMITTED:
            allowed = True
    return allowed
