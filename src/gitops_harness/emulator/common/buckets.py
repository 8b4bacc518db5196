"""Which account holds an S3 bucket: bucket names are global, so moto keeps one name -> account index
(s3_backends.bucket_accounts) beside the per-account backends. Planes that check a bucket another
service names (a pipeline's artifact store, IAM's resource policies) ask here."""

from __future__ import annotations

from typing import Any


def bucket_owner(name: str) -> tuple[str, Any] | None:
    """(owning account, moto's bucket) for bucket `name`, or None when no account has it."""
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(name)
    if owner is None:
        return None
    partition, account = owner
    bucket = s3_backends[account][partition].buckets.get(name)
    return None if bucket is None else (account, bucket)
