"""The policy gate's verdict in one glance: a line per tool, then one line per failure."""

from __future__ import annotations

import json
from pathlib import Path

from gitops_harness.exports import line_range
from gitops_harness.findings import Finding, Severity
from gitops_harness.policy.outcome import ToolOutcome
from gitops_harness.policy.templates import TemplateSet


def failure_line(finding: Finding) -> str:
    """file:line resource rule message."""
    lines = line_range(finding.location)
    where = f"{finding.file}:{lines[0]}" if lines else finding.file
    resource = finding.location.split(" (", 1)[0]
    resource = "" if resource.startswith("line") else f" {resource}"
    return f"  {where}{resource} {finding.rule_id} {finding.message}"


def render_summary(outcomes: list[ToolOutcome], found: TemplateSet, reports_dir: Path | None) -> str:
    failed = sum(o.failed for o in outcomes)
    verdict = "FAILED" if failed else "OK"
    checked = found.checked
    broken = f" ({len(found.broken)} cannot be parsed)" if found.broken else ""
    lines = [f"policy {verdict}: {len(checked)} template(s){broken}: {', '.join(str(t) for t in checked)}"]
    if found.skipped:
        lines.append(f"  skipped, not templates: {', '.join(str(p) for p in found.skipped)}")
    for outcome in outcomes:
        label = outcome.tool
        extra = f", {outcome.warnings} warning(s)" if outcome.warnings else ""
        lines.append(
            f"  {label:<14} {outcome.passed:>4} passed {outcome.failed:>4} failed "
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


def render_summary_json(outcomes: list[ToolOutcome], found: TemplateSet) -> str:
    return json.dumps(
        {
            "passed": not any(o.failed for o in outcomes),
            "templates": [str(t) for t in found.checked],
            "skipped": [str(p) for p in found.skipped],
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
