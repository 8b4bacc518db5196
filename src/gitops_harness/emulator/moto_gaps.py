"""Operations moto lacks that the reference stacks need, added to moto's own backend and responses
(small, state-only gaps; whole services moto does poorly get a control plane of ours instead).

- Lambda invocation without a Docker engine: moto runs functions in Docker; without one it prints
  to stdout and logs an error per invocation (an SNS subscription invokes the chat notifier on every
  notification). Here the invocation fails at once with one clear reason, logged once.

The functions are installed into moto by `emulator/moto_patches.py` (group "core") while an emulator
runs, and removed by the last one that stops.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)
_NO_DOCKER = "Lambda functions are not run by the embedded AWS without a Docker engine"
_lambda_refusal_logged = False


def refuse_invocation(self: Any, event: str | None = None) -> tuple[str, bool, str]:
    global _lambda_refusal_logged
    if not _lambda_refusal_logged:
        _lambda_refusal_logged = True
        logger.warning("%s: invocations of %s (and any other function) fail", _NO_DOCKER, self.function_name)
    self.logs_backend.ensure_log_group(self.logs_group_name)  # as moto does before it runs a function
    self.save_logs(_NO_DOCKER)
    return _NO_DOCKER, True, ""


def docker_available() -> bool:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return not host.startswith("unix://") or os.path.exists(host.removeprefix("unix://"))
