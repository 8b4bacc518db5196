"""Report files for CI from any checker's results: JUnit XML (GitLab artifacts:reports:junit),
SARIF 2.1.0 and the GitLab SAST report (schema v15).

Input is the shared shape: the Findings a checker produced, plus the checks that ran and did not
fail (CheckPass), so the JUnit report shows passes and suppressions too, not only failures.
The Finding.location convention read here: "<resource> (lines 12-40)", "line 12" or a JSON path.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


def _resource_of(location: str) -> str:
    return location.split(" (", 1)[0].strip()


# ---- JUnit -------------------------------------------------------------------------------------


def junit_xml(findings: Iterable[Finding], passes: Iterable[CheckPass]) -> str:
    """One testsuite per tool, one testcase per check x target; findings fail, suppressions skip."""
    suites: dict[str, list[ET.Element]] = {}
    counts: dict[str, dict[str, int]] = {}
    for finding in sorted(findings):
        case = _testcase(finding.source, finding.rule_id, finding.file, finding.location)
        failure = ET.SubElement(case, "failure", message=finding.message, type=finding.rule_id)
        failure.text = finding.one_line()
        suites.setdefault(finding.source, []).append(case)
        stats = counts.setdefault(finding.source, {"failures": 0, "skipped": 0})
        stats["failures"] += 1
    for passed in sorted(passes):
        case = _testcase(passed.source, passed.rule_id, passed.file, passed.location)
        stats = counts.setdefault(passed.source, {"failures": 0, "skipped": 0})
        if passed.suppressed_because is not None:
            ET.SubElement(case, "skipped", message=f"suppressed: {passed.suppressed_because}")
            stats["skipped"] += 1
        suites.setdefault(passed.source, []).append(case)
    root = ET.Element("testsuites", name="gitops-harness")
    for name in sorted(suites):
        cases = suites[name]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(len(cases)),
            failures=str(counts[name]["failures"]),
            errors="0",
            skipped=str(counts[name]["skipped"]),
        )
        suite.extend(cases)
    root.set("tests", str(sum(len(c) for c in suites.values())))
    root.set("failures", str(sum(c["failures"] for c in counts.values())))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _testcase(source: str, rule_id: str, file: str, location: str) -> ET.Element:
    return ET.Element(
        "testcase", classname=f"{source}.{rule_id}", name=f"{rule_id} {file}:{location}", file=file
    )


# ---- SARIF 2.1.0 --------------------------------------------------------------------------------


def sarif_log(findings: Iterable[Finding], rules: Mapping[str, RuleHelp] | None = None) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run per tool; every result names its rule and file region."""
    rules = rules or {}
    by_tool: dict[str, list[Finding]] = {}
    for finding in sorted(findings):
        by_tool.setdefault(finding.source, []).append(finding)
    runs = []
    for tool, tool_findings in sorted(by_tool.items()):
        rule_ids = sorted({f.rule_id for f in tool_findings})
        descriptors = []
        for rule_id in rule_ids:
            helped = rules.get(rule_id) or RuleHelp(
                title=next(f.message for f in tool_findings if f.rule_id == rule_id)
            )
            descriptor: dict[str, Any] = {
                "id": rule_id,
                "shortDescription": {"text": helped.title},
                "help": {"text": helped.help_text or helped.title},
            }
            if helped.help_uri:
                descriptor["helpUri"] = helped.help_uri
            descriptors.append(descriptor)
        results = [_sarif_result(f, rule_ids.index(f.rule_id)) for f in tool_findings]
        runs.append(
            {
                "tool": {"driver": {"name": tool, "rules": descriptors}},
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        )
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}


def _sarif_result(finding: Finding, rule_index: int) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": Path(finding.file).as_posix()}}
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
) -> dict[str, Any]:
    """GitLab SAST report (schema v15). No `category`: v15 dropped it from vulnerabilities,
    like checkov's own gitlab_sast output for v15.0.4."""
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
        identifier: dict[str, Any] = {
            "type": finding.source,
            "name": finding.rule_id,
            "value": finding.rule_id,
        }
        if helped and helped.help_uri and helped.help_uri.startswith("http"):
            identifier["url"] = helped.help_uri
        vulnerabilities.append(
            {
                # Stable across runs so GitLab can track a vulnerability from MR to MR.
                "id": hashlib.sha256(
                    f"{finding.source}|{finding.rule_id}|{finding.file}|{finding.location}".encode()
                ).hexdigest(),
                "name": helped.title if helped else finding.message,
                "description": finding.message,
                "severity": "High" if finding.severity is Severity.ERROR else "Medium",
                "location": {"file": finding.file, "start_line": lines[0], "end_line": lines[1]},
                "identifiers": [identifier],
            }
        )
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
