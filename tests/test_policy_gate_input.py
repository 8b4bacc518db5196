"""The merge-request gate on broken input: a template that cannot be parsed is a finding (file:line,
in the text output and all three reports) and the other templates are still checked; exit 2 only
when a path does not exist or holds nothing that could be a template."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gitops_harness import cli
from gitops_harness.cfn_template import MAX_TEMPLATE_BYTES

GOOD = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
BROKEN = {
    "duplicate-keys": ("Resources:\n  A:\n    Type: AWS::SNS::Topic\n  A:\n    Type: AWS::SNS::Topic\n", 4),
    "bad-yaml": ("Resources:\n  A:\n    Type: [unclosed\n", 4),
    "unknown-tag": ("Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties:\n      X: !Bogus y\n", 5),
    "non-utf8": (b"Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: \xff}\n", 4),
    "top-level-list": ("- Resources\n- AWSTemplateFormatVersion: x\n", 1),
    "resources-not-a-mapping": ("AWSTemplateFormatVersion: '2010-09-09'\nResources: 5\n", 2),
}


@pytest.fixture(autouse=True)
def only_policy_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("gitops_harness.policy.command",))


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _gate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["policy", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_template_beside_a_good_one_is_a_finding_in_every_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    content, line = BROKEN[kind]
    folder = tmp_path / "templates"
    broken = _write(folder / "broken.yaml", content)
    good = _write(folder / "good.yaml", GOOD)
    reports = tmp_path / "reports"
    _write(reports / "junit.xml", "<testsuites/>")  # an old report must not survive and look current
    # a list at the top level has no top-level Resources key, so it is checked only when named
    paths = [str(broken), str(good)] if kind == "top-level-list" else [str(folder)]
    code, out, err = _gate(capsys, *paths, "--skip-checkov", "--output-dir", str(reports))
    assert (code, err) == (1, "")
    assert f"{broken}:{line} GITOPS_TEMPLATE_PARSE cannot parse template:" in out
    assert out.count("\n") < 12 and "Traceback" not in out
    junit = ET.parse(reports / "junit.xml").getroot()
    cases = {c.get("name"): c for c in junit.iter("testcase")}
    assert cases[f"GITOPS_TEMPLATE_PARSE {broken}"].find("failure") is not None
    assert cases[f"GITOPS_TEMPLATE_PARSE {good}"].find("failure") is None
    assert cases[f"cfn-lint {good}"].find("failure") is None  # the good template was still checked
    sarif = json.loads((reports / "results.sarif").read_text())
    (result,) = [r for run in sarif["runs"] for r in run["results"] if r["ruleId"] == "GITOPS_TEMPLATE_PARSE"]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == line
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("broken.yaml")
    sast = json.loads((reports / "gl-sast-report.json").read_text())
    (vulnerability,) = sast["vulnerabilities"]
    assert vulnerability["location"]["file"].endswith("broken.yaml")
    assert vulnerability["location"]["start_line"] == line


def test_template_starting_with_resources_on_line_1_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "t"
    minimal = _write(folder / "minimal.yaml", "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
    code, out, _ = _gate(capsys, str(folder), "--skip-checkov", "--output-dir", str(tmp_path / "r"))
    assert code == 0
    assert f"1 template(s): {minimal}" in out and "skipped" not in out


def test_files_that_are_not_templates_are_listed_as_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "t"
    _write(folder / "good.yaml", GOOD)
    params = _write(folder / "params.json", '[{"ParameterKey": "A", "ParameterValue": "b"}]')
    code, out, _ = _gate(capsys, str(folder), "--skip-checkov", "--output-dir", str(tmp_path / "r"))
    assert code == 0
    assert f"skipped, not templates: {params}" in out


@pytest.mark.parametrize("setup", ["missing", "no-templates", "empty-dir"])
def test_only_a_path_with_nothing_that_could_be_a_template_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: str
) -> None:
    target = tmp_path / "t"
    if setup == "no-templates":
        _write(target / "params.yaml", "Parameters: {}\n")
    elif setup == "empty-dir":
        target.mkdir()
    code, out, err = _gate(capsys, str(target), "--skip-checkov", "--output-dir", str(tmp_path / "r"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(target) in err


def test_template_over_cloudformations_limit_is_one_finding_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resources = "".join(f"  Topic{i}:\n    Type: AWS::SNS::Topic\n" for i in range(30_000))
    big = _write(tmp_path / "t" / "big.yaml", "Resources:\n" + resources)
    assert big.stat().st_size > MAX_TEMPLATE_BYTES
    _write(tmp_path / "t" / "good.yaml", GOOD)
    started = time.monotonic()
    code, out, _ = _gate(capsys, str(tmp_path / "t"), "--skip-checkov", "--output-dir", str(tmp_path / "r"))
    assert time.monotonic() - started < 5
    assert code == 1
    assert out.count("GITOPS_TEMPLATE_PARSE") == 1 and f"{big}:1 " in out and "1,048,576 bytes" in out


@pytest.mark.slow
def test_unknown_tag_is_a_finding_naming_the_file_not_a_checkov_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "t"
    bogus = _write(folder / "bogus.yaml", BROKEN["unknown-tag"][0])
    _write(folder / "good.yaml", GOOD)
    code, out, err = _gate(capsys, str(folder), "--output-dir", str(tmp_path / "r"), "--skip-cfn-lint")
    assert code == 1, err
    assert f"{bogus}:5 GITOPS_TEMPLATE_PARSE cannot parse template: unknown tag !Bogus" in out
    assert "checkov" in out  # checkov ran on the good template


def test_bad_input_leaves_no_old_report_looking_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    for name in ("junit.xml", "results.sarif", "gl-sast-report.json"):
        _write(reports / name, "from the last run")
    code, _, _ = _gate(capsys, str(tmp_path / "nope"), "--skip-checkov", "--output-dir", str(reports))
    assert code == 2
    assert list(reports.iterdir()) == []
