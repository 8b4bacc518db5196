"""What the consumers of the gate's reports read: GitHub/GitLab code scanning (SARIF 2.1.0), the GitLab
SAST report (schema 15.x) and GitLab's JUnit test report, whose test ids must survive edits."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest

from gitops_harness import cli
from gitops_harness.exports import (
    SRCROOT,
    CheckPass,
    RuleHelp,
    ToolInfo,
    gitlab_sast_report,
    junit_xml,
    sarif_log,
)
from gitops_harness.findings import Finding, Severity

REPO = Path(__file__).resolve().parents[1]
TOOLS = [
    ToolInfo("checkov", "3.3.30", "https://www.checkov.io/"),
    ToolInfo("cfn-lint", "1.58.0", "https://github.com/aws-cloudformation/cfn-lint"),
    ToolInfo("gitops-harness", "0.1.0", REPO.as_uri()),
]
RULES = {
    "CKV_GITOPS_1": RuleHelp(
        "Approval before deploy", "Add a Manual approval stage.", "docs/policy-checks.md#x"
    ),
    "CKV_AWS_18": RuleHelp("S3 access logging", "Enable logging.", "https://docs.example.org/ckv_aws_18"),
}


def _finding(
    rule: str, location: str, source: str = "checkov", severity: Severity = Severity.ERROR
) -> Finding:
    return Finding(str(REPO / "fixtures/pipeline/p.yaml"), location, rule, severity, f"{rule} failed", source)


def _absolute(uri: str) -> bool:
    parsed = urlparse(uri)
    return bool(parsed.scheme) and bool(parsed.netloc or parsed.path)


def test_sarif_has_one_run_per_tool_that_ran_with_empty_results_when_clean() -> None:
    log = sarif_log([], {}, tools=TOOLS, root=REPO)
    assert [run["tool"]["driver"]["name"] for run in log["runs"]] == ["cfn-lint", "checkov", "gitops-harness"]
    assert all(run["results"] == [] for run in log["runs"])


def test_sarif_rules_have_full_descriptions_and_only_absolute_help_uris() -> None:
    findings = [
        _finding("CKV_GITOPS_1", "Pipeline (lines 10-42)"),
        _finding("CKV_AWS_18", "Bucket (line 50)"),
    ]
    log = sarif_log(findings, RULES, tools=TOOLS, root=REPO)
    (checkov,) = [run for run in log["runs"] if run["tool"]["driver"]["name"] == "checkov"]
    driver = checkov["tool"]["driver"]
    assert driver["version"] == "3.3.30" and _absolute(driver["informationUri"])
    rules = {rule["id"]: rule for rule in driver["rules"]}
    for rule in rules.values():
        assert rule["fullDescription"]["text"]  # GitHub code scanning requires it
        assert "helpUri" not in rule or _absolute(rule["helpUri"])
    assert rules["CKV_AWS_18"]["helpUri"] == "https://docs.example.org/ckv_aws_18"
    assert "helpUri" not in rules["CKV_GITOPS_1"]
    assert "docs/policy-checks.md#x" in rules["CKV_GITOPS_1"]["help"]["markdown"]
    for run in log["runs"]:
        assert _absolute(run["tool"]["driver"]["informationUri"])


def test_sarif_artifact_uris_are_repo_relative_with_a_declared_base() -> None:
    log = sarif_log([_finding("CKV_GITOPS_1", "Pipeline (lines 10-42)")], RULES, tools=TOOLS, root=REPO)
    (checkov,) = [run for run in log["runs"] if run["results"]]
    artifact = checkov["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "fixtures/pipeline/p.yaml", "uriBaseId": SRCROOT}
    assert checkov["originalUriBaseIds"][SRCROOT]["uri"] == REPO.as_uri() + "/"


def test_gitlab_sast_files_are_repo_relative_with_a_solution_from_the_rules_help() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    report = gitlab_sast_report(
        [_finding("CKV_GITOPS_1", "Pipeline (lines 10-42)")], RULES, start_time=now, end_time=now, root=REPO
    )
    (vulnerability,) = report["vulnerabilities"]
    assert vulnerability["location"]["file"] == "fixtures/pipeline/p.yaml"
    assert vulnerability["solution"].startswith("Add a Manual approval stage.")
    moved = gitlab_sast_report(
        [_finding("CKV_GITOPS_1", "Pipeline (lines 26-58)")], RULES, start_time=now, end_time=now, root=REPO
    )
    assert moved["vulnerabilities"][0]["id"] == vulnerability["id"]  # lines moved: the same vulnerability


def _case_ids(xml: str) -> dict[tuple[str, str, str], str]:
    """(suite, classname, name) -> outcome, the key GitLab compares between pipelines."""
    ids = {}
    for suite in ET.fromstring(xml).iter("testsuite"):
        for case in suite.iter("testcase"):
            outcome = (
                "failed"
                if case.find("failure") is not None
                else "skipped"
                if case.find("skipped") is not None
                else "passed"
            )
            ids[(suite.get("name"), case.get("classname"), case.get("name"))] = outcome
    return ids


def test_junit_pass_and_fail_of_a_check_share_one_id_and_lines_do_not_matter() -> None:
    failing = _case_ids(junit_xml([_finding("CKV_GITOPS_1", "Pipeline (lines 10-42)")], []))
    passing = _case_ids(
        junit_xml(
            [],
            [
                CheckPass(
                    "checkov",
                    "CKV_GITOPS_1",
                    str(REPO / "fixtures/pipeline/p.yaml"),
                    "Pipeline (lines 26-58)",
                )
            ],
        )
    )
    assert set(failing) == set(passing)
    assert list(failing.values()) == ["failed"] and list(passing.values()) == ["passed"]


def test_junit_warnings_are_listed_not_failures_unless_asked() -> None:
    warning = _finding("W3005", "line 7", source="cfn-lint", severity=Severity.WARNING)
    relaxed = ET.fromstring(junit_xml([warning], []))
    (case,) = relaxed.iter("testcase")
    assert case.find("failure") is None and "W3005" in case.find("system-out").text
    assert relaxed.get("failures") == "0"
    strict = ET.fromstring(junit_xml([warning], [], warnings_fail=True))
    assert strict.get("failures") == "1"


@pytest.mark.slow
def test_gate_test_ids_survive_deleting_lines_and_fixing_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real gate (checkov + cfn-lint) on the reference pipeline template, then on the same template
    with 16 lines fewer above most resources and one failure fixed: every id stays, the fix shows as
    the same id turning from failed to passed."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("gitops_harness.policy.command",))
    monkeypatch.chdir(tmp_path)
    source = REPO / "fixtures/pipeline/pipeline-account.yaml"
    template = tmp_path / "pipeline.yaml"
    padding = "".join(f"# padding line {i}\n" for i in range(16))
    text = source.read_text()
    # A failure to fix: ECS logging (CKV_GITOPS_9) removed from the task definition's container.
    assert "LogConfiguration:" in text
    broken = text.replace("LogConfiguration:", "XLogConfiguration:", 1)
    head, rest = broken.split("\nResources:\n", 1)
    template.write_text(f"{head}\n{padding}Resources:\n{rest}")
    args = ["policy", template.name, "--policies-dir", str(REPO / "policies"), "--output-dir", "r1"]
    cli.main(args)
    before = _case_ids((tmp_path / "r1/junit.xml").read_text())
    head, rest = text.split("\nResources:\n", 1)
    template.write_text(f"{head}\nResources:\n{rest}")  # 16 lines fewer and the failure fixed
    cli.main([*args[:-1], "r2"])
    after = _case_ids((tmp_path / "r2/junit.xml").read_text())
    capsys.readouterr()
    assert set(before) == set(after), set(before) ^ set(after)
    fixed = [key for key in before if before[key] == "failed" and after[key] == "passed"]
    assert any("CKV_GITOPS_9" in key[1] for key in fixed)
