"""CKV_GITOPS_9: every ECS container definition sends its logs somewhere (LogConfiguration.LogDriver)."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult

from gitops_cfn import Template, TemplateCheck, as_list, properties


class ContainerLogging(TemplateCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure every ECS container definition has a LogConfiguration with a log driver",
            check_id="CKV_GITOPS_9",
            anchor="ckv_gitops_9",
            resource_types=("AWS::ECS::TaskDefinition",),
            category=CheckCategories.LOGGING,
        )

    def scan_in_template(self, template: Template, logical_id: str, resource: dict[str, Any]) -> CheckResult:
        containers = [
            c for c in as_list(properties(resource).get("ContainerDefinitions")) if isinstance(c, dict)
        ]
        for container in containers:
            log = container.get("LogConfiguration")
            if not isinstance(log, dict) or not template.resolve(log.get("LogDriver")):
                return CheckResult.FAILED
        return CheckResult.PASSED


check = ContainerLogging()
