"""Where the CodeCommit source action gets a commit's CODE_ZIP: from the CodeCommit plane this
emulator serves (its repositories, under its lock), as CodePipeline gets it from CodeCommit inside AWS.
The action has already read the repository, branch and commit through the front door as its role."""

from __future__ import annotations

from gitops_harness.emulator.codepipeline.actions.base import ActionFailed
from gitops_harness.emulator.controlplane import Runtime
from gitops_harness.emulator.exceptions import ServiceException


def read_archive(runtime: Runtime, account_id: str, region: str, repository: str, commit_id: str) -> bytes:
    codecommit = runtime.planes.get("codecommit")
    if codecommit is None:
        raise ActionFailed(
            f"Could not archive {repository}@{commit_id}: CodeCommit is not served by this emulator"
        )
    try:
        return codecommit.source_archive(account_id, region, repository, commit_id)  # type: ignore[attr-defined]
    except ServiceException as exc:
        raise ActionFailed(f"Could not archive {repository}@{commit_id}: {exc.code}: {exc}") from None
