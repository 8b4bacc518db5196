"""LocalStack community in host mode: `python -m localstack.runtime.main` from its own venv, on 127.0.0.1.

What the tests and the benchmark start (the Makefile's .venv-localstack holds localstack-core 4.14.0,
the harness and the plugin in localstack/). The environment keeps it on this machine: the gateway on
127.0.0.1 through hypercorn (the default server binds 0.0.0.0), no DNS server, no Docker, no
persistence, no analytics events, no certificate download, no EC2 metadata lookups, and a
FILESYSTEM_ROOT (and plux entry-point cache) of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from gitops_harness.errors import ToolError
from gitops_harness.waiting import wait_until_e

VENV_ENV = "GITOPS_HARNESS_LOCALSTACK_VENV"
START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


TIME_SCALE_ENV = (
    "GITOPS_HARNESS_TIME_SCALE"  # read by the plugin (localstack/src/gitops_localstack/runtime.py)
)


def host_environment(port: int, root: Path, time_scale: float | None = None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCALSTACK_", "PROVIDER_OVERRIDE_"))
    }
    env.update(
        GATEWAY_LISTEN=f"127.0.0.1:{port}",
        GATEWAY_SERVER="hypercorn",
        DNS_ADDRESS="0",
        OVERRIDE_IN_DOCKER="0",
        PERSISTENCE="0",
        DISABLE_EVENTS="1",
        SKIP_SSL_CERT_DOWNLOAD="1",
        AWS_EC2_METADATA_DISABLED="true",
        FILESYSTEM_ROOT=str(root),
        XDG_CACHE_HOME=str(root / "cache"),  # plux's entry-point index: a stale one hides the plugin
        # LocalStack's Lambda needs Docker and a downloaded init binary: the plugin's runs functions locally
        PROVIDER_OVERRIDE_LAMBDA="gitops",
    )
    env.pop(TIME_SCALE_ENV, None)  # the target's setting decides, not whatever this shell exported
    if time_scale is not None:
        env[TIME_SCALE_ENV] = repr(float(time_scale))
    return env


class HostLocalStack:
    """A LocalStack process; `start()` returns once /_localstack/health answers."""

    def __init__(self, venv: str | Path | None = None, port: int = 0, time_scale: float | None = None):
        found = venv or os.environ.get(VENV_ENV)
        if not found:
            raise ToolError(f"set {VENV_ENV} to LocalStack's virtual environment (make .venv-localstack)")
        self.python = Path(found) / "bin" / "python"
        if not self.python.exists():
            raise ToolError(f"{VENV_ENV}={found}: no bin/python there (run make .venv-localstack/.installed)")
        self.port = port or _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="gitops-localstack-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds: float | None = None
        self.time_scale = time_scale  # the plugin's planes' clock seconds per AWS second (None: AWS's timing)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/_localstack/health", timeout=2) as resp:  # noqa: S310
                return json.loads(resp.read())  # type: ignore[no-any-return]
        except OSError:
            return None

    def start(self) -> HostLocalStack:
        self.root.mkdir(parents=True, exist_ok=True)
        log = (self.root / "localstack.log").open("wb")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [str(self.python), "-m", "localstack.runtime.main"],
            env=host_environment(self.port, self.root, self.time_scale),
            cwd=self.root,  # not the checkout: its localstack/ folder must not shadow the package
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready() -> dict[str, Any] | None:
            if self.process is not None and self.process.poll() is not None:
                raise ToolError(
                    f"LocalStack exited with {self.process.returncode}: see {self.root / 'localstack.log'}"
                )
            return self.health()

        _, timeout = wait_until_e(
            ready,
            timeout=START_TIMEOUT,
            describe_expected="LocalStack's /_localstack/health",
            interval=0.05,
            max_interval=0.2,
        )
        if timeout is not None:
            self.stop()
            raise ToolError(
                f"LocalStack did not answer /_localstack/health within {START_TIMEOUT:.0f}s: see {self.root / 'localstack.log'}"
            )
        self.start_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)  # its FILESYSTEM_ROOT, log and plux cache
