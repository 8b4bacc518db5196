"""Every command answers each bad input of the corpus (hostile_cases.py) with its documented exit code
and one line saying where and why: no traceback, within 5 s and 500 MB.

Each case runs the real `gitops-harness` entry point (cli.main) in a process forked from this one, so
the imports are paid once for the whole corpus, the child's address space is capped
(RLIMIT_AS: a blow-up fails the case instead of the machine) and its peak memory is read from wait4.
"""

from __future__ import annotations

import os
import resource
import selectors
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile_cases import BUSY_SOCKETS, CASES, Case

from gitops_harness import cli

# What a command may take on bad input before the answer counts as a hang or a blow-up.
SECONDS = 5.0
MEGABYTES = 500

# Import what the commands import lazily, so that a forked child does not pay (or count) it.
import cfnlint.api  # noqa: E402,F401
import cfnlint.decode  # noqa: E402,F401

import gitops_harness.artifacts.command  # noqa: E402,F401
import gitops_harness.emulator.command  # noqa: E402,F401
import gitops_harness.policy.command  # noqa: E402,F401
import gitops_harness.run  # noqa: E402,F401


@dataclass
class Answer:
    code: int
    out: str
    err: str
    seconds: float
    grew_mb: float


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def run_forked(argv: list[str], cwd: Path) -> Answer:
    """cli.main(argv) in a forked child with a memory cap; stdout/stderr read until the deadline."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    base_rss = _rss_mb()
    cap = _vm_size() + MEGABYTES * 1024 * 1024
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            os.close(out_r)
            os.close(err_r)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            sys.stdout = os.fdopen(1, "w", closefd=False)
            sys.stderr = os.fdopen(2, "w", closefd=False)
            os.chdir(cwd)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            code = cli.main(argv)
        except SystemExit as done:  # argparse
            code = done.code if isinstance(done.code, int) else 2
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    selector = selectors.DefaultSelector()
    for fd in chunks:
        selector.register(fd, selectors.EVENT_READ)
    deadline = started + SECONDS * 3  # past the limit, but bounded: the assertion below reports it
    open_fds = set(chunks)
    while open_fds and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
            data = os.read(key.fd, 65536)
            if data:
                chunks[key.fd].append(data)
            else:
                selector.unregister(key.fd)
                open_fds.discard(key.fd)
    if open_fds:  # still writing at the deadline: a hang
        os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - started
    for fd in chunks:
        os.close(fd)
    code = os.waitstatus_to_exitcode(status)
    return Answer(
        code,
        b"".join(chunks[out_r]).decode(errors="replace"),
        b"".join(chunks[err_r]).decode(errors="replace"),
        seconds,
        usage.ru_maxrss / 1024 - base_rss,
    )


def _materialise(case: Case, folder: Path) -> list[str]:
    for relative, content in case.files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir(exist_ok=True)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if case.setup is not None:
        case.setup(folder)
    port = (folder / "port").read_text() if (folder / "port").exists() else ""
    return [arg.replace("{dir}", str(folder)).replace("{port}", port) for arg in case.argv]


@pytest.fixture(scope="module", autouse=True)
def release_busy_ports():
    yield
    while BUSY_SOCKETS:
        BUSY_SOCKETS.pop().close()


def test_the_corpus_is_large_enough_and_ids_are_unique() -> None:
    assert len(CASES) >= 80
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.argv[0] for c in CASES} == {"policy", "validate-artifacts", "run", "emulator"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_its_exit_code_and_one_line(case: Case, tmp_path: Path) -> None:
    argv = _materialise(case, tmp_path)
    answer = run_forked(argv, tmp_path)
    shown = f"exit {answer.code}\nstdout: {answer.out[-2000:]}\nstderr: {answer.err[-2000:]}"
    assert "Traceback" not in answer.out + answer.err, shown
    assert answer.code == case.exit_code, shown
    assert answer.seconds < SECONDS, f"took {answer.seconds:.1f}s\n{shown}"
    assert answer.grew_mb < MEGABYTES, f"grew {answer.grew_mb:.0f} MB\n{shown}"
    if case.exit_code == 1:  # findings: on stdout, the finding in one line; nothing on stderr
        assert answer.err == "", shown
        lines = [line for line in answer.out.splitlines() if case.expect in line]
        assert len(lines) == 1, shown
        assert len(lines[0]) < 1000, "one line a person can read"
    else:  # an error: one line on stderr naming the command, nothing half-written on stdout
        assert answer.out == "", shown
        assert answer.err.count("\n") == 1 and answer.err.endswith("\n"), shown
        assert answer.err.startswith("gitops-harness"), shown
        assert case.expect in answer.err, shown
        assert len(answer.err) < 1000, "one line a person can read"
