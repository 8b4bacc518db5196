"""Which account holds an S3 bucket: bucket names are global, so moto keeps one name -> account index
(s3_backends.bucket_accounts) beside the per-account backends. Planes that check a bucket another
service names (a pipeline's artifact store, IAM's resource policies) ask here.

Where S3 is not moto's (the planes inside LocalStack, whose S3 is its own), the host registers where
buckets live instead (`use_bucket_index`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

BucketIndex = Callable[[str], "tuple[str, Any] | None"]
_index: list[BucketIndex] = []


def use_bucket_index(index: BucketIndex) -> None:
    """From now on `bucket_owner` asks `index` (name -> (account, bucket) or None) instead of moto."""
    _index[:] = [index]


def bucket_owner(name: str) -> tuple[str, Any] | None:
    """(owning account, moto's bucket) for bucket `name`, or None when no account has it."""
    if _index:
        return _index[0](name)
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(name)
    if owner is None:
        return None
    partition, account = owner
    bucket = s3_backends[account][partition].buckets.get(name)
    return None if bucket is None else (account, bucket)
