"""CKV_GITOPS_4: a role's trust policy names specific principals.

CKV_AWS_60 already fails Principal {AWS: "*"}; this check covers what it misses: Principal "*",
wildcards inside principal ARNs, and trusting a whole account (root or bare account id) without a
condition that narrows it to named principals (aws:PrincipalArn) or to the organization.
"""

from __future__ import annotations

import re
from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult

from gitops_cfn import Template, TemplateCheck, as_list, properties

NARROWING_CONDITION_KEYS = {"aws:principalarn", "aws:principalorgid", "aws:principalorgpaths"}
WHOLE_ACCOUNT = re.compile(r"^(\d{12}|arn:[^:]+:iam::[^:]+:root)$")


def principal_text(template: Template, value: Any) -> str | None:
    """The principal as text; Fn::Sub keeps its ${...} placeholders, which is enough to see :root."""
    value = template.resolve(value)
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        value = sub[0] if isinstance(sub, list) and sub else sub
    if isinstance(value, dict) and "Fn::Join" in value:
        parts = value["Fn::Join"]
        if isinstance(parts, list) and len(parts) == 2 and isinstance(parts[1], list):
            value = str(parts[0]).join(p if isinstance(p, str) else "${x}" for p in parts[1])
    return value if isinstance(value, str) else None


def narrows_to_named_principals(template: Template, condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for operator in condition.values():
        if not isinstance(operator, dict):
            continue
        for key, values in operator.items():
            texts = [principal_text(template, v) for v in as_list(values)]
            if key.lower() in NARROWING_CONDITION_KEYS and texts and all(t and t != "*" for t in texts):
                return True
    return False


def statement_is_too_broad(template: Template, statement: dict[str, Any]) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    principal = statement.get("Principal")
    if principal_text(template, principal) == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for value in as_list(principal.get("AWS")):
        text = principal_text(template, value)
        if text is None or text == "*":
            continue  # unresolvable (an import), or AWS "*" which CKV_AWS_60 reports
        if "*" in text:
            return True
        is_account = WHOLE_ACCOUNT.match(text) or text.endswith(":root") or re.fullmatch(r"\$\{[^}]+\}", text)
        if is_account and not narrows_to_named_principals(template, statement.get("Condition")):
            return True
    return False


class RestrictedCrossAccountTrust(TemplateCheck):
    def __init__(self) -> None:
        super().__init__(
            name='Ensure role trust policies name specific principals: no Principal "*", no wildcard ARNs, '
            "no whole-account trust without an aws:PrincipalArn/aws:PrincipalOrgID condition",
            check_id="CKV_GITOPS_4",
            anchor="ckv_gitops_4",
            resource_types=("AWS::IAM::Role",),
            category=CheckCategories.IAM,
        )

    def scan_in_template(self, template: Template, logical_id: str, resource: dict[str, Any]) -> CheckResult:
        document = properties(resource).get("AssumeRolePolicyDocument")
        statements = as_list(document.get("Statement")) if isinstance(document, dict) else []
        if any(isinstance(s, dict) and statement_is_too_broad(template, s) for s in statements):
            return CheckResult.FAILED
        return CheckResult.PASSED


check = RestrictedCrossAccountTrust()
