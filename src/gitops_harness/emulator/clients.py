"""boto3 clients against the front door, acting as an account or as a role.

Control planes act on other services with the credentials of whoever acts in AWS (the pipeline role,
an action's RoleArn, the CodeBuild service role), so account boundaries hold and every step shows in
the front door's request log. A role is assumed through STS (moto's) with the credentials of the
account that assumes it; the temporary credentials and the clients built on them are cached until
shortly before they expire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

_SECRET = "test"  # the emulator does not verify signatures
_REFRESH_MARGIN = 60.0  # seconds before expiry at which a role session is renewed
_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60)


@dataclass(frozen=True)
class _Credentials:
    access_key: str
    secret_key: str
    session_token: str | None
    expires_at: float | None  # time.time(); None never expires


class RoleClients:
    def __init__(
        self,
        endpoint_url: str | Callable[[], str],
        default_region: str = "us-east-1",
        clock: Callable[[], float] = time.time,
    ):
        self._endpoint_url = endpoint_url
        self.default_region = default_region
        self._clock = clock
        self._lock = threading.Lock()
        self._session = boto3.session.Session()  # one loader for every client: service models load once
        self._role_credentials: dict[tuple[str, str, str], _Credentials] = {}
        self._clients: dict[tuple[Any, ...], Any] = {}

    @property
    def endpoint_url(self) -> str:
        return self._endpoint_url() if callable(self._endpoint_url) else self._endpoint_url

    def for_account(self, service: str, account_id: str, region: str | None = None) -> Any:
        """A client acting as the account itself (a 12-digit access key names the account)."""
        credentials = _Credentials(account_id, _SECRET, None, None)
        return self._client(service, region or self.default_region, credentials)

    def for_role(
        self,
        service: str,
        role_arn: str,
        region: str | None = None,
        *,
        source_account: str | None = None,
        source_role: str | None = None,
        session_name: str = "gitops-emulator",
    ) -> Any:
        """A client acting as `role_arn`, assumed by `source_account` (default: the role's own account), or
        with the credentials of `source_role` (role chaining: a pipeline role assuming an action's role)."""
        source = source_account or _account_of(source_role or role_arn)
        credentials = self.role_credentials(role_arn, source, session_name, source_role=source_role)
        return self._client(service, region or self.default_region, credentials)

    def role_credentials(
        self, role_arn: str, source_account: str, session_name: str, source_role: str | None = None
    ) -> _Credentials:
        key = (role_arn, source_role or source_account, session_name)
        with self._lock:
            cached = self._role_credentials.get(key)
        if (
            cached is not None
            and cached.expires_at is not None
            and cached.expires_at - _REFRESH_MARGIN > self._clock()
        ):
            return cached
        if source_role:
            chained = self.role_credentials(source_role, source_account, session_name)
            sts = self._client("sts", self.default_region, chained)
        else:
            sts = self.for_account("sts", source_account)
        answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        expiration = answer["Expiration"]
        if isinstance(expiration, datetime):
            expires_at = expiration.replace(tzinfo=expiration.tzinfo or UTC).timestamp()
        else:
            expires_at = self._clock() + 3600
        credentials = _Credentials(
            answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"], expires_at
        )
        with self._lock:
            self._role_credentials[key] = credentials
            # clients on the old credentials are dropped with them
            self._clients = (
                {k: v for k, v in self._clients.items() if k[2] != cached} if cached else self._clients
            )
        return credentials

    def _client(self, service: str, region: str, credentials: _Credentials) -> Any:
        key = (service, region, credentials, self.endpoint_url)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                # boto3 Session.client is not thread-safe; the lock also keeps one client per key
                client = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id=credentials.access_key,
                    aws_secret_access_key=credentials.secret_key,
                    aws_session_token=credentials.session_token,
                    config=_CONFIG,
                )
                self._clients[key] = client
            return client


def _account_of(role_arn: str) -> str:
    parts = role_arn.split(":")
    if len(parts) < 6 or parts[2] != "iam" or not parts[4].isdigit():
        raise ValueError(f"not an IAM role ARN: {role_arn!r}")
    return parts[4]
