"""`gitops-harness policy`: the merge-request policy gate over the pipeline's CloudFormation.

cfn-lint (in-process) and checkov with our custom checks (subprocess, isolated environment), plus
the rule that every suppression states its reason. Exit 0 when nothing unsuppressed fails, 1 when
something does, 2 for unreadable input, 3 when checkov cannot be set up or run.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from gitops_harness.config import load_config
from gitops_harness.errors import EXIT_FINDINGS, EXIT_OK, InputError
from gitops_harness.exports import RuleHelp, gitlab_sast_report, junit_xml, sarif_log
from gitops_harness.policy.cfnlint_scan import run_cfn_lint
from gitops_harness.policy.checkov_scan import run_checkov
from gitops_harness.policy.outcome import ToolOutcome
from gitops_harness.policy.summary import render_summary, render_summary_json
from gitops_harness.policy.suppressions import check_suppressions
from gitops_harness.policy.templates import discover_templates

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


def run_policy(
    paths: list[str], policies_dir: Path, *, cfn_lint: bool = True, checkov: bool = True
) -> tuple[list[Path], list[ToolOutcome]]:
    templates = discover_templates(paths)
    outcomes = []
    if checkov:
        outcomes.append(run_checkov(templates, policies_dir))
        outcomes.append(check_suppressions(templates))
    if cfn_lint:
        outcomes.append(run_cfn_lint(templates))
    return templates, outcomes


def write_reports(outcomes: list[ToolOutcome], output_dir: Path, started: datetime, ended: datetime) -> None:
    findings = [f for o in outcomes for f in o.findings]
    passes = [p for o in outcomes for p in o.passes]
    rules: dict[str, RuleHelp] = {k: v for o in outcomes for k, v in o.rules.items()}
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "junit.xml").write_text(junit_xml(findings, passes), encoding="utf-8")
        (output_dir / "results.sarif").write_text(
            json.dumps(sarif_log(findings, rules), indent=2), encoding="utf-8"
        )
        sast = gitlab_sast_report(findings, rules, start_time=started, end_time=ended)
        (output_dir / "gl-sast-report.json").write_text(json.dumps(sast, indent=2), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{output_dir}: cannot write reports: {exc.strerror}") from exc


def run(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    settings = load_config(args.config).policy
    output_dir = args.output_dir or settings.output_dir
    templates, outcomes = run_policy(
        args.paths or [str(p) for p in settings.paths],
        args.policies_dir or settings.checks_dir,
        cfn_lint=not args.skip_cfn_lint,
        checkov=not args.skip_checkov,
    )
    write_reports(outcomes, output_dir, started, datetime.now(UTC))
    if args.format == "json":
        print(render_summary_json(outcomes, templates))
    else:
        print(render_summary(outcomes, templates, output_dir))
    return EXIT_FINDINGS if any(o.failed for o in outcomes) else EXIT_OK
