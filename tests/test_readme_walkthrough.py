"""The README's walkthrough, run as written: the standalone emulator, the AWS CLI, git, the pipeline
starting from a push. If this fails, the README is wrong (or the emulator is)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gitops_harness.emulator.codebuild.tools import aws_cli

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- walkthrough:start -->\s*```sh\n(.*?)```\s*<!-- walkthrough:end -->", re.S)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("git") is None or shutil.which("curl") is None, reason="needs git and curl")
def test_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    script = BLOCK.search((REPO / "README.md").read_text()).group(1)
    # The walkthrough works from the repository root; run it in a copy of what it reads.
    shutil.copytree(REPO / "fixtures", tmp_path / "fixtures", ignore=shutil.ignore_patterns("__pycache__"))
    tools = [str(aws_cli().parent), str(Path(sys.executable).parent)]
    env = {
        "PATH": os.pathsep.join([*tools, os.environ.get("PATH", "/usr/bin:/bin")]),
        "HOME": str(tmp_path),
        "PORT": str(_free_port()),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    # Stop the emulator the walkthrough starts in the background, whatever happens.
    prelude = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
    proc = subprocess.run(
        ["bash", "-c", prelude + script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"walkthrough failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    # The last command prints one "<stage>\t<status>" line per stage of the pipeline state.
    states = dict(line.split("\t") for line in proc.stdout.splitlines() if line.count("\t") == 1)
    assert list(states) == ["Source", "Build", "Approve", "Deploy"], proc.stdout[-2000:]
    assert states["Source"] == "Succeeded", proc.stdout[-2000:]
