"""CKV_GITOPS_7: an ECS service that CodeDeploy deploys uses the CODE_DEPLOY deployment controller."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckResult

from gitops_cfn import Template, TemplateCheck, as_list, properties


def deployed_by_codedeploy(template: Template, logical_id: str, service: dict[str, Any]) -> bool:
    name = properties(service).get("ServiceName")
    for _id, group in template.of_type("AWS::CodeDeploy::DeploymentGroup"):
        for entry in as_list(properties(group).get("ECSServices")):
            if isinstance(entry, dict) and template.points_at(entry.get("ServiceName"), logical_id, name):
                return True
    return False


class CodeDeployController(TemplateCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure ECS services deployed by a CodeDeploy deployment group use DeploymentController CODE_DEPLOY",
            check_id="CKV_GITOPS_7",
            anchor="ckv_gitops_7",
            resource_types=("AWS::ECS::Service",),
        )

    def scan_in_template(self, template: Template, logical_id: str, resource: dict[str, Any]) -> CheckResult:
        if not deployed_by_codedeploy(template, logical_id, resource):
            return CheckResult.PASSED
        controller = properties(resource).get("DeploymentController") or {}
        ok = isinstance(controller, dict) and template.resolve(controller.get("Type")) == "CODE_DEPLOY"
        return CheckResult.PASSED if ok else CheckResult.FAILED


check = CodeDeployController()
