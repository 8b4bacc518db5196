"""Run checkov (built-in checks + our policies/) as a subprocess and read its JSON report."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from gitops_harness.errors import ToolError
from gitops_harness.exports import CheckPass, RuleHelp
from gitops_harness.findings import Finding, Severity
from gitops_harness.policy.checkov_env import checkov_executable, pinned_requirement
from gitops_harness.policy.outcome import ToolOutcome, resource_location

TOOL = "checkov"
INFORMATION_URI = "https://www.checkov.io/"
PARSE_RULE = "CKV_PARSE"  # checkov could not parse a template our own parser accepted
# Offline and quiet: no platform mapping or guideline download, no PyPI update check, no upload.
OFFLINE_ENV = {
    "BC_SKIP_MAPPING": "TRUE",
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE",
    "BC_ENABLE_PERSIST_GRAPHS": "FALSE",
    "LOG_LEVEL": "ERROR",
}


def checkov_command(executable: Path, templates: list[Path], policies_dir: Path) -> list[str]:
    # Not --quiet: it drops passed and skipped records, which JUnit and the suppression summary need.
    command = [
        str(executable),
        "--framework",
        "cloudformation",
        "--external-checks-dir",
        str(policies_dir),
        "--skip-download",
        "--output",
        "json",
        "--compact",
    ]
    for template in templates:
        command += ["--file", str(template)]
    return command


def run_checkov(templates: list[Path], policies_dir: Path, timeout: float = 600) -> ToolOutcome:
    if not (policies_dir / "__init__.py").is_file():
        raise ToolError(
            f"{policies_dir}: custom checks not found (a package with __init__.py); pass --policies-dir"
        )
    command = checkov_command(checkov_executable(), templates, policies_dir)
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env={**os.environ, **OFFLINE_ENV}
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(
            f"checkov did not run: {exc}; delete the checkov environment to reinstall it"
        ) from exc
    # checkov exits 1 when checks fail; anything else without a JSON report is a crash.
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ToolError(f"checkov exited {proc.returncode} without a JSON report: {last}") from exc
    return parse_checkov_report(report, cwd=Path.cwd())


def parse_checkov_report(report: Any, cwd: Path) -> ToolOutcome:
    """checkov prints one report object for one framework and a list of them for several; also
    a summary-only object when nothing was scanned."""
    reports = report if isinstance(report, list) else [report]
    outcome = ToolOutcome(
        tool=TOOL, version=pinned_requirement().split("==")[-1], information_uri=INFORMATION_URI
    )
    for entry in reports:
        if not isinstance(entry, dict):
            raise ToolError(f"checkov report has an unexpected shape: {type(entry).__name__}")
        results = entry.get("results") or {}
        for broken in results.get("parsing_errors") or []:
            outcome.findings.append(
                Finding(
                    file=_display_path(broken, cwd),
                    location="line 1",
                    rule_id=PARSE_RULE,
                    severity=Severity.ERROR,
                    message="checkov could not parse the template, so none of its checks ran on it",
                    source=TOOL,
                )
            )
            outcome.rules.setdefault(
                PARSE_RULE,
                RuleHelp(
                    title="checkov parses the template",
                    help_text="Run checkov on the file alone to see its parser's error, and fix the template.",
                ),
            )
        for record in results.get("failed_checks") or []:
            outcome.findings.append(_finding(record, cwd))
            outcome.rules.setdefault(record["check_id"], _rule_help(record))
        for record in results.get("passed_checks") or []:
            outcome.passes.append(_check_pass(record, cwd, suppressed_because=None))
        for record in results.get("skipped_checks") or []:
            reason = (record.get("check_result") or {}).get("suppress_comment") or ""
            outcome.passes.append(_check_pass(record, cwd, suppressed_because=reason))
    return outcome


def _display_path(path: str, cwd: Path) -> str:
    absolute = Path(path) if Path(path).is_absolute() else cwd / path
    try:
        return str(absolute.resolve().relative_to(cwd.resolve()))
    except ValueError:
        return str(absolute)


def _location(record: dict[str, Any]) -> str:
    logical_id = str(record.get("resource", "")).split(".", 1)[-1]
    start, end = (record.get("file_line_range") or [None, None])[:2]
    return resource_location(logical_id, start, end)


def _file(record: dict[str, Any], cwd: Path) -> str:
    return _display_path(record.get("file_abs_path") or record.get("file_path", "").lstrip("/"), cwd)


def _finding(record: dict[str, Any], cwd: Path) -> Finding:
    message = record.get("check_name") or record["check_id"]
    if record.get("guideline"):
        message += f" (see {record['guideline']})"
    return Finding(
        file=_file(record, cwd),
        location=_location(record),
        rule_id=record["check_id"],
        severity=Severity.ERROR,
        message=message,
        source=TOOL,
    )


def _check_pass(record: dict[str, Any], cwd: Path, suppressed_because: str | None) -> CheckPass:
    return CheckPass(
        source=TOOL,
        rule_id=record["check_id"],
        file=_file(record, cwd),
        location=_location(record),
        title=record.get("check_name") or "",
        suppressed_because=suppressed_because,
    )


def _rule_help(record: dict[str, Any]) -> RuleHelp:
    title = record.get("check_name") or record["check_id"]
    guideline = record.get("guideline")
    help_text = f"{title}. Fix the resource, or suppress with a written reason in its Metadata."
    return RuleHelp(title=title, help_text=help_text, help_uri=guideline or None)
