"""Targets: the embedded target's lifecycle, clients and environment per account, capabilities derived
from what the emulator serves, and skipping suites a target cannot support."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from werkzeug.serving import make_server

from gitops_harness.config import Accounts, load_config
from gitops_harness.emulator.codecommit import CodeCommitGitApp, CredentialStore, RepositoryStore
from gitops_harness.emulator.controlplane import ControlPlane, RequestContext
from gitops_harness.errors import InputError
from gitops_harness.targets import CAPABILITIES, make_target, require, require_suite, skip_reason
from gitops_harness.targets.embedded import EmbeddedTarget

ACCOUNTS = Accounts(management="666677778888", pipeline="666677779999")


@pytest.fixture(scope="module")
def target() -> Iterator[EmbeddedTarget]:
    with EmbeddedTarget(ACCOUNTS, time_scale=0.5) as started:
        yield started  # type: ignore[misc]


def test_clients_act_in_the_named_account(target: EmbeddedTarget) -> None:
    assert target.client("sts", "management").get_caller_identity()["Account"] == ACCOUNTS.management
    assert target.client("sts", "pipeline").get_caller_identity()["Account"] == ACCOUNTS.pipeline
    assert target.client("sts", "123456789012").get_caller_identity()["Account"] == "123456789012"
    target.client("sqs", "management").create_queue(QueueName="targets-only-in-management")
    urls = target.client("sqs", "pipeline").list_queues(QueueNamePrefix="targets-only").get("QueueUrls", [])
    assert urls == []
    with pytest.raises(ValueError, match="unknown account"):
        target.client("sqs", "dev")


def test_env_points_tools_at_the_target(target: EmbeddedTarget) -> None:
    env = target.env("management")
    assert env["AWS_ENDPOINT_URL"] == target.endpoint_url
    assert env["AWS_ACCESS_KEY_ID"] == ACCOUNTS.management
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    sts = session.client("sts", endpoint_url=env["AWS_ENDPOINT_URL"])
    assert sts.get_caller_identity()["Account"] == ACCOUNTS.management


def test_capabilities_come_from_what_the_emulator_serves(target: EmbeddedTarget) -> None:
    assert {"embedded", "events", "sns", "cloudformation"} <= target.capabilities
    assert "real-aws" not in target.capabilities
    served = target.served()
    assert served["sqs"] == "moto"
    for plane in target.aws.planes:  # type: ignore[union-attr]
        assert served[plane.signing_name()] == "emulator"
    # codecommit-git is claimed exactly when the front door answers git's anonymous request with
    # CodeCommit's Basic challenge
    request = urllib.request.Request(f"{target.endpoint_url}/v1/repos/x/info/refs?service=git-upload-pack")
    try:
        urllib.request.urlopen(request, timeout=10)
        challenged = False
    except urllib.error.HTTPError as exc:
        challenged = exc.code == 401 and "Basic" in (exc.headers.get("WWW-Authenticate") or "")
    assert ("codecommit-git" in target.capabilities) == challenged


class _ApprovalOnly(ControlPlane):
    """A codepipeline plane with approvals but no executions: only manual-approval follows from it."""

    service_name = "codepipeline"

    def GetPipelineState(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return {}

    def PutApprovalResult(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return {}


def test_plane_capabilities_follow_the_registered_operations() -> None:
    with EmbeddedTarget(ACCOUNTS, planes=[_ApprovalOnly]) as with_plane:
        assert "manual-approval" in with_plane.capabilities
        assert "pipeline-execution" not in with_plane.capabilities
        assert with_plane.served()["codepipeline"] == "emulator"
    with EmbeddedTarget(ACCOUNTS, planes=[]) as without:
        assert not {"manual-approval", "pipeline-execution", "bluegreen", "build"} & without.capabilities


def test_git_capability_detects_codecommit_smart_http(tmp_path: Path) -> None:
    app = CodeCommitGitApp(RepositoryStore(tmp_path), CredentialStore())
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        probe = EmbeddedTarget(ACCOUNTS)
        probe.aws = type("Fake", (), {"endpoint_url": f"http://127.0.0.1:{http.server_port}"})()  # type: ignore[assignment]
        assert probe._serves_git()
        probe.aws = type("Fake", (), {"endpoint_url": "http://127.0.0.1:9"})()  # type: ignore[assignment]
        assert not probe._serves_git()  # nothing listens: not a git endpoint
    finally:
        http.shutdown()
        thread.join()


def test_stop_releases_the_endpoint_and_forgets_capabilities() -> None:
    target = EmbeddedTarget(ACCOUNTS).start()
    url = target.endpoint_url
    with urllib.request.urlopen(f"{url}/_localstack/health", timeout=10) as answer:
        assert "services" in json.loads(answer.read())
    target.stop()
    target.stop()  # twice is fine
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/_localstack/health", timeout=5)
    with pytest.raises(RuntimeError, match="not started"):
        _ = target.capabilities


def test_require_skips_with_the_reason(target: EmbeddedTarget) -> None:
    require(target, "events")  # present: returns
    with pytest.raises(
        pytest.skip.Exception, match="target embedded lacks capability 'real-aws': nightly only"
    ):
        require(target, "real-aws", why="nightly only")
    assert skip_reason(target, "embedded_only") is None
    reason = skip_reason(target, "aws_only")
    assert reason == "aws_only needs real-aws, which target embedded does not offer"
    with pytest.raises(pytest.skip.Exception, match="aws_only needs real-aws"):
        require_suite(target, "aws_only")
    with pytest.raises(KeyError, match="not in targets.CAPABILITIES"):
        skip_reason(target, "no-such-suite")
    assert {"mirror", "approval", "bluegreen", "notify", "cross_account", "smoke"} <= set(CAPABILITIES)


def test_make_target_reads_the_config(tmp_path: Path) -> None:
    config_file = tmp_path / "harness.yaml"
    config_file.write_text("targets:\n  embedded:\n    time_scale: 0.25\n")
    config = load_config(config_file)
    target = make_target(config)
    assert isinstance(target, EmbeddedTarget) and target.time_scale == 0.25
    with pytest.raises(InputError, match="allowed_accounts is empty"):  # aws refuses to run unlisted
        make_target(config, "aws")
    with pytest.raises(InputError, match="unknown target"):
        make_target(config, "mars")


def test_the_localstack_target_says_when_no_localstack_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from gitops_harness.errors import ToolError
    from gitops_harness.targets.localstack import LocalStackTarget

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.delenv("GITOPS_HARNESS_LOCALSTACK_ENDPOINT", raising=False)
    monkeypatch.delenv("GITOPS_HARNESS_LOCALSTACK_START", raising=False)
    config_file = tmp_path / "harness.yaml"
    config_file.write_text(f"targets:\n  localstack:\n    endpoint: http://127.0.0.1:{port}\n")
    config = load_config(config_file)
    # refused before any work (make_target checks it), and by the target itself when started
    with pytest.raises(
        InputError, match=f"no LocalStack answers at http://127.0.0.1:{port}/_localstack/health"
    ):
        make_target(config, "localstack")
    target = LocalStackTarget.from_config(config)
    assert target.endpoint_url == f"http://127.0.0.1:{port}"
    with pytest.raises(
        ToolError, match=f"no LocalStack answers at http://127.0.0.1:{port}/_localstack/health"
    ):
        target.start()
