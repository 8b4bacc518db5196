"""The pipeline layer of `gitops-harness run` on the embedded target: each step judged in order, the
run's timeline, and a broken build stopping the run at the step that failed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitops_harness.config import load_config
from gitops_harness.pipeline_layer import pipeline_verdicts

REPO = Path(__file__).resolve().parents[1]


def _verdicts(config):
    messages: list[str] = []
    verdicts, timeline = pipeline_verdicts(config, "embedded", messages.append)
    return verdicts, timeline, messages


def test_reference_pipeline_runs_to_the_deploy_stage_with_a_timeline():
    verdicts, timeline, progress = _verdicts(load_config(REPO / "harness.yaml"))
    checked = [v for v in verdicts if not v.skipped]
    assert [v.assertion for v in checked if not v.passed] == []
    assert {v.area for v in checked} >= {"stacks", "mirror", "approval", "artifacts"}
    assert [(t.stage, t.status) for t in timeline][:3] == [
        ("Source", "Succeeded"), ("Build", "Succeeded"), ("Approve", "Succeeded")]
    assert timeline[3].stage == "Deploy"
    assert any("tearing the stacks down" in m for m in progress)
    # What the embedded target cannot check yet is reported as skipped, with the reason.
    assert all(v.detail for v in verdicts if v.skipped)


@pytest.fixture
def broken_app_config(tmp_path: Path):
    for name in ("fixtures", "policies"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "harness.yaml", tmp_path / "harness.yaml")
    dockerfile = tmp_path / "fixtures/app/Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "COPY missing-file.txt /app/\n")
    return load_config(tmp_path / "harness.yaml")


def test_a_failing_build_stops_the_run_at_the_approval_step(broken_app_config):
    verdicts, timeline, _ = _verdicts(broken_app_config)
    failed = [v for v in verdicts if not v.passed and not v.skipped]
    assert [v.area for v in failed] == ["approval"]
    assert "Build.BuildImage=Failed" in failed[0].detail
    assert not any(v.area == "artifacts" for v in verdicts)  # later steps were not run
    assert ("Build", "Failed") in [(t.stage, t.status) for t in timeline]
