"""The gate's reports against their consumers' official schemas, vendored in tests/schemas/ (README there
names each source): SARIF 2.1.0 from OASIS; GitLab's SAST report format 15.0.7."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import pytest

from gitops_harness import cli
from gitops_harness.exports import GITLAB_SAST_VERSION, gitlab_sast_report, sarif_log
from gitops_harness.findings import Finding, Severity
from test_policy_report_consumers import RULES, TOOLS  # the same tools and rules as the consumer tests

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = Path(__file__).parent / "schemas"
SARIF_SCHEMA = SCHEMAS / "sarif-schema-2.1.0.json"
GITLAB_SAST_SCHEMA = SCHEMAS / f"sast-report-format-{GITLAB_SAST_VERSION}.json"
GITLAB_SAST_SHA256 = "38e5d41cea595af2abf67aeb0edaba1668c5f6ecad6ffa76a85ce3b9eb874332"

# jsonschema checks "uri" only with optional packages (rfc3987) this project does not install: the two
# formats SARIF uses are checked here instead, so a relative helpUri fails the test as GitHub fails it.
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("uri")
def _uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlparse(value).scheme) and " " not in value


@FORMATS.checks("uri-reference")
def _uri_reference(value: object) -> bool:
    return not isinstance(value, str) or not any(c.isspace() or ord(c) < 32 for c in value)


def _errors(document: dict, schema_path: Path) -> list[str]:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=FORMATS)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


FINDINGS = [
    Finding(
        str(REPO / "fixtures/pipeline/p.yaml"),
        "Pipeline (lines 10-42)",
        "CKV_GITOPS_1",
        Severity.ERROR,
        "no approval",
        "checkov",
    ),
    Finding(
        str(REPO / "fixtures/pipeline/p.yaml"),
        "Bucket (line 50)",
        "CKV_AWS_18",
        Severity.ERROR,
        "no logs",
        "checkov",
    ),
    Finding(
        str(REPO / "fixtures/pipeline/p.yaml"),
        "line 7",
        "W3005",
        Severity.WARNING,
        "redundant DependsOn",
        "cfn-lint",
    ),
]


def test_the_vendored_sarif_schema_is_the_oasis_one() -> None:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]


def test_the_schema_check_can_fail() -> None:
    """A relative helpUri (what the gate once wrote) and an empty run are refused."""
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x", "helpUri": "docs/x.md"}}}]}
    assert _errors(bad, SARIF_SCHEMA)


def test_the_vendored_gitlab_schema_is_gitlabs_15_0_7() -> None:
    """The copy named in tests/schemas/README.md (gitlabhq's vendored security-report-schemas v15.0.7)."""
    text = GITLAB_SAST_SCHEMA.read_bytes()
    assert hashlib.sha256(text).hexdigest() == GITLAB_SAST_SHA256
    schema = json.loads(text)
    assert schema["self"] == {"version": GITLAB_SAST_VERSION}
    assert schema["$id"].endswith("/security-report-schemas/-/raw/master/dist/sast-report-format.json")


def test_the_gitlab_schema_check_can_fail() -> None:
    """A SARIF-style severity, a timestamp with a zone and a finding without identifiers are refused."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    report = gitlab_sast_report(FINDINGS, RULES, start_time=now, end_time=now, root=REPO)
    report["scan"]["start_time"] = "2026-01-01T00:00:00Z"
    report["vulnerabilities"][0]["severity"] = "error"
    del report["vulnerabilities"][1]["identifiers"]
    assert len(_errors(report, GITLAB_SAST_SCHEMA)) == 3


@pytest.mark.parametrize("findings", [[], FINDINGS], ids=["clean", "findings"])
def test_sarif_log_is_valid_sarif_2_1_0(findings: list[Finding]) -> None:
    assert _errors(sarif_log(findings, RULES, tools=TOOLS, root=REPO), SARIF_SCHEMA) == []


def test_gitlab_sast_report_is_valid_against_gitlabs_schema() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    report = gitlab_sast_report(FINDINGS, RULES, start_time=now, end_time=now, root=REPO)
    assert _errors(report, GITLAB_SAST_SCHEMA) == []


@pytest.mark.slow
def test_the_real_gates_reports_are_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """checkov and cfn-lint on the reference template beside one that cannot be parsed: the SARIF the
    gate writes (a parse-error finding among real findings) passes the OASIS schema, its GitLab SAST
    report GitLab's."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("gitops_harness.policy.command",))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.yaml").write_text((REPO / "fixtures/pipeline/pipeline-account.yaml").read_text())
    (tmp_path / "broken.yaml").write_text(
        "Resources:\n  A: {Type: AWS::SNS::Topic}\n  A: {Type: AWS::SNS::Topic}\n"
    )
    code = cli.main(["policy", ".", "--policies-dir", str(REPO / "policies"), "--output-dir", "out"])
    assert code == 1
    sarif = json.loads((tmp_path / "out/results.sarif").read_text())
    assert _errors(sarif, SARIF_SCHEMA) == []
    assert any(result["results"] for result in sarif["runs"])
    assert _errors(json.loads((tmp_path / "out/gl-sast-report.json").read_text()), GITLAB_SAST_SCHEMA) == []
