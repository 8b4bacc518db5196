"""One build's shell: runs buildspec commands one at a time, isolated from the harness process.

Why one bash process per command that saves and restores the shell state, and not one long-running
bash fed commands through stdin:
- `exit 3` in a command (common in buildspecs) must fail that command only; post_build and
  `finally` still run afterwards. In a long-running shell it would end the whole session.
- A command that reads stdin (ssh, docker login --password-stdin without a pipe, read) would
  swallow the following commands of a shell fed through stdin; here stdin is /dev/null.
- CodeBuild's own agent does the same: each command runs as a script with the environment the
  previous one left, so `cd` and variables (exported or not) persist while functions and `set -e`
  do not.

Every process of the build (commands and what they leave running in the background, such as a
daemon started in install) joins one process group anchored by an idle process, so a timeout, a
stop or the end of the build kills all of it with one killpg. Commands share one output pipe; after
each command the runner writes a marker into the same pipe, so every line the command printed is
delivered to the log before the runner logs what comes next.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_WRAPPER = r"""
__cb_state=$__CB_STATE __cb_cmd=$__CB_COMMAND __cb_over=$__CB_OVERRIDES __cb_save_state=$__CB_SAVE
unset __CB_STATE __CB_COMMAND __CB_OVERRIDES __CB_SAVE
# Sourced at top level so `declare` lines recreate globals.
if [ -n "$__cb_state" ] && [ -f "$__cb_state" ]; then . "$__cb_state"; fi
if [ -n "${__cb_cwd-}" ]; then cd -- "$__cb_cwd" 2>/dev/null; fi
unset __cb_cwd
. "$__cb_over"
__cb_save() {
  set +eu
  [ "$__cb_save_state" = 1 ] || return 0
  local __cb_n IFS=$' \t\n'
  {
    for __cb_n in $(compgen -v); do
      case $__cb_n in
        __cb_*|BASH|BASHOPTS|BASHPID|BASH_*|EUID|PPID|UID|SHELLOPTS|GROUPS|FUNCNAME|PIPESTATUS|LINENO|\
RANDOM|SRANDOM|SECONDS|EPOCHSECONDS|EPOCHREALTIME|HISTCMD|DIRSTACK|COMP_WORDBREAKS|SHLVL|PWD|IFS|OPTIND|\
OPTARG|_) continue ;;
      esac
      declare -p "$__cb_n" 2>/dev/null
    done
    printf '__cb_cwd=%q\n' "$PWD"
  } > "$__cb_state"
}
trap '__cb_rc=$?; __cb_save; exit $__cb_rc' EXIT
. "$__cb_cmd"
"""


class ShellClosed(RuntimeError):
    """The session was killed (timeout, stop) or closed; no more commands can run."""


@dataclass(frozen=True)
class CommandOutcome:
    exit_code: int | None  # None when the command was killed by a timeout or a stop
    timed_out: bool = False
    stopped: bool = False


class ShellSession:
    """Runs commands in one build's shell state; see the module docstring for the design."""

    def __init__(
        self,
        *,
        src_dir: Path,
        tmp_dir: Path,
        base_env: dict[str, str],
        on_output: Callable[[str], None],
        shell: str = "bash",
        persist_state: bool = True,
    ) -> None:
        self._src = src_dir
        self._tmp = tmp_dir
        self._base_env = dict(base_env)
        self._on_output = on_output
        # /bin/sh scripts run under bash's POSIX mode: the state save/restore needs bash's declare.
        self._argv = ["bash", "--noprofile", "--norc"] + (["--posix"] if shell == "/bin/sh" else [])
        self._persist = persist_state
        self._state = tmp_dir / "shell-state.sh"
        self._wrapper = tmp_dir / "run-command.sh"
        self._seq = 0
        self._token = uuid.uuid4().hex.encode()
        self._seen: set[int] = set()
        self._cond = threading.Condition()
        self._anchor: subprocess.Popen[bytes] | None = None
        self._rfd = self._wfd = -1
        self._reader: threading.Thread | None = None
        self._killed = False

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._wrapper.write_text(_WRAPPER)
        # The anchor owns the process group; it lives until close(), so later commands can join.
        # It is `cat` on a pipe only this process writes to: if the harness dies, EOF ends it.
        self._anchor = subprocess.Popen(
            ["cat"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            process_group=0,
            env={"PATH": self._base_env.get("PATH", "/usr/bin:/bin")},
        )
        self._rfd, self._wfd = os.pipe()
        self._reader = threading.Thread(target=self._read_loop, name="codebuild-log-reader", daemon=True)
        self._reader.start()

    @property
    def pgid(self) -> int:
        assert self._anchor is not None, "start() first"
        return self._anchor.pid

    def kill(self) -> None:
        """Kill every process of the build (idempotent)."""
        if self._anchor is None or self._killed:
            return
        self._killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._anchor.pid, signal.SIGKILL)
        self._anchor.wait()
        if self._anchor.stdin is not None:
            self._anchor.stdin.close()

    def close(self) -> None:
        """Kill what is left of the build and drain its output."""
        self.kill()
        if self._wfd >= 0:
            os.close(self._wfd)
            self._wfd = -1
        if self._reader is not None:
            # EOF arrives once every process holding the pipe is gone: they were all just killed.
            self._reader.join(timeout=10)
        if self._rfd >= 0:
            os.close(self._rfd)
            self._rfd = -1

    # -- commands --------------------------------------------------------------------------
    def run(
        self,
        command: str,
        *,
        overrides: dict[str, str],
        cancel: threading.Event,
        deadline: float,
        capture: Path | None = None,
        save_state: bool = True,
    ) -> CommandOutcome:
        """Run one command; its output goes to the log (or to `capture`). Blocks until it ends,
        the monotonic `deadline` passes (the build's group is killed) or `cancel` is set (same)."""
        if self._killed or self._anchor is None:
            raise ShellClosed("the build's shell was killed; no further commands run")
        self._seq += 1
        cmd_file = self._tmp / f"command-{self._seq}.sh"
        cmd_file.write_text(command + "\n")
        over_file = self._tmp / f"overrides-{self._seq}.sh"
        over_file.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in overrides.items()))
        restore = self._persist and self._state.exists()
        env = {} if restore else dict(self._base_env)
        env.update(
            __CB_STATE=str(self._state) if self._persist else "",
            __CB_COMMAND=str(cmd_file),
            __CB_OVERRIDES=str(over_file),
            __CB_SAVE="1" if (self._persist and save_state) else "0",
        )
        if restore:
            env["PATH"] = self._base_env.get("PATH", "/usr/bin:/bin")  # to find bash; state resets it
        out = open(capture, "wb") if capture else None  # noqa: SIM115 - closed below
        try:
            proc = subprocess.Popen(
                [*self._argv, str(self._wrapper)],
                cwd=self._src,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out.fileno() if out else self._wfd,
                stderr=self._wfd,
                process_group=self.pgid,
                close_fds=True,
            )
        finally:
            if out:
                out.close()
        outcome = self._wait(proc, cancel, deadline)
        self._flush()
        return outcome

    def _wait(
        self, proc: subprocess.Popen[bytes], cancel: threading.Event, deadline: float
    ) -> CommandOutcome:
        pidfd = os.pidfd_open(proc.pid)
        try:
            while True:
                # Wake on the process's exit at once; check stop/timeout at least every 50 ms.
                remaining = deadline - time.monotonic()
                ready, _, _ = select.select([pidfd], [], [], max(0.0, min(0.05, remaining)))
                if ready:
                    return CommandOutcome(proc.wait())
                if cancel.is_set():
                    self.kill()
                    proc.wait()
                    return CommandOutcome(None, stopped=True)
                if time.monotonic() >= deadline:
                    self.kill()
                    proc.wait()
                    return CommandOutcome(None, timed_out=True)
        finally:
            os.close(pidfd)

    # -- output ----------------------------------------------------------------------------
    def _flush(self) -> None:
        """Wait until the log has every byte written to the pipe so far."""
        seq = self._seq
        os.write(self._wfd, b"\0" + self._token + b":%d\n" % seq)
        with self._cond:
            if not self._cond.wait_for(lambda: seq in self._seen, timeout=30):
                raise RuntimeError("the build log reader stopped delivering output")

    def _read_loop(self) -> None:
        marker = b"\0" + self._token + b":"
        buf = b""
        while True:
            try:
                chunk = os.read(self._rfd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                if buf:
                    self._emit(buf)
                return
            buf += chunk
            while True:
                m, nl = buf.find(marker), buf.find(b"\n")
                if m != -1 and (nl == -1 or m < nl):
                    end = buf.find(b"\n", m)
                    if end == -1:
                        break
                    if m:
                        self._emit(buf[:m])  # an unterminated last line before the marker
                    seq = int(buf[m + len(marker) : end])
                    buf = buf[end + 1 :]
                    with self._cond:
                        self._seen.add(seq)
                        self._cond.notify_all()
                elif nl != -1:
                    self._emit(buf[:nl])
                    buf = buf[nl + 1 :]
                else:
                    if len(buf) > 1 << 20:  # a megabyte without a newline: emit it anyway
                        self._emit(buf)
                        buf = b""
                    break

    def _emit(self, raw: bytes) -> None:
        self._on_output(raw.decode("utf-8", "replace").rstrip("\r"))
