"""The pipeline layer of `gitops-harness run` on the embedded target: each step judged in order, the
run's timeline, and a broken build stopping the run at the step that failed.

Each run happens in a fresh interpreter, as `gitops-harness run` does: moto's state is process-wide,
and these runs deploy the same stacks as the suites' session pipeline."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitops_harness.deployments import ECS_LIFECYCLE

REPO = Path(__file__).resolve().parents[1]
RUN_LAYER = """
import dataclasses, json, sys
from gitops_harness.config import load_config
from gitops_harness.pipeline_layer import pipeline_verdicts
progress = []
verdicts, timeline = pipeline_verdicts(load_config(sys.argv[1]), "embedded", progress.append)
print(json.dumps({
    "verdicts": [dataclasses.asdict(v) for v in verdicts],
    "timeline": [[t.stage, t.action, t.status] for t in timeline],
    "progress": progress,
}))
"""


def _run_layer(config_path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", RUN_LAYER, str(config_path)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_reference_pipeline_runs_to_the_deploy_stage_with_a_timeline():
    run = _run_layer(REPO / "harness.yaml")
    checked = [v for v in run["verdicts"] if not v["skipped"]]
    assert [v["assertion"] for v in checked if not v["passed"]] == []
    assert {v["area"] for v in checked} >= {"stacks", "mirror", "approval", "artifacts"}
    # chat posts interleave by time (the build-finished post may come before the approval starts)
    pipeline_rows = [(stage, status) for stage, _, status in run["timeline"] if stage != "Chat"]
    assert pipeline_rows[:3] == [("Source", "Succeeded"), ("Build", "Succeeded"), ("Approve", "Succeeded")]
    assert pipeline_rows[3][0] == "Deploy"
    [notify] = [v for v in run["verdicts"] if v["area"] == "notify"]
    assert not notify["skipped"], notify["detail"]  # the embedded target runs the notifier for real
    assert notify["passed"], notify["detail"]
    # each chat post is a row; the build-finished and approval-needed posts race (two SNS deliveries
    # started a moment apart, as on AWS), the traffic shift's comes last
    chat_rows = [action for stage, action, _ in run["timeline"] if stage == "Chat"]
    assert sorted(chat_rows[:2]) == ["post: approval needed", "post: build finished"]
    assert chat_rows[2:] == ["post: traffic shifted"]
    [bluegreen] = [v for v in run["verdicts"] if v["area"] == "bluegreen"]
    if not bluegreen["skipped"]:  # the target runs blue/green: each lifecycle event and weight step is a row
        codedeploy_rows = [action for stage, action, _ in run["timeline"] if stage == "CodeDeploy"]
        assert set(ECS_LIFECYCLE) <= set(codedeploy_rows)
        assert codedeploy_rows.count("prod weights") >= 2
        assert "ECSCanary10Percent5Minutes" in bluegreen["detail"]  # the reference config, named
    assert any("tearing the stacks down" in m for m in run["progress"])
    # What the embedded target cannot check yet is reported as skipped, with the reason.
    assert all(v["detail"] for v in run["verdicts"] if v["skipped"])


@pytest.fixture
def broken_app_config(tmp_path: Path) -> Path:
    for name in ("fixtures", "policies"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "harness.yaml", tmp_path / "harness.yaml")
    dockerfile = tmp_path / "fixtures/app/Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "COPY missing-file.txt /app/\n")
    return tmp_path / "harness.yaml"


def test_a_failing_build_stops_the_run_at_the_approval_step(broken_app_config):
    run = _run_layer(broken_app_config)
    failed = [v for v in run["verdicts"] if not v["passed"] and not v["skipped"]]
    assert [v["area"] for v in failed] == ["approval"]
    assert "Build.BuildImage=Failed" in failed[0]["detail"]
    assert not any(v["area"] == "artifacts" for v in run["verdicts"])  # later steps were not run
    assert ["Build", "BuildImage", "Failed"] in run["timeline"]
