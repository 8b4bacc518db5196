"""Reading checkov's JSON report: both shapes, failures, passes, suppressions, parse errors."""

from __future__ import annotations

from pathlib import Path

from gitops_harness.findings import Severity
from gitops_harness.policy.checkov_scan import parse_checkov_report


def record(check_id: str, result: str, **extra) -> dict:
    base = {
        "check_id": check_id,
        "check_name": f"name of {check_id}",
        "check_result": {"result": result},
        "file_path": "/pipeline.yaml",
        "file_abs_path": "/repo/fixtures/pipeline.yaml",
        "file_line_range": [10, 42],
        "resource": "AWS::CodePipeline::Pipeline.Pipeline",
        "guideline": None,
    }
    base.update(extra)
    return base


def report(failed=(), passed=(), skipped=(), parsing_errors=()) -> dict:
    return {
        "check_type": "cloudformation",
        "results": {
            "failed_checks": list(failed),
            "passed_checks": list(passed),
            "skipped_checks": list(skipped),
            "parsing_errors": list(parsing_errors),
        },
        "summary": {},
    }


def test_failed_record_becomes_an_error_finding_with_resource_lines_and_guideline() -> None:
    data = report(failed=[record("CKV_GITOPS_1", "FAILED", guideline="docs/policy-checks.md#ckv_gitops_1")])
    outcome = parse_checkov_report(data, cwd=Path("/repo"))
    (finding,) = outcome.findings
    assert finding.file == "fixtures/pipeline.yaml"
    assert finding.location == "Pipeline (lines 10-42)"
    assert finding.rule_id == "CKV_GITOPS_1"
    assert finding.severity is Severity.ERROR
    assert "docs/policy-checks.md#ckv_gitops_1" in finding.message
    assert outcome.rules["CKV_GITOPS_1"].help_uri == "docs/policy-checks.md#ckv_gitops_1"


def test_list_and_dict_reports_give_the_same_counts() -> None:
    single = report(failed=[record("A", "FAILED")], passed=[record("B", "PASSED")])
    as_dict = parse_checkov_report(single, cwd=Path("/repo"))
    as_list = parse_checkov_report([single, report(passed=[record("C", "PASSED")])], cwd=Path("/repo"))
    assert (as_dict.failed, as_dict.passed) == (1, 1)
    assert (as_list.failed, as_list.passed) == (1, 2)


def test_skipped_records_count_as_suppressed_with_their_reason() -> None:
    skipped = record("CKV_AWS_117", "SKIPPED")
    skipped["check_result"]["suppress_comment"] = "webhook only, no VPC resources"
    outcome = parse_checkov_report(report(skipped=[skipped]), cwd=Path("/repo"))
    assert (outcome.passed, outcome.failed, outcome.suppressed) == (0, 0, 1)
    assert outcome.passes[0].suppressed_because == "webhook only, no VPC resources"


def test_parsing_error_is_a_finding_naming_the_file() -> None:
    """A template our parser accepted but checkov could not parse: a failure, not a silent pass."""
    outcome = parse_checkov_report(report(parsing_errors=["/repo/fixtures/broken.yaml"]), cwd=Path("/repo"))
    (finding,) = outcome.findings
    assert (finding.file, finding.rule_id, finding.location) == (
        "fixtures/broken.yaml",
        "CKV_PARSE",
        "line 1",
    )
    assert outcome.failed == 1


def test_summary_only_report_has_no_results() -> None:
    outcome = parse_checkov_report({"passed": 0, "failed": 0, "skipped": 0}, cwd=Path("/repo"))
    assert outcome.findings == [] and outcome.passes == []
