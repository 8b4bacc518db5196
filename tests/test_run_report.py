import shutil
from datetime import datetime
from pathlib import Path

import pytest

from gitops_harness.cli import main
from gitops_harness.report import RunReport, TimelineEntry, Verdict

REPO = Path(__file__).resolve().parents[1]


def test_report_shows_each_verdict_and_where_to_look_only_on_failure():
    report = RunReport(title="t")
    report.verdicts += [
        Verdict("policy", "no failure", True, "3 passed", where_to_look="reports/x.xml"),
        Verdict("artifacts", "agree", False, "1 error(s)", where_to_look="taskdef.json:cpu: error TD010"),
    ]
    text = report.render()
    assert "PASS  policy" in text and "FAIL  artifacts" in text
    assert "look at: taskdef.json:cpu: error TD010" in text
    assert "reports/x.xml" not in text  # a passing verdict needs no pointer
    assert not report.passed
    assert text.splitlines()[-1].startswith("FAILED: 1 passed, 1 failed, 0 skipped")


def test_report_with_no_verdicts_does_not_pass():
    assert not RunReport(title="empty").passed


def test_skipped_verdicts_neither_pass_nor_fail_the_report():
    report = RunReport(title="t", verdicts=[Verdict("policy", "ok", True)])
    report.verdicts.append(Verdict("bluegreen", "traffic shifts", False, "no CodeDeploy here", skipped=True))
    text = report.render()
    assert report.passed and "SKIP  bluegreen" in text and "no CodeDeploy here" in text
    assert text.splitlines()[-1].startswith("PASSED: 1 passed, 0 failed, 1 skipped")
    only_skipped = RunReport(title="t", verdicts=[Verdict("x", "y", False, skipped=True)])
    assert not only_skipped.passed


def test_notes_say_what_was_not_checked_without_changing_the_outcome():
    report = RunReport(title="t", verdicts=[Verdict("policy", "ok", True)])
    report.notes.append("GitLab's health not checked: no GitLab configured")
    lines = report.render().splitlines()
    assert lines[lines.index("Notes") + 1] == "  - GitLab's health not checked: no GitLab configured"
    assert report.passed and lines[-1].startswith("PASSED: 1 passed, 0 failed, 0 skipped")


def test_timeline_lines_carry_stage_action_status_and_duration():
    report = RunReport(title="t", verdicts=[Verdict("mirror", "one execution", True)])
    report.timeline.append(
        TimelineEntry(
            "Build",
            "BuildImage",
            "Succeeded",
            datetime(2026, 1, 1, 10, 0, 0),
            datetime(2026, 1, 1, 10, 0, 42),
        )
    )
    assert "10:00:00  Build      BuildImage               Succeeded   42.0s" in report.render()


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the reference project the test can break without touching the repository."""
    for name in ("fixtures", "policies"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "harness.yaml", tmp_path / "harness.yaml")
    return tmp_path


def test_run_fails_and_points_at_the_broken_artifact(project_copy: Path, capsys):
    appspec = project_copy / "fixtures/app/appspec.yml"
    appspec.write_text(appspec.read_text().replace("ContainerPort: 8080", "ContainerPort: 9999"))
    code = main(["run", "--static-only", "--config", str(project_copy / "harness.yaml")])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  artifacts" in out
    assert "appspec.yml" in out and "9999" in out
    assert (project_copy / "reports/policy/junit.xml").is_file()


def test_run_with_unreadable_config_exits_2_with_one_line(tmp_path: Path, capsys):
    (tmp_path / "harness.yaml").write_text("accounts: [\n")
    assert main(["run", "--config", str(tmp_path / "harness.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot parse YAML" in err


def test_quiet_run_keeps_library_warnings_off_stderr(project_copy: Path, capsys, monkeypatch):
    """--quiet: no progress lines, and no logger warning from the layers (e.g. moto's) either."""
    import logging

    from gitops_harness import run as run_module

    seen = {}

    def noisy_pipeline(config, target, progress):
        progress("this progress line must not show")
        # pytest's log capture would swallow the record anyway: ask logging whether it would be emitted
        seen["warning emitted"] = logging.getLogger("moto").isEnabledFor(logging.WARNING)
        seen["error emitted"] = logging.getLogger("moto").isEnabledFor(logging.ERROR)
        return [], []

    monkeypatch.setattr(run_module, "pipeline_verdicts", noisy_pipeline)
    monkeypatch.setattr(run_module, "policy_verdicts", lambda config: [Verdict("policy", "ok", True)])
    try:
        code = main(["run", "--quiet", "--config", str(project_copy / "harness.yaml")])
    finally:
        logging.disable(logging.NOTSET)
    out, err = capsys.readouterr()
    assert code == 0 and out.splitlines() == [out.strip()] and out.startswith("PASSED: ")  # one line
    assert err == ""
    assert seen == {"warning emitted": False, "error emitted": True}


def test_quiet_summary_is_the_outcome_line_and_one_line_per_failure():
    report = RunReport(title="t")
    report.verdicts += [
        Verdict("policy", "no failure", True, "3 passed", where_to_look="reports/x.xml"),
        Verdict("artifacts", "agree", False, "1 error(s)", where_to_look="taskdef.json:cpu: error TD010"),
        Verdict("deploy", "green", False, skipped=True),
    ]
    assert report.summary().splitlines() == [
        "FAIL  artifacts  agree; look at: taskdef.json:cpu: error TD010",
        report.render().splitlines()[-1],
    ]
