"""How a build gets the stand-in: its bin directory first on PATH, and the interpreter that runs it."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

BIN_DIR = Path(__file__).resolve().parent / "bin"
# src/ (the directory holding the gitops_harness package), so the script works without an install.
SOURCE_ROOT = Path(__file__).resolve().parents[3]


def environment(base: Mapping[str, str], python: str | None = None) -> dict[str, str]:
    """`base` with `docker` resolving to the stand-in, run by `python` (default: this interpreter)."""
    env = dict(base)
    env["PATH"] = os.pathsep.join([str(BIN_DIR), *filter(None, [env.get("PATH", "")])])
    env["DOCKER_STANDIN_PYTHON"] = python or sys.executable
    return env
