"""HTTPS Git credentials in LocalStack: the ones LocalStack's own IAM issues.

LocalStack 4.14 community's IAM provider serves CreateServiceSpecificCredential (and List, Update, Reset,
Delete) for codecommit.amazonaws.com itself: it keeps each credential as a dict in IAM's API shape on
moto-ext's IAM user (`User.service_specific_credentials`), and refuses DeleteUser while any remain, as
AWS does. So the plugin does not serve those operations (the embedded emulator's
IamServiceSpecificCredentials plane and its CredentialStore stay out); CodeCommit's git endpoint checks
a push's HTTP Basic credentials against what LocalStack's IAM issued, through this class, which the
plugin's Runtime hands the CodeCommit plane under the same `Runtime.shared` key.
"""

from __future__ import annotations

import hmac
from typing import Any

from gitops_harness.emulator.codecommit.credentials import CODECOMMIT_SERVICE, GitPrincipal


def _iam_user(account_id: str, user_name: str) -> Any | None:
    """moto-ext's IAM user behind LocalStack's IAM (partition aws), or None."""
    from moto.iam.models import iam_backends

    try:
        return iam_backends[account_id]["aws"].users.get(user_name)
    except (KeyError, ValueError):
        return None


class LocalStackGitCredentials:
    """CodeCommit's `authenticate(username, password)` over LocalStack's IAM service-specific credentials."""

    def authenticate(self, username: str, password: str) -> GitPrincipal | None:
        """The principal for HTTPS Git credentials, or None if they are unknown or inactive. The user
        name is `<iam-user>-at-<account-id>`: it names the account the repository is looked up in."""
        user_name, sep, account_id = username.rpartition("-at-")
        if not sep or not user_name or not (account_id.isdigit() and len(account_id) == 12):
            return None
        user = _iam_user(account_id, user_name)
        if user is None:
            return None
        candidates = [
            c
            for c in list(getattr(user, "service_specific_credentials", None) or [])
            if c.get("ServiceUserName") == username
            and c.get("ServiceName") == CODECOMMIT_SERVICE
            and c.get("Status") == "Active"
        ]
        # compare_digest on every candidate: no early exit that would tell which one matched
        matched = [
            c
            for c in candidates
            if hmac.compare_digest(str(c.get("ServicePassword")).encode(), password.encode())
        ]
        if not matched:
            return None
        return GitPrincipal(account_id=account_id, user_name=user_name, arn=user.arn)
