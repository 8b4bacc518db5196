"""The AppSpec of an ECS deployment as CreateDeployment receives it (AppSpecContent or String revisions, YAML
or JSON): one AWS::ECS::Service TargetService with a task definition ARN and LoadBalancerInfo, hooks of the
five ECS hook events. Errors are CodeDeploy's (InvalidRevisionException, RevisionRequiredException)."""

from __future__ import annotations

from typing import Any

import yaml

from gitops_harness.artifacts.appspec import ECS_HOOKS
from gitops_harness.emulator.exceptions import ModeledErrors

errors = ModeledErrors("codedeploy")


def parse_appspec(revision: dict[str, Any]) -> dict[str, Any]:
    """The TargetService properties and hooks of an AppSpecContent/String revision (InvalidRevisionException)."""
    kind = revision.get("revisionType")
    if kind == "AppSpecContent":
        content = (revision.get("appSpecContent") or {}).get("content")
    elif kind == "String":
        content = (revision.get("string") or {}).get("content")
    else:
        raise errors.InvalidRevisionException(
            f"Revision type {kind} is not supported for ECS deployments by the embedded AWS "
            "(use AppSpecContent or String)"
        )
    if not content:
        raise errors.RevisionRequiredException("The AppSpec content is empty")
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise errors.InvalidRevisionException(f"The AppSpec file is not valid YAML or JSON{where}") from None
    try:
        service = data["Resources"][0]["TargetService"]
        properties = service["Properties"]
        lb = properties["LoadBalancerInfo"]
        container, port = lb["ContainerName"], lb["ContainerPort"]
        task_definition = properties["TaskDefinition"]
    except (KeyError, IndexError, TypeError):
        raise errors.InvalidRevisionException(
            "The AppSpec file must have Resources[0].TargetService.Properties with TaskDefinition and "
            "LoadBalancerInfo (ContainerName, ContainerPort)"
        ) from None
    if service.get("Type") != "AWS::ECS::Service":
        raise errors.InvalidRevisionException(
            f"The AppSpec TargetService Type must be AWS::ECS::Service (found {service.get('Type')!r})"
        )
    if not isinstance(container, str) or not isinstance(port, int) or isinstance(port, bool):
        raise errors.InvalidRevisionException(
            "LoadBalancerInfo needs a ContainerName string and a ContainerPort number"
        )
    if not isinstance(task_definition, str) or not task_definition.startswith("arn:"):
        raise errors.InvalidRevisionException(
            f"The AppSpec TaskDefinition must be a task definition ARN (found {task_definition!r})"
        )
    hooks = data.get("Hooks") or []
    if not isinstance(hooks, list) or not all(isinstance(h, dict) for h in hooks):
        raise errors.InvalidRevisionException("The AppSpec Hooks must be a list of {event: function} entries")
    for hook in hooks:
        for event in hook:
            if event not in ECS_HOOKS:
                raise errors.InvalidRevisionException(
                    f"The AppSpec hook {event} is not a lifecycle event of an ECS deployment "
                    f"(valid: {', '.join(ECS_HOOKS)})"
                )
    return {"properties": properties, "hooks": hooks}
