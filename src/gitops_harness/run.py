"""`gitops-harness run`: the main job. Runs every layer the harness has on the configured pipeline and
prints one report: the static layer (policy gate over the templates, deploy-artifact correctness),
then the pipeline layer on a target (deploy the stacks, push through the mirror, follow the commit
to the approval, approve) with the run's timeline."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

from gitops_harness.artifacts.validate import validate_directory
from gitops_harness.config import TARGETS, HarnessConfig, load_config
from gitops_harness.errors import EXIT_FINDINGS, EXIT_OK, InputError
from gitops_harness.findings import Severity, count
from gitops_harness.pipeline_layer import NO_GITLAB, gitlab_configured, pipeline_verdicts
from gitops_harness.policy.command import run_policy, write_reports
from gitops_harness.report import RunReport, Verdict
from gitops_harness.targets import check_available


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="the main job: run the harness on the pipeline in harness.yaml and print the report",
        description="Run the policy gate and the artifact checks on the pipeline that harness.yaml names, "
        "and print one report. Exit codes: 0 all verdicts pass, 1 a verdict failed, 2 bad config or "
        "unreadable input, 3 a tool could not run.",
    )
    parser.add_argument(
        "--config", type=Path, help="harness.yaml to use (default: found from the current folder)"
    )
    parser.add_argument(
        "--target", choices=TARGETS, help="where the pipeline layer runs (default: targets.default)"
    )
    parser.add_argument(
        "--static-only", action="store_true", help="skip the pipeline layer (no target needed)"
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="print only the outcome line and one line per failed verdict; no progress, no library warnings",
    )
    parser.set_defaults(func=run)


def policy_verdicts(config: HarnessConfig) -> list[Verdict]:
    started = datetime.now(UTC)
    outcomes = run_policy(
        [str(p) for p in config.policy.paths], config.policy.checks_dir, root=config.root
    ).outcomes
    write_reports(outcomes, config.policy.output_dir, started, datetime.now(UTC), root=config.root)
    junit = _shown(config.policy.output_dir / "junit.xml", config)
    verdicts = []
    for outcome in outcomes:
        first = next((f for f in outcome.findings if f.severity is Severity.ERROR), None)
        detail = (
            f"{outcome.passed} passed, {outcome.failed} failed, {outcome.suppressed} suppressed with a reason"
        )
        verdicts.append(
            Verdict(
                area="policy",
                assertion=f"{outcome.tool}: no unsuppressed failure in the pipeline templates",
                passed=outcome.failed == 0,
                detail=detail,
                where_to_look=f"{first.one_line()} (all: {junit})" if first else junit,
            )
        )
    return verdicts


def artifact_verdict(config: HarnessConfig) -> Verdict:
    findings = validate_directory(config.app_dir, config.templates.pipeline)
    errors, warnings = count(findings, Severity.ERROR), count(findings, Severity.WARNING)
    first = next((f for f in findings if f.severity is Severity.ERROR), None)
    # The buildspec rules (BSnnn) run in the same pass: say how much of the verdict they are.
    buildspec = [f for f in findings if f.rule_id.startswith("BS")]
    return Verdict(
        area="artifacts",
        assertion=f"{_shown(config.app_dir, config)}: taskdef, appspec and buildspec agree with the deploy "
        "action, and the buildspec's commands export what it reads",
        passed=errors == 0,
        detail=f"{errors} error(s), {warnings} warning(s); buildspec rules: "
        f"{count(buildspec, Severity.ERROR)} error(s), {count(buildspec, Severity.WARNING)} warning(s)",
        where_to_look=first.one_line() if first else "",
    )


def quiet_logs() -> None:
    """--quiet: the libraries' warnings (moto, werkzeug, the emulator's own loggers, which print through
    logging's last-resort handler) stay off stderr too; errors still show."""
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")


def check_inputs(config: HarnessConfig) -> None:
    """Every file and folder the config names exists: a missing one is bad input (exit 2), found
    before any layer runs, not a failed verdict."""
    named = [
        ("pipeline.templates.management", config.templates.management, "file"),
        ("pipeline.templates.pipeline", config.templates.pipeline, "file"),
        ("app.dir", config.app_dir, "folder"),
        *(("policy.paths[]", p, "file or folder") for p in config.policy.paths),
    ]
    for key, path, kind in named:
        exists = path.is_dir() if kind == "folder" else path.is_file() if kind == "file" else path.exists()
        if not exists:
            raise InputError(
                f"{config.path or 'harness.yaml'}: {key}: {_shown(path, config)} is not a {kind}"
            )


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    check_inputs(config)
    if not args.static_only:
        check_available(config, args.target)
    started = time.perf_counter()
    if args.quiet:
        quiet_logs()

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    layers = (
        "static layer"
        if args.static_only
        else f"static layer + pipeline on {args.target or config.default_target}"
    )
    report = RunReport(title=f"gitops-harness run: {config.project} ({layers})")
    progress("policy gate: cfn-lint and checkov over the pipeline templates")
    report.verdicts.extend(policy_verdicts(config))
    progress("deploy artifacts: validate-artifacts on the app against the pipeline template")
    report.verdicts.append(artifact_verdict(config))
    if not args.static_only:
        verdicts, timeline = pipeline_verdicts(config, args.target, progress)
        report.verdicts.extend(verdicts)
        report.timeline.extend(timeline)
        if not gitlab_configured(config):  # not one of the pipeline's assertions: a note, not a SKIP
            report.notes.append(f"GitLab's health not checked: {NO_GITLAB}")
    report.seconds = time.perf_counter() - started
    print(report.summary() if args.quiet else report.render())
    return EXIT_OK if report.passed else EXIT_FINDINGS


def _shown(path: Path, config: HarnessConfig) -> str:
    """Paths relative to the config's folder read better in a report."""
    try:
        return str(path.relative_to(config.root))
    except ValueError:
        return str(path)
