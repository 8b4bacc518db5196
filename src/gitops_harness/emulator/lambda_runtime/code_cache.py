"""Unpacked function code, layers and the runtime's own packages, in folders reused across invocations.

A function's zip is unpacked once per (account, region, function, code sha256) under the cache root;
a layer version once per its code sha256. Unpacking goes to a temporary sibling and is renamed into
place, so a concurrent invocation sees either no folder or a complete one.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path

# What Lambda's Python runtimes ship besides the standard library: the AWS SDK and its dependencies.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")


class CodeError(Exception):
    """The function's code cannot be unpacked (not a zip, empty)."""


class CodeCache:
    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()
        self._runtime_dir: Path | None = None

    def function_code(
        self, account: str, region: str, function_name: str, code_sha256: str, zipped: bytes
    ) -> Path:
        """The folder holding the function's unpacked zip (LAMBDA_TASK_ROOT)."""
        if not zipped:
            raise CodeError(f"function {function_name} has no code package (its S3 object was not found)")
        folder = self.root / "functions" / account / region / function_name / _safe(code_sha256)
        return self._unpacked(folder, zipped, f"the code of function {function_name}")

    def layer(self, layer_arn: str, code_sha256: str, zipped: bytes) -> Path:
        """The folder holding a layer version's unpacked zip (what Lambda mounts at /opt)."""
        return self._unpacked(self.root / "layers" / _safe(code_sha256), zipped, f"layer {layer_arn}")

    def runtime_packages(self) -> Path:
        """A folder with links to the host's copies of the packages Lambda's Python runtime provides, so a
        function imports boto3 without seeing the rest of the host's site-packages (the harness included)."""
        with self._lock:
            if self._runtime_dir is not None:
                return self._runtime_dir
            folder = self.root / "python-runtime"
            folder.mkdir(parents=True, exist_ok=True)
            for name in RUNTIME_PACKAGES:
                spec = importlib.util.find_spec(name)
                if spec is None or spec.origin is None:
                    continue  # not installed on the host: the function's own zip must bring it
                source = Path(spec.origin)
                target = source.parent if source.name == "__init__.py" else source
                link = folder / target.name
                if not link.exists():
                    link.symlink_to(target, target_is_directory=target.is_dir())
            self._runtime_dir = folder
            return folder

    def _unpacked(self, folder: Path, zipped: bytes, what: str) -> Path:
        if folder.is_dir():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=folder.parent))
        try:
            try:
                with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
                    archive.extractall(staging)  # extractall drops absolute and '..' member paths
            except (zipfile.BadZipFile, ValueError) as exc:
                raise CodeError(f"{what} is not a valid zip file: {exc}") from None
            try:
                os.rename(staging, folder)
            except OSError:
                if not folder.is_dir():  # another invocation unpacked it first otherwise
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return folder


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "_"
