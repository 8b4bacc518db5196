"""The embedded AWS for tests: start it in-process on a free port, hand out clients per account, stop it.

from gitops_harness.emulator.testing import running_emulator

@pytest.fixture(scope="session")
def aws():
    with running_emulator() as emulator:
        yield emulator

def test_x(aws):
    aws.client("s3", account="222222222222").list_buckets()
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config

from gitops_harness.emulator.server import EmbeddedAWS

DEFAULT_TEST_ACCOUNT = "111111111111"
_CONFIG = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)


class RunningEmulator:
    def __init__(self, aws: EmbeddedAWS):
        self.aws = aws
        self.endpoint_url = aws.endpoint_url
        self._session = boto3.session.Session()
        self._lock = threading.Lock()

    @property
    def scheduler(self) -> Any:
        return self.aws.scheduler

    def client(
        self, service: str, account: str = DEFAULT_TEST_ACCOUNT, region: str = "us-east-1", **credentials: Any
    ) -> Any:
        """A boto3 client acting as `account` (its 12-digit access key), or with explicit credentials
        (aws_access_key_id=..., aws_secret_access_key=..., aws_session_token=...) and/or config=..."""
        credentials.setdefault("config", _CONFIG)
        credentials.setdefault("aws_access_key_id", account)
        credentials.setdefault("aws_secret_access_key", "test")
        with self._lock:  # boto3 Session.client is not thread-safe
            return self._session.client(
                service, region_name=region, endpoint_url=self.endpoint_url, **credentials
            )

    def env(self, account: str = DEFAULT_TEST_ACCOUNT, region: str = "us-east-1") -> dict[str, str]:
        """Environment variables that point the AWS CLI / SDKs at the emulator as `account`."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": account,
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
        }


@contextmanager
def running_emulator(**options: Any) -> Iterator[RunningEmulator]:
    """EmbeddedAWS on a free 127.0.0.1 port; responses checked against their output shapes by default."""
    options.setdefault("port", 0)
    options.setdefault("strict_shapes", True)
    aws = EmbeddedAWS(**options).start()
    try:
        yield RunningEmulator(aws)
    finally:
        aws.stop()
