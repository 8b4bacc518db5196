"""`gitops-harness validate-artifacts` end to end through cli.main: exit codes, one-line errors, formats,
and the --template cross-checks against tests/artifact_fixtures/pipeline.yaml."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from artifact_strategies import FIXTURE_TEMPLATE, ArtifactSet, valid_sets
from gitops_harness.artifacts.validate import validate_directory
from gitops_harness.cli import main

TEMPLATE = str(FIXTURE_TEMPLATE)


@pytest.fixture(scope="module")
def example() -> ArtifactSet:
    """One generated valid set, shaped like the fixture template expects (app/8080/IMAGE1_NAME/appspec.yml)."""
    found: list[ArtifactSet] = []

    @settings(max_examples=1, database=None, suppress_health_check=list(HealthCheck))
    @given(valid_sets())
    def take(s: ArtifactSet) -> None:
        found.append(s)

    take()
    s = found[0]
    app = s.taskdef["containerDefinitions"][0]
    app.update(name="app", image="<IMAGE1_NAME>", portMappings=[{"containerPort": 8080}])
    s.taskdef["containerDefinitions"] = [app]
    lb = s.appspec["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"]
    lb.update(ContainerName="app", ContainerPort=8080)
    s.appspec_name = "appspec.yml"
    s.buildspec["artifacts"] = {
        "files": ["taskdef.json", "imageDetail.json", "appspec.yml"],
        "discard-paths": "yes",
    }
    return s


@pytest.fixture
def good_dir(tmp_path: Path, example: ArtifactSet) -> Path:
    return example.write(tmp_path)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["validate-artifacts", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_directory_exits_0(capsys: pytest.CaptureFixture[str], good_dir: Path) -> None:
    code, out, _ = cli(capsys, str(good_dir), "--template", TEMPLATE)
    assert (code, out.strip()) == (0, "0 error(s), 0 warning(s)")
    assert cli(capsys, str(good_dir))[0] == 0


def test_errors_exit_1_with_file_location_and_rule(
    capsys: pytest.CaptureFixture[str], good_dir: Path
) -> None:
    (good_dir / "appspec.yml").write_text((good_dir / "appspec.yml").read_text().replace("8080", "8081"))
    code, out, _ = cli(capsys, str(good_dir))
    assert code == 1
    assert f"{good_dir / 'appspec.yml'}:line " in out and "error AS008" in out


def test_warnings_fail_only_with_strict(capsys: pytest.CaptureFixture[str], good_dir: Path) -> None:
    detail = json.loads((good_dir / "imageDetail.json").read_text())
    detail["ImageURI"] = detail["ImageURI"].split("@")[0].split(":v1")[0] + ":latest"
    (good_dir / "imageDetail.json").write_text(json.dumps(detail))
    assert cli(capsys, str(good_dir))[0] == 0
    code, out, _ = cli(capsys, str(good_dir), "--strict")
    assert code == 1 and "warning ID005" in out


def test_json_format(capsys: pytest.CaptureFixture[str], good_dir: Path) -> None:
    (good_dir / "taskdef.json").write_text(json.dumps({"taskDefinition": {"family": "x"}}))
    code, out, _ = cli(capsys, str(good_dir), "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["errors"] >= 1
    assert {"file", "location", "rule_id", "severity", "message", "source"} <= set(report["findings"][0])
    assert "TD002" in {f["rule_id"] for f in report["findings"]}


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing-dir", "not a directory"),
        ("broken-json", "taskdef.json:2: cannot parse JSON"),
        ("broken-yaml", "appspec.yml:3: cannot parse YAML"),
        ("missing-template", "template not found"),
        ("no-deploy-action", "no pipeline action with Provider CodeDeployToECS"),
    ],
)
def test_unreadable_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], good_dir: Path, setup: str, expected: str
) -> None:
    args = [str(good_dir)]
    if setup == "missing-dir":
        args = [str(good_dir / "nope")]
    elif setup == "broken-json":
        (good_dir / "taskdef.json").write_text('{"family": "x",\n  ]')
    elif setup == "broken-yaml":
        (good_dir / "appspec.yml").write_text("version: 0.0\nResources:\n\tbad: tab\n")
    elif setup == "missing-template":
        args += ["--template", str(good_dir / "none.yaml")]
    else:
        (good_dir / "other.yaml").write_text("Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n")
        args += ["--template", str(good_dir / "other.yaml")]
    code, out, err = cli(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err


def test_template_appspec_path_default_vs_yml(
    capsys: pytest.CaptureFixture[str], good_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    template = tmp_path_factory.mktemp("tpl") / "pipeline.yaml"
    template.write_text(
        FIXTURE_TEMPLATE.read_text().replace("                AppSpecTemplatePath: appspec.yml\n", "")
    )
    code, out, _ = cli(capsys, str(good_dir), "--template", str(template))
    assert code == 1 and "XC002" in out and "set AppSpecTemplatePath: appspec.yml" in out
    assert f"{template}:line " in out


def test_template_image1_container_name_mismatch(capsys: pytest.CaptureFixture[str], good_dir: Path) -> None:
    (good_dir / "taskdef.json").write_text(
        (good_dir / "taskdef.json").read_text().replace("<IMAGE1_NAME>", "<APP>")
    )
    code, out, _ = cli(capsys, str(good_dir), "--template", TEMPLATE)
    assert code == 1 and "XC001" in out
    # Without a template the default placeholder rule reports it instead.
    assert "TD013" in cli(capsys, str(good_dir))[1]


def test_template_target_group_port_and_buildspec_exports(
    capsys: pytest.CaptureFixture[str], good_dir: Path
) -> None:
    for name in ("appspec.yml", "taskdef.json"):
        (good_dir / name).write_text((good_dir / name).read_text().replace("8080", "9000"))
    (good_dir / "buildspec.yml").write_text("version: 0.2\nartifacts:\n  files: [build/*]\n")
    code, out, _ = cli(capsys, str(good_dir), "--template", TEMPLATE)
    lines = out.splitlines()
    # Only the deployment group's target groups count (the unrelated one is on 9000).
    assert sum("XC004" in line for line in lines) == 2
    assert sum("XC007" in line for line in lines) == 3 and code == 1


def test_source_dir_without_image_detail_is_fine_but_build_output_is_not(
    capsys: pytest.CaptureFixture[str], good_dir: Path
) -> None:
    (good_dir / "imageDetail.json").unlink()
    assert cli(capsys, str(good_dir), "--template", TEMPLATE)[0] == 0
    (good_dir / "buildspec.yml").unlink()
    code, out, _ = cli(capsys, str(good_dir), "--template", TEMPLATE)
    assert code == 1 and "ID000" in out


def test_one_directory_validates_well_under_100ms(good_dir: Path) -> None:
    validate_directory(good_dir, TEMPLATE)  # loads botocore's model once
    runs = 20
    start = time.perf_counter()
    for _ in range(runs):
        validate_directory(good_dir)
    assert (time.perf_counter() - start) / runs < 0.05


def test_reference_like_copy_of_fixture_app_if_present(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = Path(__file__).parents[1] / "fixtures" / "app"
    target = shutil.copytree(app, tmp_path / "app")
    assert cli(capsys, str(target), "--template", TEMPLATE)[0] == 0


def test_junit_report_fails_the_broken_file_and_passes_the_others(
    capsys: pytest.CaptureFixture[str], good_dir: Path, tmp_path: Path
) -> None:
    import xml.etree.ElementTree as ET

    (good_dir / "appspec.yml").write_text((good_dir / "appspec.yml").read_text().replace("8080", "8081"))
    report = tmp_path / "reports" / "junit.xml"
    code, _, _ = cli(capsys, str(good_dir), "--template", TEMPLATE, "--junit", str(report))
    assert code == 1
    cases = ET.parse(report).getroot().iter("testcase")
    outcome = {c.get("file"): c.find("failure") is not None for c in cases}
    assert outcome[str(good_dir / "appspec.yml")] is True
    assert outcome[str(good_dir / "taskdef.json")] is False


def test_junit_has_one_case_per_artifact_file_whatever_fails_in_it(
    capsys: pytest.CaptureFixture[str], good_dir: Path, tmp_path: Path
) -> None:
    import xml.etree.ElementTree as ET

    appspec = good_dir / "appspec.yml"
    appspec.write_text(appspec.read_text().replace("8080", "8081").replace("version: 0.0", "version: 9.9"))
    report = tmp_path / "junit.xml"
    code, out, _ = cli(capsys, str(good_dir), "--junit", str(report))
    assert code == 1 and out.count(str(appspec)) >= 2  # two findings in the one file
    cases = list(ET.parse(report).getroot().iter("testcase"))
    files = [c.get("file") for c in cases]
    assert sorted(files) == sorted({str(p) for p in good_dir.iterdir() if p.is_file()} & set(files))
    assert len(files) == len(set(files))  # one case per file
    names = {c.get("name") for c in cases}
    assert str(appspec) in names  # the id is the file: it stays when the file's failures change
