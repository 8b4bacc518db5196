"""The caller as IAM policies see it, and the identity policies that apply to it (read from moto's IAM).

Kinds of caller (identity.py resolves the access key):
- "root": a 12-digit access key is the account itself. Its own account's identity side allows it
  everything (the account root has no identity policies and needs none). It also stands in for AWS
  services acting for the account (see policy.py: service-principal trust).
- "user": an IAM user's access key; identity policies = inline + attached + its groups' (moto).
- "role": an assumed-role session; aws:PrincipalArn is the role's ARN (with its path), the ARN shown in
  errors is the session's (arn:aws:sts::<acct>:assumed-role/<name>/<session>).
Not modelled: session policies passed to AssumeRole, permissions boundaries, SCPs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gitops_harness.emulator.codecommit.authorization import _documents as _user_documents
from gitops_harness.emulator.common.arns import parse_arn
from gitops_harness.emulator.identity import Caller

Kind = Literal["root", "user", "role"]


@dataclass(frozen=True)
class Principal:
    account: str
    arn: str  # the caller as AWS names it in "User: <arn> is not authorized ..."
    principal_arn: str  # aws:PrincipalArn
    kind: Kind
    name: str | None = None  # user or role name

    def context(self) -> dict[str, list[str]]:
        """Global condition keys that describe the caller."""
        keys = {
            "aws:principalarn": [self.principal_arn],
            "aws:principalaccount": [self.account],
            "aws:principaltype": [{"root": "Account", "user": "User", "role": "AssumedRole"}[self.kind]],
        }
        if self.kind == "user" and self.name:
            keys["aws:username"] = [self.name]
        return keys


def _iam_backend(account: str) -> Any | None:
    """moto's IAM backend of an account, without creating one (an IAM backend loads ~1000 policies)."""
    from moto.iam.models import iam_backends

    partitions = dict.get(iam_backends, account)
    return None if partitions is None else dict.get(partitions, "aws")


def find_role(account: str, name: str) -> Any | None:
    backend = _iam_backend(account)
    if backend is None:
        return None
    return next((role for role in backend.get_roles() if role.name == name), None)


def principal_for(caller: Caller) -> Principal:
    # arn:aws:sts::<acct>:assumed-role/<name>/<session> | arn:aws:iam::<acct>:user/<name> | ...:root
    resource = parse_arn(caller.arn).resource
    if resource.startswith("assumed-role/"):
        name = resource.split("/")[1]
        role = find_role(caller.account_id, name)
        role_arn = str(role.arn) if role is not None else f"arn:aws:iam::{caller.account_id}:role/{name}"
        return Principal(caller.account_id, caller.arn, role_arn, "role", name)
    if resource.startswith("user/"):
        return Principal(caller.account_id, caller.arn, caller.arn, "user", resource.rsplit("/", 1)[1])
    return Principal(caller.account_id, caller.arn, caller.arn, "root")


def _managed_document(policy: Any) -> str:
    return next(v for v in policy.versions if v.is_default).document


def identity_documents(principal: Principal) -> list[str]:
    """The identity-policy documents of a user or role (none for the root, which needs none)."""
    backend = _iam_backend(principal.account)
    if backend is None or principal.name is None:
        return []
    if principal.kind == "user":
        try:
            return _user_documents(principal.account, principal.name)
        except Exception:  # moto raises its own NoSuchEntity when the user was deleted meanwhile
            return []
    role = find_role(principal.account, principal.name)
    if role is None:
        return []
    return [*role.policies.values(), *(_managed_document(p) for p in role.managed_policies.values())]
