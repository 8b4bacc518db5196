"""The tools a build finds on its PATH besides the host's: the AWS CLI and, in privileged mode, docker.

- `aws`: awscli v1 from its own virtual environment (it pins botocore exactly, so it cannot share the
  emulator's); created on first use, or taken from $GITOPS_HARNESS_AWSCLI_VENV (make test sets it).
  It reaches the embedded AWS through the build's AWS_ENDPOINT_URL.
- `docker`: the daemonless stand-in (docker_standin). Only privileged builds get a Docker daemon on
  CodeBuild, so in an unprivileged build `docker` answers as the real CLI does without a daemon.

The build engine passes only PATH and AWS_* into a build, so the stand-in's interpreter
(DOCKER_STANDIN_PYTHON) is baked into a small wrapper script instead of the environment.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
from pathlib import Path

from gitops_harness.emulator.docker_standin import launcher
from gitops_harness.errors import ToolError
from gitops_harness.tool_venv import ToolVenv

AWSCLI = ToolVenv(
    "awscli",
    Path(__file__).with_name("awscli-requirements.txt"),
    "GITOPS_HARNESS_AWSCLI_VENV",
    "aws",
    "gitops-harness emulator (CodeBuild)",
)

_NO_DAEMON = """#!/bin/sh
# CodeBuild runs a Docker daemon only in privileged mode (the project's environment.privilegedMode).
echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
exit 1
"""

_install_lock = threading.Lock()


def _docker_wrapper() -> str:
    standin = launcher.environment({})
    return (
        "#!/bin/sh\n"
        f"DOCKER_STANDIN_PYTHON={shlex.quote(standin['DOCKER_STANDIN_PYTHON'])} "
        f'exec {shlex.quote(str(launcher.BIN_DIR / "docker"))} "$@"\n'
    )


def _write_executable(path: Path, text: str) -> None:
    if path.is_file() and path.read_text() == text:
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o755)
    tmp.replace(path)  # atomic: a concurrent build never runs a half-written script


def aws_cli() -> Path:
    """The `aws` executable, installing its environment on first use (one installer at a time)."""
    with _install_lock:
        return AWSCLI.executable()


def host_path() -> str:
    """The emulator's PATH without its own virtualenv's bin (the harness's tools are not the build's)."""
    own_bin = str(Path(sys.prefix) / "bin") if sys.prefix != sys.base_prefix else None
    entries = [e for e in os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep) if e]
    return os.pathsep.join(e for e in entries if e != own_bin)


def build_path(tools_dir: Path, *, privileged: bool, log: list[str]) -> str:
    """PATH for one build: a tools folder (aws, docker) before the host's PATH.

    Problems that only some buildspecs care about (the AWS CLI cannot be installed) are appended to
    `log` for the build log instead of failing the build."""
    bin_dir = tools_dir / ("privileged" if privileged else "unprivileged")
    bin_dir.mkdir(parents=True, exist_ok=True)
    _write_executable(bin_dir / "docker", _docker_wrapper() if privileged else _NO_DAEMON)
    link = bin_dir / "aws"
    try:
        target = aws_cli()
    except ToolError as exc:
        log.append(f"aws CLI unavailable in this build: {exc}")
    else:
        if not link.is_symlink() or os.readlink(link) != str(target):
            tmp = bin_dir / f".aws-{os.getpid()}-{threading.get_ident()}"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(target)  # the script's shebang names its own venv's python
            tmp.replace(link)
    return os.pathsep.join([str(bin_dir), host_path()])
