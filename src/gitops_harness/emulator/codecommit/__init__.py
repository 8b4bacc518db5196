"""CodeCommit's git side for the embedded AWS.

- ``models``: bare git repositories on disk per (account, region, name) and the API's metadata.
- ``credentials``: HTTPS Git credentials (IAM service-specific credentials; moto lacks them).
- ``authorization``: codecommit:GitPull / GitPush from the user's IAM policies in moto.
- ``git_http``: the smart HTTP WSGI app (``/v1/repos/<name>``) with auth and post-push events.
- ``events``: "CodeCommit Repository State Change" events, published with common.events.
- ``plane``: the CodeCommit API handlers.

The CodeCommit control plane plugs in ``RepositoryStore``; the front door routes paths for which
``is_git_path`` is true to ``CodeCommitGitApp`` and IAM's *ServiceSpecificCredential operations to
``CredentialStore``.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the submodule defining it; imported on first use (PEP 562), so that importing one submodule
# (authorization, for IAM enforcement) does not load dulwich and the git endpoint at the emulator's start.
_EXPORTS = {
    "CodeCommitGitApp": "git_http",
    "CredentialStore": "credentials",
    "GitPrincipal": "credentials",
    "RefChange": "models",
    "RepositoryStore": "models",
    "aws_clone_url_http": "models",
    "insteadof_config": "models",
    "is_git_path": "git_http",
    "local_clone_url": "models",
    "reference_events": "events",
    "routing_publisher": "events",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
