"""`validate-artifacts --build`: the buildspec runs on the embedded CodeBuild (docker stand-in, AWS CLI) and
the artifact it exported is validated. Each test is one real build (about 20 s)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gitops_harness.cli import main

APP = Path(__file__).parents[1] / "fixtures" / "app"
pytestmark = pytest.mark.slow


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["validate-artifacts", *args])
    return code, capsys.readouterr().out


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
