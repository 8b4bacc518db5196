"""Report files for CI from any checker's results: JUnit XML (GitLab artifacts:reports:junit),
SARIF 2.1.0 and the GitLab SAST report (schema v15).

Input is the shared shape: the Findings a checker produced, plus the checks that ran and did not
fail (CheckPass), so the JUnit report shows passes and suppressions too, not only failures.
The Finding.location convention read here: "<resource> (lines 12-40)", "line 12" or a JSON path.
"""

from __future__ import annotations

import hashlib
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gitops_harness import __version__
from gitops_harness.findings import Finding, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
GITLAB_SAST_VERSION = "15.0.7"
GITLAB_SAST_SCHEMA = (
    "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/"
    f"v{GITLAB_SAST_VERSION}/dist/sast-report-format.json"
)
_LINES = re.compile(r"\blines? (\d+)(?:-(\d+))?")
_LINE_INFO = re.compile(r"\s*\(lines? \d+(?:-\d+)?\)|\blines? \d+(?:-\d+)?\s*")
SRCROOT = "%SRCROOT%"  # SARIF's conventional base id for the repository root


@dataclass(frozen=True, order=True)
class CheckPass:
    """A check that ran on a target and did not fail (or was suppressed with a reason)."""

    source: str  # the tool: checkov, cfn-lint, gitops-harness
    rule_id: str
    file: str
    location: str
    title: str = ""
    suppressed_because: str | None = None


@dataclass(frozen=True)
class RuleHelp:
    """What a rule is about, for SARIF rule descriptors and GitLab vulnerability descriptions."""

    title: str
    help_text: str = ""
    help_uri: str | None = None


def line_range(location: str) -> tuple[int, int] | None:
    """(start, end) from a location such as "Pipeline (lines 12-40)" or "line 7"; None if it has none."""
    match = _LINES.search(location)
    if not match:
        return None
    start = int(match.group(1))
    return start, int(match.group(2) or start)


@dataclass(frozen=True)
class ToolInfo:
    """A tool that ran, for SARIF's tool.driver: one run per tool, even when it found nothing."""

    name: str
    version: str
    information_uri: str = ""
    rules: dict[str, RuleHelp] = field(default_factory=dict, compare=False, hash=False)


def _resource_of(location: str) -> str:
    return location.split(" (", 1)[0].strip()


def without_lines(location: str) -> str:
    """The location with its line numbers removed: what stays the same when lines above it move."""
    return " ".join(_LINE_INFO.sub(" ", location).split())


def repo_relative(file: str, root: Path | None) -> str:
    """POSIX path of file relative to the repository root when it lies inside it, else as given."""
    path = Path(file)
    if root is None:
        return path.as_posix()
    absolute = path if path.is_absolute() else Path.cwd() / path
    try:
        return absolute.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return path.as_posix()


def _has_scheme(uri: str | None) -> bool:
    return bool(uri) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri or "") is not None


# ---- JUnit -------------------------------------------------------------------------------------
# GitLab keys a test case by suite + classname + name and compares them between pipelines: a name
# must not change when lines move (or a fixed failure never shows as resolved), and a check's pass
# and its failure must have the same name.

CaseKey = Callable[
    [str, str, str, str], tuple[str, str]
]  # (source, rule, file, location) -> (classname, name)


def check_case(source: str, rule_id: str, file: str, location: str) -> tuple[str, str]:
    """One test case per check x resource: `<source>.<rule>` / `<rule> <file> <resource>`, no lines."""
    where = without_lines(location)
    return f"{source}.{rule_id}", f"{rule_id} {file}" + (f" {where}" if where else "")


@dataclass
class _Case:
    file: str
    failures: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    skipped_because: str | None = None


def junit_xml(
    findings: Iterable[Finding],
    passes: Iterable[CheckPass],
    *,
    case_key: CaseKey = check_case,
    warnings_fail: bool = False,
) -> str:
    """One testsuite per tool; findings that share a test case fail it together; warnings are listed
    in system-out and fail only with warnings_fail; suppressions are skipped with the reason as text."""
    suites: dict[str, dict[tuple[str, str], _Case]] = {}
    for finding in sorted(findings):
        key = case_key(finding.source, finding.rule_id, finding.file, finding.location)
        case = suites.setdefault(finding.source, {}).setdefault(key, _Case(finding.file))
        fails = finding.severity is Severity.ERROR or warnings_fail
        (case.failures if fails else case.warnings).append(finding)
    for passed in sorted(passes):
        key = case_key(passed.source, passed.rule_id, passed.file, passed.location)
        case = suites.setdefault(passed.source, {}).setdefault(key, _Case(passed.file))
        if passed.suppressed_because is not None and case.skipped_because is None:
            case.skipped_because = passed.suppressed_because
    root = ET.Element("testsuites", name="gitops-harness")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for name in sorted(suites):
        suite = ET.SubElement(root, "testsuite", name=name)
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for (classname, case_name), case in sorted(suites[name].items()):
            element = ET.SubElement(suite, "testcase", classname=classname, name=case_name, file=case.file)
            counts["tests"] += 1
            if case.failures:
                first = case.failures[0]
                more = f" (+{len(case.failures) - 1} more)" if len(case.failures) > 1 else ""
                failure = ET.SubElement(element, "failure", message=first.message + more, type=first.rule_id)
                failure.text = "\n".join(f.one_line() for f in case.failures)
                counts["failures"] += 1
            elif case.skipped_because is not None:
                skipped = ET.SubElement(element, "skipped", message=f"suppressed: {case.skipped_because}")
                skipped.text = case.skipped_because or "(no reason given)"
                counts["skipped"] += 1
            if case.warnings:
                ET.SubElement(element, "system-out").text = "\n".join(f.one_line() for f in case.warnings)
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("errors", "0")
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


# ---- SARIF 2.1.0 --------------------------------------------------------------------------------


def sarif_log(
    findings: Iterable[Finding],
    rules: Mapping[str, RuleHelp] | None = None,
    *,
    tools: Iterable[ToolInfo] | None = None,
    root: Path | None = None,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run per tool that ran (results [] when it found nothing); every
    result names its rule and its file relative to the repository root (uriBaseId %SRCROOT%)."""
    rules = rules or {}
    by_tool: dict[str, list[Finding]] = {}
    for finding in sorted(findings):
        by_tool.setdefault(finding.source, []).append(finding)
    infos = {t.name: t for t in tools or ()}
    for name in by_tool:
        infos.setdefault(name, ToolInfo(name, __version__ if name == "gitops-harness" else "unknown"))
    runs = []
    for tool in sorted(infos):
        info, tool_findings = infos[tool], by_tool.get(tool, [])
        rule_ids = sorted({f.rule_id for f in tool_findings})
        descriptors = []
        for rule_id in rule_ids:
            helped = info.rules.get(rule_id) or rules.get(rule_id)
            if helped is None:
                helped = RuleHelp(title=next(f.message for f in tool_findings if f.rule_id == rule_id))
            descriptors.append(_rule_descriptor(rule_id, helped))
        driver: dict[str, Any] = {"name": tool, "version": info.version, "rules": descriptors}
        if _has_scheme(info.information_uri):
            driver["informationUri"] = info.information_uri
        run: dict[str, Any] = {
            "tool": {"driver": driver},
            "results": [_sarif_result(f, rule_ids.index(f.rule_id), root) for f in tool_findings],
            "columnKind": "unicodeCodePoints",
        }
        if root is not None:
            run["originalUriBaseIds"] = {SRCROOT: {"uri": root.resolve().as_uri() + "/"}}
        runs.append(run)
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}


def _rule_descriptor(rule_id: str, helped: RuleHelp) -> dict[str, Any]:
    text = helped.help_text or helped.title
    descriptor: dict[str, Any] = {
        "id": rule_id,
        "shortDescription": {"text": helped.title},
        "fullDescription": {"text": text},  # GitHub code scanning requires it
        "help": {"text": text},
    }
    if _has_scheme(helped.help_uri):
        descriptor["helpUri"] = helped.help_uri
    elif helped.help_uri:  # a repository path: SARIF's helpUri must be absolute, markdown may link it
        descriptor["help"]["markdown"] = f"{text}\n\nSee [{helped.help_uri}]({helped.help_uri})."
    return descriptor


def _sarif_result(finding: Finding, rule_index: int, root: Path | None) -> dict[str, Any]:
    uri = repo_relative(finding.file, root)
    artifact: dict[str, Any] = {"uri": uri}
    if root is not None and not Path(uri).is_absolute():
        artifact["uriBaseId"] = SRCROOT
    physical: dict[str, Any] = {"artifactLocation": artifact}
    lines = line_range(finding.location)
    if lines:
        physical["region"] = {"startLine": lines[0], "endLine": lines[1]}
    location: dict[str, Any] = {"physicalLocation": physical}
    if finding.location and not finding.location.startswith("line"):
        location["logicalLocations"] = [{"name": _resource_of(finding.location)}]
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": "error" if finding.severity is Severity.ERROR else "warning",
        "message": {"text": finding.message},
        "locations": [location],
    }


# ---- GitLab SAST -------------------------------------------------------------------------------


def gitlab_sast_report(
    findings: Iterable[Finding],
    rules: Mapping[str, RuleHelp] | None = None,
    *,
    start_time: datetime,
    end_time: datetime,
    scanner_name: str = "gitops-harness policy",
    root: Path | None = None,
) -> dict[str, Any]:
    """GitLab SAST report (schema v15). No `category`: v15 dropped it from vulnerabilities,
    like checkov's own gitlab_sast output for v15.0.4. Files are relative to the repository root."""
    rules = rules or {}
    scanner = {
        "id": "gitops-harness",
        "name": scanner_name,
        "version": __version__,
        "vendor": {"name": "ecs-gitops-harness"},
    }
    vulnerabilities = []
    for finding in sorted(findings):
        lines = line_range(finding.location) or (1, 1)
        helped = rules.get(finding.rule_id)
        file = repo_relative(finding.file, root)
        identifier: dict[str, Any] = {
            "type": finding.source,
            "name": finding.rule_id,
            "value": finding.rule_id,
        }
        if helped and _has_scheme(helped.help_uri):
            identifier["url"] = helped.help_uri
        vulnerability: dict[str, Any] = {
            # Stable across runs (no line numbers) so GitLab can track a vulnerability from MR to MR.
            "id": hashlib.sha256(
                f"{finding.source}|{finding.rule_id}|{file}|{without_lines(finding.location)}".encode()
            ).hexdigest(),
            "name": helped.title if helped else finding.message,
            "description": finding.message,
            "severity": "High" if finding.severity is Severity.ERROR else "Medium",
            "location": {"file": file, "start_line": lines[0], "end_line": lines[1]},
            "identifiers": [identifier],
        }
        if helped and (helped.help_text or helped.help_uri):
            solution = helped.help_text or helped.title
            if helped.help_uri:
                solution += f" See {helped.help_uri}."
            vulnerability["solution"] = solution
        vulnerabilities.append(vulnerability)
    stamp = "%Y-%m-%dT%H:%M:%S"
    return {
        "schema": GITLAB_SAST_SCHEMA,
        "version": GITLAB_SAST_VERSION,
        "vulnerabilities": vulnerabilities,
        "scan": {
            "analyzer": scanner,
            "scanner": scanner,
            "type": "sast",
            "status": "success",
            "start_time": start_time.strftime(stamp),
            "end_time": end_time.strftime(stamp),
        },
    }


def project_information_uri(root: Path | None) -> str:
    """Where a person reads about our own rules: the GitLab project in CI, else the checkout."""
    return os.environ.get("CI_PROJECT_URL") or (root or Path.cwd()).resolve().as_uri()
