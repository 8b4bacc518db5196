"""Where a bucket lives, from LocalStack's S3 (its own store, not moto's): the planes ask
`gitops_harness.emulator.common.buckets.bucket_owner` (CodePipeline checks a pipeline's artifact bucket
exists, as AWS does), and inside LocalStack the answer must come from the S3 that holds the buckets.
`install()` (on LocalStack's start) registers this index there."""

from __future__ import annotations

from typing import Any


def localstack_bucket_owner(name: str) -> tuple[str, Any] | None:
    """(owning account, LocalStack's bucket or None) for bucket `name`, or None when no account has it."""
    from localstack.constants import AWS_REGION_US_EAST_1, DEFAULT_AWS_ACCOUNT_ID
    from localstack.services.s3.models import s3_stores

    # bucket names are global: every store shares one name -> account map
    account = s3_stores[DEFAULT_AWS_ACCOUNT_ID][AWS_REGION_US_EAST_1].global_bucket_map.get(name)
    if account is None:
        return None
    for store in s3_stores[account].values():
        bucket = store.buckets.get(name)
        if bucket is not None:
            return account, bucket
    return account, None


def install() -> None:
    from gitops_harness.emulator.common import buckets

    buckets.use_bucket_index(localstack_bucket_owner)
