"""The policy gate's verdict in one glance: a line per tool, then one line per failure."""

from __future__ import annotations

import json
from pathlib import Path

from gitops_harness.exports import line_range
from gitops_harness.findings import Finding, Severity
from gitops_harness.policy.outcome import ToolOutcome

TOOL_LABELS = {"gitops-harness": "suppressions"}


def failure_line(finding: Finding) -> str:
    """file:line resource rule message."""
    lines = line_range(finding.location)
    where = f"{finding.file}:{lines[0]}" if lines else finding.file
    resource = finding.location.split(" (", 1)[0]
    resource = "" if resource.startswith("line") else f" {resource}"
    return f"  {where}{resource} {finding.rule_id} {finding.message}"


def render_summary(outcomes: list[ToolOutcome], templates: list[Path], reports_dir: Path | None) -> str:
    failed = sum(o.failed for o in outcomes)
    verdict = "FAILED" if failed else "OK"
    lines = [f"policy {verdict}: {len(templates)} template(s): {', '.join(str(t) for t in templates)}"]
    for outcome in outcomes:
        label = TOOL_LABELS.get(outcome.tool, outcome.tool)
        extra = f", {outcome.warnings} warning(s)" if outcome.warnings else ""
        lines.append(
            f"  {label:<13} {outcome.passed:>4} passed {outcome.failed:>4} failed "
            f"{outcome.suppressed:>4} suppressed{extra}"
        )
    findings = sorted(
        (f for o in outcomes for f in o.findings), key=lambda f: (f.severity is not Severity.ERROR, f)
    )
    if findings:
        lines.append("failures:" if failed else "warnings:")
        lines += [
            failure_line(f) if f.severity is Severity.ERROR else failure_line(f) + " (warning)"
            for f in findings
        ]
    if reports_dir is not None:
        lines.append(f"reports: {reports_dir}/junit.xml, results.sarif, gl-sast-report.json")
    return "\n".join(lines)


def render_summary_json(outcomes: list[ToolOutcome], templates: list[Path]) -> str:
    return json.dumps(
        {
            "passed": not any(o.failed for o in outcomes),
            "templates": [str(t) for t in templates],
            "tools": {
                o.tool: {
                    "passed": o.passed,
                    "failed": o.failed,
                    "warnings": o.warnings,
                    "suppressed": o.suppressed,
                }
                for o in outcomes
            },
            "findings": [f.to_dict() for o in outcomes for f in sorted(o.findings)],
        },
        indent=2,
    )
