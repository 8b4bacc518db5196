"""JUnit XML, SARIF 2.1.0 and GitLab SAST writers over Findings and passed checks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import jsonschema

from gitops_harness.exports import CheckPass, RuleHelp, gitlab_sast_report, junit_xml, line_range, sarif_log
from gitops_harness.findings import Finding, Severity

FINDINGS = [
    Finding(
        "fixtures/pipeline/p.yaml",
        "Pipeline (lines 10-42)",
        "CKV_GITOPS_1",
        Severity.ERROR,
        "approval missing",
        "checkov",
    ),
    Finding(
        "fixtures/pipeline/p.yaml", "line 7", "W3005", Severity.WARNING, "obsolete DependsOn", "cfn-lint"
    ),
    Finding(
        "taskdef.json",
        "containerDefinitions[0].image",
        "TASKDEF_IMAGE",
        Severity.ERROR,
        "image is not the placeholder",
        "gitops-harness",
    ),
]
PASSES = [
    CheckPass("checkov", "CKV_GITOPS_3", "fixtures/pipeline/p.yaml", "Pipeline (lines 10-42)"),
    CheckPass(
        "checkov",
        "CKV_AWS_117",
        "fixtures/pipeline/p.yaml",
        "Notifier (lines 50-70)",
        suppressed_because="posts to a webhook only",
    ),
]
RULES = {
    "CKV_GITOPS_1": RuleHelp(
        "Approval before deploy", "Add a Manual approval stage.", "docs/policy-checks.md"
    )
}

# The parts of the SARIF 2.1.0 schema that consumers (GitLab, GitHub code scanning) rely on.
SARIF_REQUIRED = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "rules": {
                                        "type": "array",
                                        "items": {"type": "object", "required": ["id"]},
                                    }
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "message": {"type": "object", "required": ["text"]},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation"],
                                                "properties": {
                                                    "region": {
                                                        "type": "object",
                                                        "properties": {
                                                            "startLine": {"type": "integer", "minimum": 1}
                                                        },
                                                    }
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_line_range_reads_the_location_conventions() -> None:
    assert line_range("Pipeline (lines 10-42)") == (10, 42)
    assert line_range("line 7") == (7, 7)
    assert line_range("containerDefinitions[0].image") is None


def test_junit_has_a_suite_per_tool_with_failures_passes_and_skips() -> None:
    root = ET.fromstring(junit_xml(FINDINGS, PASSES))
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"checkov", "cfn-lint", "gitops-harness"}
    checkov = suites["checkov"]
    assert (checkov.get("tests"), checkov.get("failures"), checkov.get("skipped")) == ("3", "1", "1")
    cases = {c.get("classname"): c for c in checkov.findall("testcase")}
    assert cases["checkov.CKV_GITOPS_1"].find("failure").get("message") == "approval missing"
    assert (
        cases["checkov.CKV_GITOPS_3"].find("failure") is None
        and cases["checkov.CKV_GITOPS_3"].find("skipped") is None
    )
    assert cases["checkov.CKV_AWS_117"].find("skipped").text == "posts to a webhook only"
    # the cfn-lint warning is listed, not a failure: the run passes with warnings
    assert root.get("tests") == "5" and root.get("failures") == "2"


def test_sarif_is_2_1_0_with_rules_and_regions() -> None:
    log = sarif_log(FINDINGS, RULES)
    jsonschema.validate(log, SARIF_REQUIRED)
    runs = {r["tool"]["driver"]["name"]: r for r in log["runs"]}
    checkov = runs["checkov"]
    (result,) = checkov["results"]
    rule = checkov["tool"]["driver"]["rules"][result["ruleIndex"]]
    assert rule["id"] == result["ruleId"] == "CKV_GITOPS_1"
    assert rule["help"]["text"] == "Add a Manual approval stage."
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 10, "endLine": 42}
    assert runs["cfn-lint"]["results"][0]["level"] == "warning"
    assert "region" not in runs["gitops-harness"]["results"][0]["locations"][0]["physicalLocation"]


def test_gitlab_sast_report_has_required_keys_and_stable_ids() -> None:
    start = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    report = gitlab_sast_report(FINDINGS, RULES, start_time=start, end_time=start)
    assert report["version"].startswith("15.")
    scan = report["scan"]
    assert {"analyzer", "scanner", "type", "status", "start_time", "end_time"} <= set(scan)
    assert (
        scan["type"] == "sast" and scan["status"] == "success" and scan["start_time"] == "2025-01-01T12:00:00"
    )
    for key in ("analyzer", "scanner"):
        assert {"id", "name", "version", "vendor"} <= set(scan[key])
    assert len(report["vulnerabilities"]) == 3
    for vulnerability in report["vulnerabilities"]:
        assert {"id", "name", "description", "severity", "location", "identifiers"} <= set(vulnerability)
        assert vulnerability["severity"] in {"Info", "Unknown", "Low", "Medium", "High", "Critical"}
        assert {"file", "start_line"} <= set(vulnerability["location"])
        assert {"type", "name", "value"} <= set(vulnerability["identifiers"][0])
    again = gitlab_sast_report(FINDINGS, RULES, start_time=start, end_time=start)
    assert [v["id"] for v in again["vulnerabilities"]] == [v["id"] for v in report["vulnerabilities"]]
