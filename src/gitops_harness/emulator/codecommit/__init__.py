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

from .credentials import CredentialStore, GitPrincipal
from .events import reference_events, routing_publisher
from .git_http import CodeCommitGitApp, is_git_path
from .models import (
    RefChange,
    RepositoryStore,
    aws_clone_url_http,
    insteadof_config,
    local_clone_url,
)

__all__ = [
    "CodeCommitGitApp",
    "CredentialStore",
    "GitPrincipal",
    "RefChange",
    "RepositoryStore",
    "aws_clone_url_http",
    "insteadof_config",
    "is_git_path",
    "local_clone_url",
    "reference_events",
    "routing_publisher",
]
