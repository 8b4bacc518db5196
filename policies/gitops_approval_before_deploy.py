"""CKV_GITOPS_1: a Manual approval sits in an earlier stage than every deploy action."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckResult

from gitops_cfn import Template, TemplateCheck, action_type, pipeline_actions

# Providers that change a running environment; S3/AppConfig deploys are out of scope for this pipeline.
DEPLOY_PROVIDERS = {
    "CodeDeployToECS",
    "CodeDeploy",
    "ECS",
    "CloudFormation",
    "CloudFormationStackSet",
    "CloudFormationStackInstances",
}


class ApprovalBeforeDeploy(TemplateCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure a manual approval stage precedes every deploy action of the pipeline",
            check_id="CKV_GITOPS_1",
            anchor="ckv_gitops_1",
            resource_types=("AWS::CodePipeline::Pipeline",),
        )

    def scan_in_template(self, template: Template, logical_id: str, resource: dict[str, Any]) -> CheckResult:
        actions = pipeline_actions(resource)
        approvals = [stage for stage, a in actions if action_type(a) == ("Approval", "Manual")]
        deploys = [
            stage
            for stage, a in actions
            if action_type(a)[0] == "Deploy" and action_type(a)[1] in DEPLOY_PROVIDERS
        ]
        first_approval = min(approvals, default=None)
        # Same-stage approvals do not count: RunOrder is easy to get wrong and a rejected approval
        # in the same stage does not stop parallel actions with the same RunOrder.
        if any(first_approval is None or first_approval >= stage for stage in deploys):
            return CheckResult.FAILED
        return CheckResult.PASSED


check = ApprovalBeforeDeploy()
