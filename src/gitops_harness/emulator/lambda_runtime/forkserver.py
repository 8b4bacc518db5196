"""The executor's side of the fork server (bootstrap.py --serve): one per executor, started on first use.

A function process forked from it has boto3 imported already, which saves every invocation the 0.3-0.6 s
that importing boto3 costs on this machine. The fork server runs `python -I -S` like a spawned function
(nothing of the harness), and each child starts its own session, so a timeout kills its process group as
for a spawned one. If the server dies, the next invocation starts a new one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_START_TIMEOUT = 30.0  # seconds for the server to import boto3 and listen
_ANSWER_TIMEOUT = 10.0  # seconds for a fork to be acknowledged


class ForkServerError(Exception):
    """The fork server could not be started or did not answer."""


class ForkedProcess:
    """One function process forked by the server: its pid, and its exit code when the server reports it."""

    def __init__(self, connection: socket.socket, pid: int):
        self._connection = connection
        self.pid = pid
        self._pending = b""

    def wait(self, timeout: float | None) -> int:
        """The exit code (negative: the signal that ended it); TimeoutError if it is still running."""
        line = _read_line(self._connection, timeout, self)
        self._connection.close()
        if not line.startswith("exit "):
            return -signal.SIGKILL  # the server went away with its child
        return int(line.split()[1])

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)


class ForkServer:
    def __init__(self, python: str, bootstrap: Path, runtime_packages: Path, log_path: Path):
        self._python = python
        self._bootstrap = bootstrap
        self._runtime_packages = runtime_packages
        self._log_path = log_path
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._socket_dir: tempfile.TemporaryDirectory[str] | None = None
        self._closed = False

    def fork(
        self, spec: dict[str, Any], env: dict[str, str], cwd: Path, stdin_fd: int, output_fd: int
    ) -> ForkedProcess:
        """Start one function process with these fds as its stdin and its stdout+stderr."""
        socket_path = self._running()
        body = json.dumps({"spec": spec, "env": env, "cwd": str(cwd)}).encode("utf-8")
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.settimeout(_ANSWER_TIMEOUT)
            connection.connect(socket_path)
            socket.send_fds(connection, [f"{len(body):08d}".encode()], [stdin_fd, output_fd])
            connection.sendall(body)
            forked = ForkedProcess(connection, 0)
            line = _read_line(connection, _ANSWER_TIMEOUT, forked)
        except (OSError, TimeoutError) as exc:
            connection.close()
            self._forget()
            raise ForkServerError(f"the Lambda fork server did not answer: {exc}") from None
        if not line.startswith("pid "):
            connection.close()
            self._forget()
            raise ForkServerError(f"the Lambda fork server answered {line!r}")
        forked.pid = int(line.split()[1])
        return forked

    def ensure_running(self) -> None:
        """Start the server if it is not running (the first invocation waits for boto3's import)."""
        self._running()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._stop_locked()

    def _running(self) -> str:
        with self._lock:
            if self._closed:
                raise ForkServerError("the Lambda fork server is closed (the emulator is stopping)")
            if self._process is not None and self._process.poll() is None and self._socket_dir is not None:
                return str(Path(self._socket_dir.name) / "fork.sock")
            self._stop_locked()
            self._socket_dir = tempfile.TemporaryDirectory(prefix="lambda-fork-")
            socket_path = Path(self._socket_dir.name) / "fork.sock"
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self._log_path, "ab") as log:
                process = subprocess.Popen(
                    [
                        self._python,
                        "-I",
                        "-S",
                        "-u",
                        str(self._bootstrap),
                        "--serve",
                        str(socket_path),
                        str(self._runtime_packages),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env={name: os.environ[name] for name in ("PATH", "LANG") if name in os.environ},
                    start_new_session=True,
                )
            self._process = process
            ready = _first_line(process, _START_TIMEOUT)
            if ready != "ready":
                self._stop_locked()
                raise ForkServerError(f"the Lambda fork server did not start (see {self._log_path})")
            return str(socket_path)

    def _forget(self) -> None:
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)  # the server only, children have their own
            self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        if self._socket_dir is not None:
            self._socket_dir.cleanup()
            self._socket_dir = None


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        found.append(process.stdout.readline().decode("utf-8", "replace").strip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return found[0] if found else ""


def _read_line(connection: socket.socket, timeout: float | None, state: ForkedProcess) -> str:
    deadline = None if timeout is None else time.monotonic() + timeout
    while b"\n" not in state._pending:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise TimeoutError("no answer from the Lambda fork server")
        connection.settimeout(remaining)
        try:
            chunk = connection.recv(256)
        except TimeoutError:
            raise TimeoutError("no answer from the Lambda fork server") from None
        if not chunk:
            return ""
        state._pending += chunk
    line, _, state._pending = state._pending.partition(b"\n")
    return line.decode("ascii", "replace")
