"""A tool that pins its dependencies exactly (checkov, awscli v1) lives in a virtual environment of its own.

Found at $<env var> (the Makefile sets it), else in a per-user cache directory named after the pin;
created there on first use, with one progress line on stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

from gitops_harness.errors import ToolError


@dataclass(frozen=True)
class ToolVenv:
    name: str  # cache folder prefix, e.g. "checkov"
    requirements: Path  # a pinned requirements file; its first requirement names the version
    env_var: str  # overrides the location
    executable_name: str  # the console script the tool installs
    purpose: str  # who installs it, for the progress line ("gitops-harness policy")

    def pinned_requirement(self) -> str:
        lines = [
            ln.strip()
            for ln in self.requirements.read_text().splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")
        ]
        return lines[0]

    def default_dir(self) -> Path:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        version = self.pinned_requirement().split("==")[-1]
        return cache / "gitops-harness" / f"{self.name}-{version}"

    def directory(self) -> Path:
        configured = os.environ.get(self.env_var)
        return Path(configured) if configured else self.default_dir()

    def executable(self) -> Path:
        """Path of the tool's script, creating the environment if it does not exist yet."""
        venv_dir = self.directory()
        executable = venv_dir / "bin" / self.executable_name
        if executable.is_file():
            return executable
        pin = self.pinned_requirement()
        print(
            f"{self.purpose}: installing {pin} into {venv_dir} (first run only)...",
            file=sys.stderr,
            flush=True,
        )
        try:
            venv.EnvBuilder(with_pip=True, clear=False).create(venv_dir)
            subprocess.run(
                [
                    str(venv_dir / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "-r",
                    str(self.requirements),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines()
            raise ToolError(
                f"cannot install {pin} into {venv_dir}: {detail[-1] if detail else exc}; check network access "
                f"to PyPI, or set {self.env_var} to an environment with {self.executable_name} (make test does)"
            ) from exc
        if not executable.is_file():
            raise ToolError(f"{executable} missing after installing {pin}; delete {venv_dir} and retry")
        return executable
