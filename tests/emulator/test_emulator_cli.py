"""`gitops-harness emulator` as a user runs it: a subprocess, the endpoint line, a call, Ctrl-C, nothing left."""

from __future__ import annotations

import importlib.util
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3

from gitops_harness.cli import COMMAND_MODULES
from gitops_harness.waiting import wait_until

DEADLINE = 30.0


def _command() -> list[str]:
    # The full CLI builds every subcommand's parser; while another engineer's subcommand module is still
    # missing, run the emulator subcommand's own entry point (the same register()/run() code).
    if all(importlib.util.find_spec(name) is not None for name in COMMAND_MODULES):
        return [sys.executable, "-m", "gitops_harness", "emulator"]
    return [sys.executable, "-m", "gitops_harness.emulator.command"]


def _spawn(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, queue.Queue]:
    """`gitops-harness emulator ARGS` with its temporary state under tmp_path; its stdout lines on a queue."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("MOTO_ACCOUNT_ID", None)
    process = subprocess.Popen(
        [*_command(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    out: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, out), daemon=True).start()
    return process, out


def _lines(stream, sink: queue.Queue) -> None:
    for line in stream:
        sink.put(line)
    sink.put(None)


def test_emulator_command_serves_and_stops_cleanly(tmp_path: Path):
    started = time.monotonic()
    process, out = _spawn(tmp_path, "--port", "0")  # its temporary state folder must appear (and go) here
    try:
        seen = []
        endpoint = None
        deadline = time.monotonic() + DEADLINE
        while endpoint is None:
            line = out.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"exited early: {''.join(seen)}{process.stderr.read()}"
            seen.append(line)
            match = re.match(r"endpoint: (http://127\.0\.0\.1:\d+)$", line.strip())
            endpoint = match.group(1) if match else None
        ready = time.monotonic() - started
        sts = boto3.client(
            "sts",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="222222222222",
            aws_secret_access_key="test",
        )
        assert sts.get_caller_identity()["Account"] == "222222222222"
        state_dirs = list(tmp_path.glob("gitops-emulator-*"))
        assert len(state_dirs) == 1, "expected one temporary state folder while running"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=DEADLINE) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    rest = []
    while (line := out.get(timeout=DEADLINE)) is not None:
        rest.append(line)
    text = "".join(seen + rest)
    assert "AWS_ENDPOINT_URL=" + endpoint in text
    assert "management 111111111111" in text and "pipeline 222222222222" in text
    assert "stopped" in text
    assert not list(tmp_path.glob("gitops-emulator-*")), "temporary state folder left behind"
    print(f"emulator command: endpoint line after {ready:.2f}s")


def test_bad_arguments_exit_2(tmp_path: Path):
    result = subprocess.run(
        [*_command(), "--time-scale", "0"], capture_output=True, text=True, cwd=tmp_path, timeout=DEADLINE
    )
    assert result.returncode == 2
    assert "--time-scale must be > 0" in result.stderr and "Traceback" not in result.stderr


def test_listening_beyond_loopback_warns_loudly_before_serving(tmp_path: Path):
    """--host 0.0.0.0 serves anyone on the network and signatures are not checked: say so on stderr."""
    process, out = _spawn(tmp_path, "--host", "0.0.0.0", "--port", "0")
    try:
        warning = process.stderr.readline()
        assert warning.startswith("WARNING: --host 0.0.0.0 serves the embedded AWS to anyone")
        assert "does not check request signatures" in warning
        deadline = time.monotonic() + DEADLINE
        while not (line := out.get(timeout=max(0.1, deadline - time.monotonic())) or "").startswith(
            "endpoint:"
        ):
            assert line, f"exited early: {process.stderr.read()}"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=DEADLINE) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_ctrl_c_during_a_build_stops_quietly(tmp_path: Path):
    """SIGINT while a CodeBuild build runs: the scheduler stops before the server, so no job calls a closed
    endpoint; exit 0 within the deadline, no traceback, a short output."""
    process, out = _spawn(tmp_path, "--port", "0")
    err: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(process.stderr, err), daemon=True).start()
    try:
        deadline = time.monotonic() + DEADLINE
        endpoint = None
        while endpoint is None:
            line = out.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, "exited before printing its endpoint"
            match = re.match(r"endpoint: (http://127\.0\.0\.1:\d+)$", line.strip())
            endpoint = match.group(1) if match else None
        session = boto3.session.Session(
            aws_access_key_id="222222222222", aws_secret_access_key="test", region_name="us-east-1"
        )
        iam = session.client("iam", endpoint_url=endpoint)
        trust = (
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
            '{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
        )
        role = iam.create_role(RoleName="build", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        codebuild = session.client("codebuild", endpoint_url=endpoint)
        # a build that keeps logging: its log lines go to CloudWatch Logs through the front door
        buildspec = (
            "version: 0.2\nphases:\n  build:\n    commands:\n"
            "      - for i in $(seq 1 600); do echo line $i; sleep 0.1; done\n"
        )
        codebuild.create_project(
            name="slow",
            source={"type": "NO_SOURCE", "buildspec": buildspec},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/standard:7.0",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
            serviceRole=role,
        )
        build_id = codebuild.start_build(projectName="slow")["build"]["id"]
        build = wait_until(  # the build is in its logging loop
            lambda: codebuild.batch_get_builds(ids=[build_id])["builds"][0],
            timeout=max(deadline - time.monotonic(), 0.1),
            describe_expected="the build in its BUILD phase",
            describe_seen=lambda b: f"phase {b.get('currentPhase')}, status {b['buildStatus']}",
            accept=lambda b: b.get("currentPhase") == "BUILD" or b["buildStatus"] != "IN_PROGRESS",
            max_interval=0.2,
        )
        assert build["buildStatus"] == "IN_PROGRESS", build["buildStatus"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=DEADLINE) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    errors = []
    while (line := err.get(timeout=DEADLINE)) is not None:
        errors.append(line)
    rest = []
    while (line := out.get(timeout=DEADLINE)) is not None:
        rest.append(line)
    assert not any("Traceback" in line for line in errors), "".join(errors)
    assert len(errors) <= 3, "".join(errors)
    assert rest and rest[-1].strip() == "stopped", "".join(rest)
