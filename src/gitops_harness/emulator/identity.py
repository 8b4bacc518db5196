"""Who is calling: the SigV4 credential scope of a request, and the account and ARN behind an access key.

Account rules (LocalStack's conventions, so users' tools work unchanged):
  1. an access key moto knows (IAM CreateAccessKey, STS AssumeRole/GetSessionToken) acts in the
     account that owns it -- assumed-role credentials act in the role's account;
  2. otherwise a 12-digit access key id *is* the account id;
  3. otherwise (e.g. "test") the account is 000000000000.
The emulator does not verify signatures: any secret key is accepted, as in LocalStack and moto.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_ACCOUNT_ID = "000000000000"
_ACCOUNT_RE = re.compile(r"^\d{12}$")
# "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/s3/aws4_request, SignedHeaders=..., Signature=..."
_AUTH_SCOPE_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")
# SigV2 (old S3 presigned URLs, some query services): "AWS AKID:signature"
_AUTH_V2_RE = re.compile(r"^AWS ([^:\s]+):")


@dataclass(frozen=True)
class CredentialScope:
    """The parts of a SigV4 credential scope; `service` is the signing name (e.g. "events", "s3")."""

    access_key: str
    date: str
    region: str
    service: str


def credential_scope(headers: Mapping[str, str], query: Mapping[str, str]) -> CredentialScope | None:
    """The scope from the Authorization header, or from X-Amz-Credential (presigned URL); None if unsigned."""
    auth = headers.get("Authorization") or ""
    match = _AUTH_SCOPE_RE.search(auth)
    if match:
        return CredentialScope(*match.groups())
    credential = query.get("X-Amz-Credential")
    if credential:
        parts = credential.split("/")
        if len(parts) == 5 and parts[4] == "aws4_request":
            return CredentialScope(parts[0], parts[1], parts[2], parts[3])
    return None


def sigv2_access_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The access key of a SigV2-signed request (no credential scope, so no service name)."""
    match = _AUTH_V2_RE.match(headers.get("Authorization") or "")
    if match:
        return match.group(1)
    return query.get("AWSAccessKeyId")


@dataclass(frozen=True)
class Caller:
    access_key: str
    account_id: str
    arn: str


def _moto_access_key(access_key: str) -> tuple[str, object] | None:
    """(account, moto AccessKey) if moto's IAM holds this key, without creating any moto backend."""
    from moto.iam.models import iam_backends

    # dict.values() on moto's lazy dicts: look only at backends that exist, never instantiate new ones
    # (an IAM backend loads ~1000 managed policies).
    for account_id, partitions in list(iam_backends.items()):
        for backend in list(dict.values(partitions)):
            key = backend.access_keys.get(access_key)
            if key is not None:
                return account_id, key
    return None


def _assumed_role_arn(account_id: str, access_key: str) -> str | None:
    from moto.sts.models import sts_backends

    partitions = dict.get(sts_backends, account_id)
    if partitions is None:
        return None
    for backend in list(dict.values(partitions)):
        role = backend.get_assumed_role_from_access_key(access_key)
        if role is not None:
            return str(role.arn)
    return None


def account_for_access_key(access_key: str) -> str:
    known = _moto_access_key(access_key)
    if known is not None:
        return known[0]
    if _ACCOUNT_RE.match(access_key):
        return access_key
    return DEFAULT_ACCOUNT_ID


def resolve_caller(access_key: str) -> Caller:
    """The account and principal ARN behind an access key (see the module docstring for the rules)."""
    known = _moto_access_key(access_key)
    if known is None:
        account = access_key if _ACCOUNT_RE.match(access_key) else DEFAULT_ACCOUNT_ID
        return Caller(access_key, account, f"arn:aws:iam::{account}:root")
    account, key = known
    role_arn = getattr(key, "role_arn", None)
    if role_arn:
        arn = _assumed_role_arn(account, access_key) or str(role_arn)
    elif getattr(key, "user_name", None):
        arn = f"arn:aws:iam::{account}:user/{key.user_name}"
    else:
        arn = f"arn:aws:iam::{account}:root"
    return Caller(access_key, account, arn)
