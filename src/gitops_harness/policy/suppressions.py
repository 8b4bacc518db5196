"""Our rule on checkov suppressions: every skip says why (GITOPS_SUPPRESSION_REASON).

Read from the templates themselves rather than from checkov's report, because checkov fills a
missing comment with a placeholder text and reports skips only for checks that ran.
"""

from __future__ import annotations

import re
from pathlib import Path

from gitops_harness.cfn_template import line_of, load_template
from gitops_harness.exports import CheckPass, RuleHelp
from gitops_harness.findings import Finding, Severity
from gitops_harness.policy.outcome import ToolOutcome, resource_location

TOOL = "gitops-harness"
RULE_ID = "GITOPS_SUPPRESSION_REASON"
RULE = RuleHelp(
    title="Every checkov suppression states why the finding is acceptable",
    help_text="Add `comment: <why this is acceptable here>` to the skip entry in the resource's "
    "Metadata (checkov: skip:), or `:<reason>` after an inline `checkov:skip=<id>` comment.",
    help_uri="docs/policy-checks.md#gitops_suppression_reason",
)
INLINE_SKIP = re.compile(r"(?:checkov|bridgecrew):skip=\s*([A-Za-z_\d,-]+)(?::(.*))?")


def check_suppressions(templates: list[Path], outcome: ToolOutcome | None = None) -> ToolOutcome:
    """Judge every skip in the templates, into `outcome` (our own tool's) when given."""
    outcome = outcome or ToolOutcome(tool=TOOL)
    outcome.rules[RULE_ID] = RULE
    for template in templates:
        for logical_id, resource in load_template(template)["Resources"].items():
            metadata = resource.get("Metadata") if isinstance(resource, dict) else None
            for tool_key in ("checkov", "bridgecrew"):
                skips = (metadata or {}).get(tool_key, {}) if isinstance(metadata, dict) else {}
                for skip in (skips.get("skip") or []) if isinstance(skips, dict) else []:
                    if not isinstance(skip, dict):
                        continue
                    line = line_of(skip) or line_of(resource)
                    check_id = str(skip.get("id"))
                    location = f"{resource_location(logical_id, line)} skip {check_id}"
                    _judge(outcome, template, location, check_id, skip.get("comment"))
        for number, text in enumerate(template.read_text(encoding="utf-8").splitlines(), start=1):
            match = INLINE_SKIP.search(text)
            if match:
                _judge(
                    outcome, template, f"line {number} skip {match.group(1)}", match.group(1), match.group(2)
                )
    return outcome


def _judge(outcome: ToolOutcome, template: Path, location: str, check_id: str, comment: object) -> None:
    reason = str(comment).strip() if comment is not None else ""
    if reason:
        outcome.passes.append(
            CheckPass(
                source=TOOL,
                rule_id=RULE_ID,
                file=str(template),
                location=location,
                title=RULE.title,
            )
        )
    else:
        outcome.findings.append(
            Finding(
                file=str(template),
                location=location,
                rule_id=RULE_ID,
                severity=Severity.ERROR,
                message=f"suppression of {check_id} has no reason; add `comment: <why this is acceptable>`",
                source=TOOL,
            )
        )
