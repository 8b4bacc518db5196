"""HTTPS Git credentials: IAM service-specific credentials for codecommit.amazonaws.com.

moto 5.2.5 does not implement CreateServiceSpecificCredential (it raises NotImplementedError), so this
store implements the IAM operations around them (Create/List/Update/Reset/Delete, in the botocore IAM
shapes, for the front door to route to) and the check the git endpoint needs. The IAM users themselves
stay in moto's IAM backend: a credential belongs to a moto user and stops working when the user is gone.
"""

from __future__ import annotations

import hmac
import secrets
import string
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.iam.models import iam_backends

CODECOMMIT_SERVICE = "codecommit.amazonaws.com"
# IAM issues service-specific credentials for these; only CodeCommit's are usable here.
SUPPORTED_SERVICES = frozenset({CODECOMMIT_SERVICE, "cassandra.amazonaws.com"})
MAX_PER_USER_AND_SERVICE = 2
_ID_ALPHABET = string.ascii_uppercase + string.digits


CREDENTIALS = "codecommit-https-git-credentials"  # Runtime.shared key: IAM issues them, git checks them


class IamError(Exception):
    """An IAM error; ``code`` is the error code the IAM API returns."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ServiceSpecificCredential:
    account_id: str
    user_name: str
    service_name: str
    credential_id: str
    service_user_name: str
    password: str
    create_date: datetime
    user_id: str = ""  # the IAM user's unique id: a user deleted and created again is another user
    status: str = "Active"

    def to_api(self, with_password: bool = False) -> dict[str, object]:
        """ServiceSpecificCredential (with the password) or ServiceSpecificCredentialMetadata."""
        out: dict[str, object] = {
            "UserName": self.user_name,
            "Status": self.status,
            "ServiceUserName": self.service_user_name,
            "CreateDate": self.create_date,
            "ServiceSpecificCredentialId": self.credential_id,
            "ServiceName": self.service_name,
        }
        if with_password:
            out["ServicePassword"] = self.password
        return out


@dataclass(frozen=True)
class GitPrincipal:
    """Who a git request authenticated as."""

    account_id: str
    user_name: str
    arn: str


def _moto_user(account_id: str, user_name: str) -> Any | None:
    """moto's IAM user (arn, id), or None when moto's IAM backend has no such user."""
    try:
        return iam_backends[account_id]["aws"].get_user(user_name)
    except Exception:  # moto raises its NoSuchEntity error class
        return None


def _moto_user_arn(account_id: str, user_name: str) -> str | None:
    user = _moto_user(account_id, user_name)
    return None if user is None else user.arn


def _new_password() -> str:
    # AWS generates 44 printable characters; URL-safe ones keep them usable in URL userinfo.
    return secrets.token_urlsafe(33)


class CredentialStore:
    """Service-specific credentials of every account, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._creds: dict[str, ServiceSpecificCredential] = {}  # by credential id

    def _require_user(self, account_id: str, user_name: str) -> None:
        if _moto_user_arn(account_id, user_name) is None:
            raise IamError("NoSuchEntity", f"The user with name {user_name} cannot be found.")
        self._forget_deleted_users(account_id, user_name)

    def _forget_deleted_users(self, account_id: str, user_name: str) -> None:
        """Drop credentials of an earlier user of this name: they went with that user (AWS refuses to
        delete a user that still has them; moto deletes it anyway, so they are dropped here)."""
        user = _moto_user(account_id, user_name)
        current = None if user is None else user.id
        with self._lock:
            for key, cred in list(self._creds.items()):
                if (cred.account_id, cred.user_name) == (account_id, user_name) and cred.user_id != current:
                    del self._creds[key]

    def _find(self, account_id: str, user_name: str, credential_id: str) -> ServiceSpecificCredential:
        cred = self._creds.get(credential_id)
        if cred is None or cred.account_id != account_id or cred.user_name != user_name:
            raise IamError(
                "NoSuchEntity",
                f"No such credential {credential_id} exists for user {user_name}.",
            )
        return cred

    def create(self, account_id: str, user_name: str, service_name: str) -> dict[str, object]:
        """CreateServiceSpecificCredential -> ServiceSpecificCredential (with ServicePassword)."""
        if service_name not in SUPPORTED_SERVICES:
            raise IamError(
                "NotSupportedService",
                f"Service {service_name} is not supported for service-specific credentials; "
                f"use {CODECOMMIT_SERVICE}.",
            )
        self._require_user(account_id, user_name)
        with self._lock:
            existing = [
                c
                for c in self._creds.values()
                if (c.account_id, c.user_name, c.service_name) == (account_id, user_name, service_name)
            ]
            if len(existing) >= MAX_PER_USER_AND_SERVICE:
                raise IamError(
                    "LimitExceeded",
                    f"User {user_name} already has {MAX_PER_USER_AND_SERVICE} credentials for "
                    f"{service_name}: delete one first.",
                )
            cred = ServiceSpecificCredential(
                account_id=account_id,
                user_name=user_name,
                service_name=service_name,
                credential_id="ACCA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17)),
                service_user_name=f"{user_name}-at-{account_id}",
                password=_new_password(),
                create_date=datetime.now(UTC),
                user_id=_moto_user(account_id, user_name).id,
            )
            self._creds[cred.credential_id] = cred
            return cred.to_api(with_password=True)

    def list(
        self, account_id: str, user_name: str, service_name: str | None = None
    ) -> list[dict[str, object]]:
        """ListServiceSpecificCredentials -> ServiceSpecificCredentialMetadata list."""
        self._require_user(account_id, user_name)
        with self._lock:
            return [
                c.to_api()
                for c in self._creds.values()
                if (c.account_id, c.user_name) == (account_id, user_name)
                and (service_name is None or c.service_name == service_name)
            ]

    def update_status(self, account_id: str, user_name: str, credential_id: str, status: str) -> None:
        if status not in ("Active", "Inactive"):
            raise IamError("ValidationError", f"Status must be Active or Inactive, not {status!r}.")
        with self._lock:
            self._find(account_id, user_name, credential_id).status = status

    def reset(self, account_id: str, user_name: str, credential_id: str) -> dict[str, object]:
        with self._lock:
            cred = self._find(account_id, user_name, credential_id)
            cred.password = _new_password()
            return cred.to_api(with_password=True)

    def delete(self, account_id: str, user_name: str, credential_id: str) -> None:
        with self._lock:
            self._find(account_id, user_name, credential_id)
            del self._creds[credential_id]

    def authenticate(self, username: str, password: str) -> GitPrincipal | None:
        """The principal for HTTPS Git credentials, or None if they are unknown or inactive.

        The username is ``<iam-user>-at-<account-id>``; it names the account the repository is in.
        """
        user_name, sep, account_id = username.rpartition("-at-")
        if not sep or not user_name or not (account_id.isdigit() and len(account_id) == 12):
            return None
        self._forget_deleted_users(account_id, user_name)
        with self._lock:
            candidates = [
                c
                for c in self._creds.values()
                if c.service_user_name == username
                and c.service_name == CODECOMMIT_SERVICE
                and c.status == "Active"
            ]
        # compare_digest on every candidate: no early exit that would leak which one matched.
        matched = [c for c in candidates if hmac.compare_digest(c.password.encode(), password.encode())]
        user_arn = _moto_user_arn(account_id, user_name) if matched else None
        if user_arn is None:
            return None
        return GitPrincipal(account_id=account_id, user_name=user_name, arn=user_arn)
