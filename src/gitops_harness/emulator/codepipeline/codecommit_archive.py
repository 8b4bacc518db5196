"""Where the CodeCommit source action gets a commit's CODE_ZIP.

The repositories live on disk under the emulator's state folder (emulator/codecommit/repositories.py);
a RepositoryStore opened here sees every repository the CodeCommit plane created, whichever instance
created it. When the CodeCommit plane offers an archive method, switch this one function to it.
"""

from __future__ import annotations

from gitops_harness.emulator.codecommit.repositories import CodeCommitError, RepositoryStore
from gitops_harness.emulator.codepipeline.actions.base import ActionFailed
from gitops_harness.emulator.controlplane import Runtime


def read_archive(runtime: Runtime, account_id: str, region: str, repository: str, commit_id: str) -> bytes:
    try:
        return RepositoryStore(runtime.state_dir).get_archive(account_id, region, repository, commit_id)
    except CodeCommitError as exc:
        raise ActionFailed(f"Could not archive {repository}@{commit_id}: {exc.code}: {exc.message}") from None
