"""Action types the engine runs, one module each, keyed by (category, owner, provider).

An action is a generator function taking an ActionContext: it yields Sleep/WaitFor like any scheduler
job, returns an ActionOutcome when it succeeds and raises ActionFailed when it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from gitops_harness.emulator.codepipeline.actions import (
    approval_manual,
    build_codebuild,
    deploy_codedeploy_ecs,
    source_codecommit,
    source_s3,
)
from gitops_harness.emulator.codepipeline.actions.base import ActionContext, ActionFailed, ActionOutcome

ActionRunner = Callable[[ActionContext], Generator[Any, Any, ActionOutcome]]

ACTION_RUNNERS: dict[tuple[str, str, str], ActionRunner] = {
    ("Source", "AWS", "CodeCommit"): source_codecommit.run,
    ("Source", "AWS", "S3"): source_s3.run,
    ("Build", "AWS", "CodeBuild"): build_codebuild.run,
    ("Test", "AWS", "CodeBuild"): build_codebuild.run,
    ("Approval", "AWS", "Manual"): approval_manual.run,
    ("Deploy", "AWS", "CodeDeployToECS"): deploy_codedeploy_ecs.run,
}

__all__ = ["ACTION_RUNNERS", "ActionContext", "ActionFailed", "ActionOutcome"]
