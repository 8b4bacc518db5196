"""GITOPS_SUPPRESSION_REASON: a checkov skip without a written reason is itself a failure."""

from __future__ import annotations

from pathlib import Path

from gitops_harness.policy.suppressions import RULE_ID, check_suppressions

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_26
            comment: messages carry no data, only links
          - id: CKV_AWS_999
          - id: CKV_AWS_998
            comment: "   "
  Queue:
    Type: AWS::SQS::Queue  # checkov:skip=CKV_AWS_27
  Other:
    Type: AWS::SQS::Queue  # checkov:skip=CKV_AWS_27:dead letters only, encrypted by default
"""


def test_skips_without_reason_fail_and_skips_with_reason_pass(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(TEMPLATE)
    outcome = check_suppressions([template])
    failures = sorted((f.location, f.message) for f in outcome.findings)
    assert all(f.rule_id == RULE_ID for f in outcome.findings)
    assert [loc for loc, _ in failures] == [
        "Topic (line 10) skip CKV_AWS_999",
        "Topic (line 11) skip CKV_AWS_998",
        "line 14 skip CKV_AWS_27",
    ]
    assert "CKV_AWS_999" in failures[0][1] and "comment:" in failures[0][1]
    assert outcome.failed == 3
    assert outcome.passed == 2  # the Metadata skip with a comment and the inline one with ":reason"


def test_template_without_suppressions_reports_nothing(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(
        'AWSTemplateFormatVersion: "2010-09-09"\nResources:\n  T:\n    Type: AWS::SNS::Topic\n'
    )
    outcome = check_suppressions([template])
    assert outcome.findings == [] and outcome.passes == []
