"""Rehearse the ``aws`` target on the embedded AWS: the same code path as a nightly on a real account
(credentials, allowlist, run tags, teardown, sweep), with ``targets.aws.endpoint_url`` pointing every
client at a local emulator. Used by tests/test_aws_target.py and bench/bench_aws_leaks.py.

    with running_emulator(time_scale=0.0167) as emulator:
        config = write_rehearsal_config(tmp, emulator.endpoint_url, ACCOUNTS)
        outcome = run_pipeline_layer(config, kill_after_writes=7, endpoint_url=emulator.endpoint_url)
        leftovers(config)          # what the killed run left: [] when teardown did its job
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops_harness.config import Accounts, load_config
from gitops_harness.sweep import Leftover, delete_leftovers, find_leftovers
from gitops_harness.targets.aws import READ_PREFIXES, AwsTarget
from gitops_harness.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
_RUN_LAYER = """
import dataclasses, json, sys
from gitops_harness.config import load_config
from gitops_harness.pipeline_layer import pipeline_verdicts
progress = []
def note(message):
    progress.append(message)
    print("PROGRESS " + message, file=sys.stderr, flush=True)
verdicts, timeline = pipeline_verdicts(load_config(sys.argv[1]), "aws", note)
print(json.dumps({"verdicts": [dataclasses.asdict(v) for v in verdicts], "progress": progress}))
"""


def write_rehearsal_config(
    folder: Path,
    endpoint_url: str,
    accounts: Accounts,
    *,
    project: str = "gitops-sample",
    mode: str = "ephemeral",
    allowed: tuple[str, ...] | None = None,
    profiles: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    chat: dict[str, Any] | None = None,
) -> Path:
    """harness.yaml (plus an AWS config file with one static-key profile per account) for an aws run
    on ``endpoint_url``; the repository's fixtures are referenced, not copied. ``chat``: the config's
    chat section (the webhook's variable, Slack read-back)."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = profiles or {"management": accounts.management, "pipeline": accounts.pipeline}
    aws_config = folder / "aws-config"
    aws_config.write_text(
        "".join(
            f"[profile rehearsal-{role}]\naws_access_key_id = {key}\naws_secret_access_key = test\n\n"
            for role, key in keys.items()
        )
    )
    settings: dict[str, Any] = {
        "region": "us-east-1",
        "allowed_accounts": list(allowed or (accounts.management, accounts.pipeline)),
        "mode": mode,
        "endpoint_url": endpoint_url,
        "credentials": {
            "source": "profiles",
            "profiles": {role: f"rehearsal-{role}" for role in keys},
        },
        "smoke": {"run_timeout_minutes": 10},
    }
    settings.update(extra or {})
    config = {
        "project": project,
        "region": "us-east-1",
        "accounts": {"management": accounts.management, "pipeline": accounts.pipeline},
        "pipeline": {
            "templates": {
                "management": str(REPO / "fixtures/pipeline/management-account.yaml"),
                "pipeline": str(REPO / "fixtures/pipeline/pipeline-account.yaml"),
            }
        },
        "app": {"dir": str(REPO / "fixtures/app"), "chat_notifier_dir": str(REPO / "fixtures/chat-notifier")},
        "policy": {"paths": [str(REPO / "fixtures/pipeline")], "checks_dir": str(REPO / "policies")},
        "targets": {"default": "aws", "aws": settings},
    }
    if chat:
        config["chat"] = chat
    path = folder / "harness.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def rehearsal_env(config_path: Path) -> dict[str, str]:
    """The environment a rehearsal run needs: the profiles file, and no real AWS settings leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = str(config_path.parent / "aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


def requests(endpoint_url: str, since: float = 0.0, app_id: str | None = None) -> list[dict[str, Any]]:
    """The emulator's request log from ``since`` (time.time()) on. By time, not by position: the log keeps
    only the last 2000 requests, so positions shift once it is full. With ``app_id``, only the requests of
    SDK clients started with AWS_SDK_UA_APP_ID=<app_id> (their User-Agent carries ``app/<app_id>``)."""
    with urllib.request.urlopen(f"{endpoint_url}/_emulator/requests", timeout=10) as answer:  # noqa: S310
        seen = [e for e in json.load(answer)["requests"] if e["time"] >= since]
    if app_id is not None:
        seen = [e for e in seen if f"app/{app_id}" in e.get("userAgent", "").split()]
    return seen


def sdk_client(entry: dict[str, Any]) -> bool:
    """Whether a logged request came from an AWS SDK (botocore, boto3), not git or a plain HTTP client."""
    return entry.get("userAgent", "").startswith(("Botocore/", "Boto3/", "aws-cli/"))


def is_write(entry: dict[str, Any]) -> bool:
    """A request that may change something (STS calls and unnamed reads of git refs excluded)."""
    if entry["service"] == "sts":
        return False
    operation = entry.get("operation") or "?"
    if entry["service"] == "codecommit" and operation == "git-upload-pack":
        return False
    if operation == "?":  # unnamed (query-protocol services on moto): judge by the HTTP method
        return entry["method"] not in ("GET", "HEAD")
    return not operation.startswith(READ_PREFIXES)


@dataclass
class RunOutcome:
    returncode: int
    killed_at_write: int | None  # the write count when SIGTERM was sent; None: ran to its end
    last_progress: str
    stderr_tail: str
    seconds: float  # from start to exit
    first_write_seconds: float | None  # from start to the run's first write, when it was watched
    verdicts: list[dict[str, Any]]  # the run's verdicts when it ran to its end, else []
    progress: list[str]  # the run's progress lines
    output: str = ""  # everything the run printed (stdout, then stderr)

    @property
    def step(self) -> str:
        """The step the run was in when it ended (teardown's own line left out)."""
        steps = [p for p in self.progress if not p.startswith("tearing")]
        return steps[-1] if steps else "starting"


def run_pipeline_layer(
    config_path: Path,
    *,
    endpoint_url: str,
    kill_after_writes: int | None = None,
    kill_after_seconds: float | None = None,
    timeout: float = 600,
) -> RunOutcome:
    """The pipeline layer on the aws target in a fresh interpreter; SIGTERM once the emulator has seen
    ``kill_after_writes`` writes from the run's accounts, or ``kill_after_seconds`` after its first
    write (the interpreter's start-up is not a step worth killing at); the run then tears down and exits."""
    config = load_config(config_path)
    accounts = {config.accounts.management, config.accounts.pipeline}
    since = time.time()
    started = time.monotonic()
    proc = subprocess.Popen(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", _RUN_LAYER, str(config_path)],
        env=rehearsal_env(config_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed_at = None
    first_write: float | None = None

    def writes() -> int:
        seen = requests(endpoint_url, since)
        return sum(1 for e in seen if e["account"] in accounts and is_write(e))

    def ended() -> bool:
        return proc.poll() is not None

    try:
        if kill_after_writes is not None or kill_after_seconds is not None:
            if kill_after_seconds is not None:
                wait_until(
                    lambda: ended() or writes() > 0,
                    timeout=timeout,
                    describe_expected="the run's first write",
                    interval=0.05,
                    max_interval=0.2,
                )
                first_write = time.monotonic() - started
            deadline = time.monotonic() + (kill_after_seconds if kill_after_seconds is not None else timeout)
            wait_until(
                lambda: (
                    ended()
                    or time.monotonic() >= deadline
                    or (kill_after_writes is not None and writes() >= kill_after_writes)
                ),
                timeout=timeout,
                describe_expected="the kill point",
                interval=0.05,
                max_interval=0.2,
            )
            if not ended():
                killed_at = writes()
                proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    progress = [line[9:] for line in stderr.splitlines() if line.startswith("PROGRESS ")]
    last = (stdout or "").strip().splitlines()[-1:] if proc.returncode == 0 else []
    verdicts = json.loads(last[0])["verdicts"] if last else []
    return RunOutcome(
        proc.returncode,
        killed_at,
        progress[-1] if progress else "",
        stderr[-2000:],
        time.monotonic() - started,
        first_write,
        verdicts,
        progress,
        (stdout or "") + (stderr or ""),
    )


def leftovers(config_path: Path, *, sweep: bool = False) -> list[Leftover]:
    """Every harness-tagged resource (and run-named log group) in the config's two accounts; with
    ``sweep``, delete them first (as `gitops-harness sweep --yes` would) and return what remains."""
    config = load_config(config_path)
    saved = {k: os.environ.get(k) for k in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")}
    os.environ.update({k: v for k, v in rehearsal_env(config_path).items() if k in saved})
    try:
        with AwsTarget.from_config(config, purpose="sweep") as target:
            found = find_leftovers(target, project=config.project)
            if sweep and found:
                delete_leftovers(target, found)
                found = find_leftovers(target, project=config.project)
            return found
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def copy_fixtures(folder: Path) -> None:
    """A private copy of the fixtures, for rehearsals that change the app."""
    for name in ("fixtures", "policies"):
        shutil.copytree(REPO / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
