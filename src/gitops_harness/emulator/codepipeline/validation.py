"""The semantic rules CreatePipeline/UpdatePipeline enforce beyond the model's shape checks.

Each rule raises the error code AWS answers (InvalidStructureException for the pipeline's shape,
InvalidActionDeclarationException for an action's configuration) with a message naming the stage,
action or artifact so a person can fix the declaration.
"""

from __future__ import annotations

import itertools
from typing import Any

from gitops_harness.emulator.common.buckets import bucket_owner
from gitops_harness.emulator.exceptions import ModeledErrors

errors = ModeledErrors("codepipeline")

# Required configuration keys of the action types the engine runs (AWS action structure reference).
REQUIRED_CONFIGURATION: dict[tuple[str, str], tuple[str, ...]] = {
    ("Source", "CodeCommit"): ("RepositoryName", "BranchName"),
    ("Source", "S3"): ("S3Bucket", "S3ObjectKey"),
    ("Build", "CodeBuild"): ("ProjectName",),
    ("Test", "CodeBuild"): ("ProjectName",),
    ("Approval", "Manual"): (),
    ("Deploy", "CodeDeployToECS"): (
        "ApplicationName",
        "DeploymentGroupName",
        "TaskDefinitionTemplateArtifact",
        "AppSpecTemplateArtifact",
    ),
}
# (min, max) input and output artifacts per action type
ARTIFACT_LIMITS: dict[tuple[str, str], tuple[tuple[int, int], tuple[int, int]]] = {
    ("Source", "CodeCommit"): ((0, 0), (1, 1)),
    ("Source", "S3"): ((0, 0), (1, 1)),
    ("Build", "CodeBuild"): ((1, 5), (0, 5)),
    ("Test", "CodeBuild"): ((1, 5), (0, 5)),
    ("Approval", "Manual"): ((0, 0), (0, 0)),
    ("Deploy", "CodeDeployToECS"): ((1, 3), (0, 0)),
}


def validate_declaration(pipeline: dict[str, Any]) -> None:
    """Raise the AWS error for the first rule `pipeline` (a PipelineDeclaration) breaks."""
    has_store = bool(pipeline.get("artifactStore"))
    has_stores = bool(pipeline.get("artifactStores"))
    if has_store == has_stores:
        raise errors.InvalidStructureException(
            "Pipeline must have either artifactStore or artifactStores, but not both"
            if has_store
            else "Pipeline is missing an artifact store: set artifactStore (type S3, location = bucket name)"
        )
    pipeline_type = pipeline.get("pipelineType") or "V1"
    mode = pipeline.get("executionMode") or "SUPERSEDED"
    if pipeline_type == "V1" and mode != "SUPERSEDED":
        raise errors.InvalidStructureException(
            f"Execution mode {mode} is only supported for pipelines of type V2"
        )
    stages = pipeline.get("stages") or []
    if len(stages) < 2:
        raise errors.InvalidStructureException("Pipeline must contain at least two stages")

    stage_names: set[str] = set()
    namespaces: set[str] = set()
    produced: dict[str, str] = {}  # artifact name -> "stage/action" that outputs it
    for index, stage in enumerate(stages):
        name = stage["name"]
        if name in stage_names:
            raise errors.InvalidStructureException(
                f"Stage name '{name}' is used more than once in the pipeline"
            )
        stage_names.add(name)
        actions = stage.get("actions") or []
        if not actions:
            raise errors.InvalidStructureException(f"Stage '{name}' must contain at least one action")
        action_names: set[str] = set()
        # inputs may come from earlier stages or from actions of a lower runOrder in this stage: a
        # runOrder's outputs become available once the whole runOrder is validated (not to its peers)
        ordered = sorted(actions, key=lambda a: a.get("runOrder") or 1)
        for _, group in itertools.groupby(ordered, key=lambda a: a.get("runOrder") or 1):
            run = list(group)
            for action in run:
                _validate_action(pipeline, index, name, action, action_names, namespaces, produced)
            for action in run:
                for output in action.get("outputArtifacts") or []:
                    produced.setdefault(output["name"], f"{name}/{action['name']}")


def _validate_action(
    pipeline: dict[str, Any],
    index: int,
    stage: str,
    action: dict[str, Any],
    action_names: set[str],
    namespaces: set[str],
    produced: dict[str, str],
) -> None:
    name = action["name"]
    if name in action_names:
        raise errors.InvalidStructureException(
            f"Action name '{name}' is used more than once in stage '{stage}'"
        )
    action_names.add(name)
    type_id = action["actionTypeId"]
    category, provider = type_id["category"], type_id["provider"]
    if index == 0 and category != "Source":
        raise errors.InvalidStructureException(
            f"Stage '{stage}' is the first stage: it must contain only source actions, "
            f"but action '{name}' is a {category} action"
        )
    if index > 0 and category == "Source":
        raise errors.InvalidStructureException(
            f"Source action '{name}' is in stage '{stage}': source actions are allowed only in the first stage"
        )
    namespace = action.get("namespace")
    if namespace:
        if namespace in namespaces or namespace in ("codepipeline", "variables"):
            raise errors.InvalidStructureException(
                f"Namespace '{namespace}' of action '{name}' is already used in the pipeline"
            )
        namespaces.add(namespace)

    inputs = [a["name"] for a in action.get("inputArtifacts") or []]
    outputs = [a["name"] for a in action.get("outputArtifacts") or []]
    for artifact in inputs:
        if artifact not in produced:
            raise errors.InvalidStructureException(
                f"Input artifact '{artifact}' of action '{name}' in stage '{stage}' is not the output "
                "artifact of any action that runs before it"
            )
    for artifact in outputs:
        if artifact in produced or outputs.count(artifact) > 1:
            raise errors.InvalidStructureException(
                f"Output artifact name '{artifact}' of action '{name}' in stage '{stage}' is already used: "
                "output artifact names must be unique in the pipeline"
            )

    key = (category, provider)
    limits = ARTIFACT_LIMITS.get(key)
    if limits is not None:
        (in_min, in_max), (out_min, out_max) = limits
        if not in_min <= len(inputs) <= in_max:
            raise errors.InvalidStructureException(
                f"Action '{name}' in stage '{stage}' has {len(inputs)} input artifacts; "
                f"{provider} {category} actions take {in_min} to {in_max}"
            )
        if not out_min <= len(outputs) <= out_max:
            raise errors.InvalidStructureException(
                f"Action '{name}' in stage '{stage}' has {len(outputs)} output artifacts; "
                f"{provider} {category} actions produce {out_min} to {out_max}"
            )
    configuration = action.get("configuration") or {}
    for required in REQUIRED_CONFIGURATION.get(key, ()):
        if not configuration.get(required):
            raise errors.InvalidActionDeclarationException(
                f"Action configuration for action '{name}' is missing required configuration '{required}'"
            )
    if key == ("Deploy", "CodeDeployToECS"):
        for setting in ("TaskDefinitionTemplateArtifact", "AppSpecTemplateArtifact", "Image1ArtifactName"):
            value = configuration.get(setting)
            if value and value not in inputs:
                raise errors.InvalidActionDeclarationException(
                    f"Action '{name}': {setting} '{value}' must be one of the action's input artifacts"
                )


def validate_artifact_buckets(pipeline: dict[str, Any]) -> None:
    """CodePipeline checks the artifact store's bucket when a pipeline is created or updated, and
    refuses one that does not exist (CloudFormation then reports "An error occurred while validating
    the artifact bucket '<name>'")."""
    stores = [pipeline["artifactStore"]] if pipeline.get("artifactStore") else []
    stores += list((pipeline.get("artifactStores") or {}).values())
    for store in stores:
        if store.get("type", "S3") == "S3" and bucket_owner(store["location"]) is None:
            raise errors.InvalidStructureException(
                f"An error occurred while validating the artifact bucket '{store['location']}'"
            )
