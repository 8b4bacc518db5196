"""`gitops-harness policy`: the merge-request policy gate over the pipeline's CloudFormation.

cfn-lint (in-process) and checkov with our custom checks (subprocess, isolated environment), plus
the rule that every suppression states its reason. A template that cannot be parsed is a finding
and the others are still checked. Exit 0 when nothing unsuppressed fails, 1 when something does
(a broken template included), 2 when a path does not exist or holds nothing that could be a
template, 3 when checkov cannot be set up or run.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gitops_harness import __version__
from gitops_harness.config import load_config
from gitops_harness.errors import EXIT_FINDINGS, EXIT_OK, InputError, ToolError
from gitops_harness.exports import (
    CheckPass,
    RuleHelp,
    check_case,
    gitlab_sast_report,
    junit_xml,
    project_information_uri,
    sarif_log,
)
from gitops_harness.findings import Finding, Severity
from gitops_harness.policy import cfnlint_scan
from gitops_harness.policy.cfnlint_scan import run_cfn_lint
from gitops_harness.policy.checkov_scan import run_checkov
from gitops_harness.policy.outcome import ToolOutcome
from gitops_harness.policy.summary import render_summary, render_summary_json
from gitops_harness.policy.suppressions import TOOL as OWN_TOOL
from gitops_harness.policy.suppressions import check_suppressions
from gitops_harness.policy.templates import TemplateSet, discover_templates, finish_parsing

PARSE_RULE_ID = "GITOPS_TEMPLATE_PARSE"
PARSE_RULE = RuleHelp(
    title="The template can be parsed as CloudFormation",
    help_text="Fix the file at the line named: valid YAML or JSON in UTF-8, no duplicate keys, only "
    "CloudFormation's short-form tags, a Resources mapping, at most 1 MB.",
    help_uri="docs/policy-checks.md#gitops_template_parse",
)

# Defaults come from harness.yaml's policy section (paths, checks_dir, output_dir); the command line wins.


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "policy",
        help="policy gate: cfn-lint + checkov (with the custom checks) over the pipeline templates",
        description="Run cfn-lint and checkov (built-in and custom checks) over CloudFormation templates. "
        "Exit codes: 0 no unsuppressed failure, 1 failures, 2 unreadable input, 3 checkov unavailable.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="templates or directories (default: policy.paths in harness.yaml)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        help="where junit.xml, results.sarif and gl-sast-report.json go (default: policy.output_dir)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="stdout format")
    parser.add_argument(
        "--policies-dir",
        type=Path,
        help="directory of custom checkov checks (default: policy.checks_dir in harness.yaml)",
    )
    parser.add_argument("--config", type=Path, help="harness.yaml to take the defaults from")
    parser.add_argument("--skip-cfn-lint", action="store_true", help="do not run cfn-lint")
    parser.add_argument("--skip-checkov", action="store_true", help="do not run checkov")
    parser.set_defaults(func=run)


@dataclass
class PolicyRun:
    """What the gate saw: the template set and one outcome per tool that ran."""

    found: TemplateSet
    outcomes: list[ToolOutcome] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(o.failed for o in self.outcomes)


def _templates_outcome(found: TemplateSet, root: Path) -> ToolOutcome:
    """Our own tool's outcome: one check per template (parsed or not), suppressions are added later."""
    outcome = ToolOutcome(
        tool=OWN_TOOL,
        version=__version__,
        information_uri=project_information_uri(root),
        rules={PARSE_RULE_ID: PARSE_RULE},
    )
    for template in found.templates:
        outcome.passes.append(CheckPass(OWN_TOOL, PARSE_RULE_ID, str(template), "", title=PARSE_RULE.title))
    for broken in found.broken:
        outcome.findings.append(
            Finding(
                str(broken.path),
                f"line {broken.line}",
                PARSE_RULE_ID,
                Severity.ERROR,
                f"cannot parse template: {broken.reason}",
                OWN_TOOL,
            )
        )
    return outcome


def run_policy(
    paths: list[str],
    policies_dir: Path,
    *,
    cfn_lint: bool = True,
    checkov: bool = True,
    root: Path | None = None,
) -> PolicyRun:
    """checkov (a subprocess) starts as soon as the cheap checks pass, and runs while cfn-lint is
    imported, the templates are parsed and cfn-lint (in-process) lints them."""
    prechecked = discover_templates(paths, parse=False)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkov") as pool:
        early = prechecked.templates if checkov else []
        checkov_future = pool.submit(run_checkov, early, policies_dir) if early else None
        found = finish_parsing(prechecked)
        run = PolicyRun(found)
        own = _templates_outcome(found, root or Path.cwd())
        if cfn_lint and found.templates:
            run.outcomes.append(run_cfn_lint(found.templates))
        if checkov and found.templates:
            check_suppressions(found.templates, own)
        checkov_outcome = _checkov_on_parsed(checkov_future, found, policies_dir) if checkov_future else None
    if checkov_outcome is not None:
        run.outcomes.insert(0, checkov_outcome)
    run.outcomes.insert(1 if checkov_outcome is not None else 0, own)
    return run


def _checkov_on_parsed(
    future: Future[ToolOutcome], found: TemplateSet, policies_dir: Path
) -> ToolOutcome | None:
    """checkov's outcome on the templates that parsed. It started before the full parse: a template
    found broken since then may have made it fail (run it again without) or left results (drop them)."""
    try:
        outcome = future.result()
    except ToolError:
        if not found.broken:
            raise
        if not found.templates:
            return None  # nothing left to check: checkov did not run
        outcome = run_checkov(found.templates, policies_dir)
    broken = {b.path.resolve() for b in found.broken}
    outcome.findings = [f for f in outcome.findings if Path(f.file).resolve() not in broken]
    outcome.passes = [p for p in outcome.passes if Path(p.file).resolve() not in broken]
    return outcome


def policy_case(source: str, rule_id: str, file: str, location: str) -> tuple[str, str]:
    """JUnit test case ids: cfn-lint has hundreds of rules, so its check is the whole template
    (passing and failing under one name); the other tools' checks are per rule x resource."""
    if source == cfnlint_scan.TOOL:
        return cfnlint_scan.TOOL, f"{cfnlint_scan.ALL_RULES_ID} {file}"
    return check_case(source, rule_id, file, location)


REPORT_NAMES = ("junit.xml", "results.sarif", "gl-sast-report.json")


def remove_old_reports(output_dir: Path) -> None:
    """A run that stops on bad input (exit 2) must not leave the last run's reports looking current."""
    for name in REPORT_NAMES:
        if (output_dir / name).is_file():
            try:
                (output_dir / name).unlink()
            except OSError as exc:
                raise InputError(
                    f"{output_dir / name}: cannot remove the old report: {exc.strerror}"
                ) from None


def write_reports(
    outcomes: list[ToolOutcome],
    output_dir: Path,
    started: datetime,
    ended: datetime,
    root: Path | None = None,
) -> None:
    findings = [f for o in outcomes for f in o.findings]
    passes = [p for o in outcomes for p in o.passes]
    rules: dict[str, RuleHelp] = {k: v for o in outcomes for k, v in o.rules.items()}
    root = root or Path.cwd()
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "junit.xml").write_text(
            junit_xml(findings, passes, case_key=policy_case), encoding="utf-8"
        )
        sarif = sarif_log(findings, rules, tools=[o.info() for o in outcomes], root=root)
        (output_dir / "results.sarif").write_text(json.dumps(sarif, indent=2), encoding="utf-8")
        sast = gitlab_sast_report(findings, rules, start_time=started, end_time=ended, root=root)
        (output_dir / "gl-sast-report.json").write_text(json.dumps(sast, indent=2), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{output_dir}: cannot write reports: {exc.strerror}") from exc


def run(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    config = load_config(args.config)
    settings = config.policy
    output_dir = args.output_dir or settings.output_dir
    remove_old_reports(output_dir)
    policy = run_policy(
        args.paths or [str(p) for p in settings.paths],
        args.policies_dir or settings.checks_dir,
        cfn_lint=not args.skip_cfn_lint,
        checkov=not args.skip_checkov,
        root=config.root,
    )
    write_reports(policy.outcomes, output_dir, started, datetime.now(UTC), root=config.root)
    if args.format == "json":
        print(render_summary_json(policy.outcomes, policy.found))
    else:
        print(render_summary(policy.outcomes, policy.found, output_dir))
    return EXIT_FINDINGS if policy.failed else EXIT_OK
