"""`gitops-harness policy` end to end: exit codes, report files, one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gitops_harness import cli
from gitops_harness.policy import checkov_scan

FIXTURES = Path(__file__).resolve().parents[1] / "suites" / "policy" / "fixtures"


@pytest.fixture(autouse=True)
def only_policy_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other subcommands are not this test's concern (and may be mid-change in the working tree).
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("gitops_harness.policy.command",))


def test_missing_path_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["policy", str(tmp_path / "nope"), "--output-dir", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no such file or directory" in err


def test_broken_template_is_a_finding_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources:\n  A:\n    Type: [unclosed\n")
    assert cli.main(["policy", str(broken), "--skip-checkov", "--output-dir", str(tmp_path / "r")]) == 1
    assert f"{broken}:4 GITOPS_TEMPLATE_PARSE" in capsys.readouterr().out


def test_clean_template_exits_0_and_writes_three_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    code = cli.main(
        ["policy", str(FIXTURES / "ecs_logging" / "pass.yaml"), "--skip-checkov", "--output-dir", str(out)]
    )
    assert code == 0
    assert "policy OK" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {"junit.xml", "results.sarif", "gl-sast-report.json"}


def test_unreadable_checkov_output_is_a_tool_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        checkov_scan, "checkov_executable", lambda: Path(shutil.which("false") or "/bin/false")
    )
    code = cli.main(["policy", str(FIXTURES / "ecs_logging" / "pass.yaml"), "--output-dir", str(tmp_path)])
    assert code == 3
    assert "checkov exited 1 without a JSON report" in capsys.readouterr().err


def test_checkov_environment_that_cannot_be_created_is_a_tool_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("GITOPS_HARNESS_CHECKOV_VENV", str(blocker / "venv"))
    code = cli.main(
        ["policy", str(FIXTURES / "ecs_logging" / "pass.yaml"), "--output-dir", str(tmp_path / "r")]
    )
    assert code == 3
    assert "GITOPS_HARNESS_CHECKOV_VENV" in capsys.readouterr().err


@pytest.mark.slow
def test_failing_fixture_exits_1_and_lists_the_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        [
            "policy",
            str(FIXTURES / "ecs_logging" / "fail.yaml"),
            "--output-dir",
            str(tmp_path),
            "--format",
            "json",
            "--skip-cfn-lint",
        ]
    )
    assert code == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["passed"] is False
    assert any(
        f["rule_id"] == "CKV_GITOPS_9" and f["location"].startswith("TaskDefinition (lines ")
        for f in summary["findings"]
    )
