"""CodeCommit source: resolve the commit through CodeCommit's API as the action's role, zip its tree.

The GetBranch/GetCommit calls go through the front door as the action's RoleArn, which proves the role
reaches the repository (in the management account for the reference pipeline). The archive then comes
from the CodeCommit plane this emulator serves (`ctx.source_archive`), as CodePipeline gets it from
CodeCommit inside AWS: no API offers it.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.emulator.codepipeline.actions.base import ActionContext, ActionFailed, ActionOutcome
from gitops_harness.emulator.exceptions import ServiceException


def _iso_date(git_date: str) -> str:
    """CodeCommit's UserInfo.date ("<epoch> +hhmm") as the ISO time the output variables carry."""
    try:
        epoch, _, offset = git_date.partition(" ")
        sign = -1 if offset.startswith("-") else 1
        tz = timezone(sign * timedelta(hours=int(offset[1:3] or 0), minutes=int(offset[3:5] or 0)))
        when = datetime.fromtimestamp(int(epoch), tz)
    except (ValueError, IndexError):
        return git_date
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(ctx: ActionContext) -> Generator[Any, Any, ActionOutcome]:
    config = ctx.configuration
    repository, branch = config["RepositoryName"], config["BranchName"]
    if (config.get("OutputArtifactFormat") or "CODE_ZIP") != "CODE_ZIP":
        raise ActionFailed(
            "OutputArtifactFormat CODEBUILD_CLONE_REF is not supported by the embedded AWS; use CODE_ZIP",
            "ConfigurationError",
        )
    codecommit = ctx.clients("codecommit")
    override = ctx.source_override()
    try:
        metadata = codecommit.get_repository(repositoryName=repository)["repositoryMetadata"]
        if override and override.get("revisionType") == "COMMIT_ID":
            commit_id = override["revisionValue"]
        else:
            commit_id = codecommit.get_branch(repositoryName=repository, branchName=branch)["branch"][
                "commitId"
            ]
        commit = codecommit.get_commit(repositoryName=repository, commitId=commit_id)["commit"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ActionFailed(
            f"Could not access the CodeCommit repository {repository}: {error.get('Code')}: {error.get('Message')}",
            "ConfigurationError"
            if error.get("Code", "").endswith("DoesNotExistException")
            else "PermissionError",
        ) from None
    try:
        archive = ctx.source_archive(metadata["accountId"], ctx.region, repository, commit_id)
    except ServiceException as exc:
        raise ActionFailed(f"Could not archive {repository}@{commit_id}: {exc.code}: {exc}") from None
    ctx.write_output(ctx.output_names[0], archive)
    message = commit.get("message", "").strip()
    url = (
        f"https://{ctx.region}.console.aws.amazon.com/codesuite/codecommit/repositories/{repository}/"
        f"commit/{commit_id}?region={ctx.region}"
    )
    variables = {
        "CommitId": commit_id,
        "CommitMessage": message,
        "AuthorDate": _iso_date(commit.get("author", {}).get("date", "")),
        "CommitterDate": _iso_date(commit.get("committer", {}).get("date", "")),
        "BranchName": branch,
        "RepositoryName": repository,
    }
    return ActionOutcome(
        summary=message[:2048] or None,
        output_variables=variables,
        external_id=commit_id,
        external_url=url,
        revision={"revisionId": commit_id, "revisionSummary": message[:2048], "revisionUrl": url},
    )
    yield  # a generator like every action, though it never waits
