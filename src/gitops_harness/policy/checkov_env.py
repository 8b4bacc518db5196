"""checkov's own virtual environment: checkov pins boto3 exactly, so it never shares ours.

Found at $GITOPS_HARNESS_CHECKOV_VENV (the Makefile sets it), else in a per-user cache directory
named after the pin; created there on first use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

from gitops_harness.errors import ToolError

REQUIREMENTS = Path(__file__).with_name("checkov-requirements.txt")
VENV_ENV_VAR = "GITOPS_HARNESS_CHECKOV_VENV"


def pinned_requirement() -> str:
    lines = [ln.strip() for ln in REQUIREMENTS.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return lines[0]


def default_venv_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    version = pinned_requirement().split("==")[-1]
    return cache / "gitops-harness" / f"checkov-{version}"


def checkov_executable() -> Path:
    """Path of the checkov script, creating the environment if it does not exist yet."""
    configured = os.environ.get(VENV_ENV_VAR)
    venv_dir = Path(configured) if configured else default_venv_dir()
    executable = venv_dir / "bin" / "checkov"
    if executable.is_file():
        return executable
    print(f"gitops-harness policy: installing {pinned_requirement()} into {venv_dir} (first run only)...",
          file=sys.stderr, flush=True)
    try:
        venv.EnvBuilder(with_pip=True, clear=False).create(venv_dir)
        subprocess.run(
            [str(venv_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines()
        raise ToolError(
            f"cannot install {pinned_requirement()} into {venv_dir}: {detail[-1] if detail else exc}; "
            f"check network access to PyPI, or set {VENV_ENV_VAR} to an environment with checkov (make test does)"
        ) from exc
    if not executable.is_file():
        raise ToolError(f"{executable} missing after installing {pinned_requirement()}; delete {venv_dir} and retry")
    return executable
