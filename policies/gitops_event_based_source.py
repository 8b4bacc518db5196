"""CKV_GITOPS_5: CodeCommit source actions are started by an EventBridge rule, not by polling."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckResult

from gitops_cfn import Template, TemplateCheck, action_type, as_list, is_false, pipeline_actions, properties


def has_codecommit_rule_targeting(template: Template, logical_id: str, pipeline: dict[str, Any]) -> bool:
    name = properties(pipeline).get("Name")
    for _id, rule in template.of_type("AWS::Events::Rule"):
        props = properties(rule)
        if template.resolve(props.get("State", "ENABLED")) == "DISABLED":
            continue
        pattern = props.get("EventPattern") or {}
        sources = (
            {template.resolve(s) for s in as_list(pattern.get("source"))}
            if isinstance(pattern, dict)
            else set()
        )
        if "aws.codecommit" not in sources:
            continue
        targets = [t for t in as_list(props.get("Targets")) if isinstance(t, dict)]
        if any(template.points_at(t.get("Arn"), logical_id, name) for t in targets):
            return True
    return False


class EventBasedCodeCommitSource(TemplateCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure CodeCommit source actions set PollForSourceChanges false and an EventBridge rule "
            "(source aws.codecommit) in the template targets the pipeline",
            check_id="CKV_GITOPS_5",
            anchor="ckv_gitops_5",
            resource_types=("AWS::CodePipeline::Pipeline",),
        )

    def scan_in_template(self, template: Template, logical_id: str, resource: dict[str, Any]) -> CheckResult:
        sources = [a for _s, a in pipeline_actions(resource) if action_type(a) == ("Source", "CodeCommit")]
        if not sources:
            return CheckResult.PASSED
        # PollForSourceChanges defaults to true for CodeCommit when omitted.
        polling = [
            a
            for a in sources
            if not is_false(template.resolve((a.get("Configuration") or {}).get("PollForSourceChanges")))
        ]
        if polling or not has_codecommit_rule_targeting(template, logical_id, resource):
            return CheckResult.FAILED
        return CheckResult.PASSED


check = EventBasedCodeCommitSource()
