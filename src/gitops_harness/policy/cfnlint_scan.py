"""Run cfn-lint in-process (it is our dependency already) over the templates."""

from __future__ import annotations

from pathlib import Path

from gitops_harness.errors import ToolError
from gitops_harness.exports import CheckPass, RuleHelp
from gitops_harness.findings import Finding, Severity
from gitops_harness.policy.outcome import ToolOutcome

TOOL = "cfn-lint"
ALL_RULES_ID = "cfn-lint"  # the testcase id of a template with no match at all
SEVERITIES = {"E": Severity.ERROR, "W": Severity.WARNING}  # I (informational) is not reported
INFORMATION_URI = "https://github.com/aws-cloudformation/cfn-lint"


def run_cfn_lint(templates: list[Path]) -> ToolOutcome:
    # Imported here: cfn-lint takes ~1.5 s to import, which the gate spends while checkov runs.
    from cfnlint.api import ManualArgs, lint_by_config
    from cfnlint.version import __version__ as cfn_lint_version

    outcome = ToolOutcome(tool=TOOL, version=cfn_lint_version, information_uri=INFORMATION_URI)
    if not templates:
        return outcome
    # One runner for all templates: loading cfn-lint's rules costs ~0.8 s, linting a small template ~0.1 s.
    try:
        matches = lint_by_config(ManualArgs(templates=[str(t) for t in templates]))
    except Exception as exc:  # cfn-lint raises arbitrary errors on internal failures
        raise ToolError(f"cfn-lint failed on {', '.join(map(str, templates))}: {exc}") from exc
    by_file: dict[str, list] = {}
    for match in matches:
        by_file.setdefault(str(Path(match.filename)), []).append(match)
    for template in templates:
        reported = [m for m in by_file.get(str(Path(template)), []) if m.rule.id[:1] in SEVERITIES]
        for match in reported:
            outcome.findings.append(
                Finding(
                    file=str(template),
                    location=f"line {match.linenumber}",
                    rule_id=match.rule.id,
                    severity=SEVERITIES[match.rule.id[:1]],
                    message=match.message,
                    source=TOOL,
                )
            )
            outcome.rules.setdefault(
                match.rule.id,
                RuleHelp(
                    title=match.rule.shortdesc,
                    help_text=match.rule.description,
                    help_uri=match.rule.source_url or None,
                ),
            )
        if not reported:
            outcome.passes.append(
                CheckPass(
                    source=TOOL,
                    rule_id=ALL_RULES_ID,
                    file=str(template),
                    location="template",
                    title="all cfn-lint rules",
                )
            )
    return outcome
