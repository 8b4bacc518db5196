"""`validate-artifacts --build`: the buildspec runs on the embedded CodeBuild (docker stand-in, AWS CLI) and
the artifact it exported is validated. Each test is one real build (about 20 s)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gitops_harness.cli import main

APP = Path(__file__).parents[1] / "fixtures" / "app"
TEMPLATE = Path(__file__).parents[1] / "fixtures" / "pipeline" / "pipeline-account.yaml"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["validate-artifacts", *args])
    return code, capsys.readouterr().out


@pytest.mark.slow
def test_reference_app_builds_and_its_artifact_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = cli(capsys, str(APP), "--build", "--format", "json")
    report = json.loads(out)
    assert code == 0, out
    assert report["build"]["status"] == "SUCCEEDED"
    assert report["build"]["artifacts"] == {
        "build output": ["appspec.yml", "imageDetail.json", "taskdef.json"]
    }
    # The project's environment is stood in for by name, and the output says so.
    assert report["build"]["stand_ins"]["REPOSITORY_URI"].endswith(".dkr.ecr.us-east-1.amazonaws.com/app")
    assert report["errors"] == report["warnings"] == 0


@pytest.mark.slow
def test_forgotten_image_detail_and_a_failing_command_are_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = shutil.copytree(APP, tmp_path / "app")
    buildspec = (app / "buildspec.yml").read_text()
    assert "    - imageDetail.json\n" in buildspec
    buildspec = buildspec.replace("    - imageDetail.json\n", "")
    # A check that fails at the end of post_build: the build fails, the artifact is still uploaded.
    buildspec = buildspec.replace(
        "      - |-\n        ! grep -n '[$]{' taskdef.json\n",
        "      - |-\n        ! grep -n '[$]{' taskdef.json\n      - echo checking the release notes; test -s RELEASE_NOTES.md\n",
    )
    (app / "buildspec.yml").write_text(buildspec)

    # Static mode names the missing export already.
    code, out = cli(capsys, str(app))
    assert code == 1 and "BS001" in out and "imageDetail.json" in out

    code, out = cli(capsys, str(app), "--build")
    assert code == 1
    assert "build: FAILED" in out
    failed = [line for line in out.splitlines() if "error BLD001" in line]
    assert len(failed) == 1 and "test -s RELEASE_NOTES.md" in failed[0] and "exit status 1" in failed[0]
    assert failed[0].startswith(f"{app / 'buildspec.yml'}:line ")
    assert "    | checking the release notes" in out  # the command's own log lines
    assert "build output/imageDetail.json:(missing): error ID000" in out


def test_plan_follows_the_template_project_and_stands_in_for_its_environment() -> None:
    from gitops_harness.artifacts.build_run import _plan
    from gitops_harness.cfn_template import load_template

    plan = _plan(APP, load_template(TEMPLATE), {"LOG_GROUP": "/mine"})
    assert plan.buildspec == "buildspec.yml" and not plan.inline
    assert plan.project is not None and plan.project.image == "aws/codebuild/standard:7.0"
    # !GetAtt Repository.RepositoryUri and !Ref Repository become the throwaway repository; --env wins.
    assert (
        plan.stand_ins["REPOSITORY_URI"]
        == f"{plan.account}.dkr.ecr.us-east-1.amazonaws.com/{plan.repository}"
    )
    assert plan.stand_ins["REPOSITORY_NAME"] == plan.repository
    assert plan.stand_ins["TASK_EXECUTION_ROLE_ARN"].startswith(f"arn:aws:iam::{plan.account}:role/")
    assert "LOG_GROUP" not in plan.stand_ins and plan.variables["LOG_GROUP"] == "/mine"
    # Each plan has an account of its own (moto's state lives as long as the process).
    assert _plan(APP, None, {}).account != plan.account


def test_secondary_artifact_is_built_as_the_primary_of_its_own_build(tmp_path: Path) -> None:
    import yaml

    from gitops_harness.artifacts.build_run import BuildRun, _Build, _plan

    (tmp_path / "buildspec.yml").write_text(
        "version: 0.2\nphases:\n  build:\n    commands: [echo hi > a.txt]\n"
        "artifacts:\n  files: [a.txt]\n  secondary-artifacts:\n    Extra:\n      files: [b.txt]\n"
        "      discard-paths: yes\n"
    )
    build = _Build("http://127.0.0.1:1", tmp_path, _plan(tmp_path, None, {}), BuildRun(), 60)
    rewritten = yaml.safe_load(build._as_primary("Extra"))
    assert rewritten["artifacts"] == {"files": ["b.txt"], "discard-paths": True}
    assert rewritten["phases"] == {"build": {"commands": ["echo hi > a.txt"]}}


def test_build_on_a_directory_without_buildspec_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["validate-artifacts", str(tmp_path), "--build"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no buildspec to build with" in err
    assert main(["validate-artifacts", str(APP), "--build", "--env", "no-equals"]) == 2


@pytest.mark.slow
def test_each_secondary_artifact_is_built_and_validated(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for member in ("taskdef.json", "appspec.yml"):
        shutil.copy(APP / member, tmp_path / member)
    (tmp_path / "buildspec.yml").write_text(
        "version: 0.2\n"
        "phases:\n"
        "  build:\n"
        "    commands:\n"
        "      - >-\n"
        '        printf \'{"ImageURI":"%s"}\' "$REPOSITORY_URI@sha256:$(printf \'%064d\' 7)" > imageDetail.json\n'
        "      - for name in TASK_EXECUTION_ROLE_ARN TASK_ROLE_ARN AWS_REGION LOG_GROUP; do "
        'sed -i "s|\\${$name}|${!name}|g" taskdef.json; done\n'
        "artifacts:\n"
        "  files: [imageDetail.json]\n"
        "  secondary-artifacts:\n"
        "    DefinitionArtifact:\n"
        "      files: [taskdef.json]\n"
        "    ImageArtifact:\n"
        "      files: [imageDetail.json]\n"
    )
    code, out = cli(capsys, str(tmp_path), "--build", "--format", "json")
    report = json.loads(out)
    assert report["build"]["artifacts"] == {
        "build output": ["imageDetail.json"],
        "DefinitionArtifact": ["taskdef.json"],
        "ImageArtifact": ["imageDetail.json"],
    }
    # Static BS001 and the built artifacts agree: nothing exports the AppSpec file.
    assert code == 1
    rules = {(f["rule_id"], f["file"]) for f in report["findings"]}
    assert ("BS001", str(tmp_path / "buildspec.yml")) in rules
    assert ("AS000", "build output/appspec.yaml") in rules
    assert not [f for f in report["findings"] if f["rule_id"].startswith("TD")]  # the taskdef was filled
