"""CKV_GITOPS_2: ECS deployment groups shift traffic blue/green and roll back on failure and alarms."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckResult

from gitops_cfn import Template, TemplateCheck, action_type, as_list, is_true, pipeline_actions, properties

REQUIRED_ROLLBACK_EVENTS = {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"}


def deployed_by_codedeploy_to_ecs(template: Template, logical_id: str, group: dict[str, Any]) -> bool:
    name = properties(group).get("DeploymentGroupName")
    for _id, pipeline in template.of_type("AWS::CodePipeline::Pipeline"):
        for _stage, action in pipeline_actions(pipeline):
            if action_type(action)[1] == "CodeDeployToECS":
                target = (action.get("Configuration") or {}).get("DeploymentGroupName")
                if template.points_at(target, logical_id, name):
                    return True
    return False


class BlueGreenWithRollback(TemplateCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure ECS deployment groups are BLUE_GREEN with traffic control, alarms and auto "
            "rollback on DEPLOYMENT_FAILURE and DEPLOYMENT_STOP_ON_ALARM",
            check_id="CKV_GITOPS_2",
            anchor="ckv_gitops_2",
            resource_types=("AWS::CodeDeploy::DeploymentGroup",),
        )

    def scan_in_template(self, template: Template, logical_id: str, resource: dict[str, Any]) -> CheckResult:
        props = properties(resource)
        # Applies to ECS groups: those with ECSServices, or the target of a CodeDeployToECS action.
        if not props.get("ECSServices") and not deployed_by_codedeploy_to_ecs(template, logical_id, resource):
            return CheckResult.PASSED
        style = props.get("DeploymentStyle") or {}
        rollback = props.get("AutoRollbackConfiguration") or {}
        alarms = props.get("AlarmConfiguration") or {}
        ok = (
            template.resolve(style.get("DeploymentType")) == "BLUE_GREEN"
            and template.resolve(style.get("DeploymentOption")) == "WITH_TRAFFIC_CONTROL"
            and is_true(template.resolve(rollback.get("Enabled")))
            and {template.resolve(e) for e in as_list(rollback.get("Events"))} >= REQUIRED_ROLLBACK_EVENTS
            and is_true(template.resolve(alarms.get("Enabled", True)))
            and bool(as_list(alarms.get("Alarms")))
        )
        return CheckResult.PASSED if ok else CheckResult.FAILED


check = BlueGreenWithRollback()
