"""CKV_GITOPS_6: build and deployment outcomes reach people through CodeStar notification rules.

Anchored on each CodeBuild project and CodeDeploy application, so a template with no rule at all
fails instead of passing for lack of a rule to look at. The events may be split across several rules.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckResult

from gitops_cfn import Template, TemplateCheck, as_list, properties

REQUIRED_EVENTS = {
    "AWS::CodeBuild::Project": {
        "codebuild-project-build-state-succeeded",
        "codebuild-project-build-state-failed",
    },
    "AWS::CodeDeploy::Application": {
        "codedeploy-application-deployment-succeeded",
        "codedeploy-application-deployment-failed",
    },
}
NAME_PROPERTY = {"AWS::CodeBuild::Project": "Name", "AWS::CodeDeploy::Application": "ApplicationName"}


class NotificationCoverage(TemplateCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure notification rules cover build succeeded/failed for CodeBuild projects and "
            "deployment succeeded/failed for CodeDeploy applications",
            check_id="CKV_GITOPS_6",
            anchor="ckv_gitops_6",
            resource_types=tuple(REQUIRED_EVENTS),
        )

    def scan_in_template(self, template: Template, logical_id: str, resource: dict[str, Any]) -> CheckResult:
        resource_type = resource["Type"]
        name = properties(resource).get(NAME_PROPERTY[resource_type])
        covered: set[Any] = set()
        for _id, rule in template.of_type("AWS::CodeStarNotifications::NotificationRule"):
            props = properties(rule)
            if template.resolve(props.get("Status", "ENABLED")) == "DISABLED" or not props.get("Targets"):
                continue
            if template.points_at(props.get("Resource"), logical_id, name):
                covered |= {template.resolve(e) for e in as_list(props.get("EventTypeIds"))}
        return CheckResult.PASSED if REQUIRED_EVENTS[resource_type] <= covered else CheckResult.FAILED


check = NotificationCoverage()
