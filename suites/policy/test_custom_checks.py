"""Every custom check against its pass/fail fixtures, judged by the real checkov (one run per session)."""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from gitops_harness.config import load_config
from gitops_harness.policy.cfnlint_scan import run_cfn_lint
from gitops_harness.policy.checkov_env import checkov_executable
from gitops_harness.policy.checkov_scan import OFFLINE_ENV, checkov_command

FIXTURES = Path(__file__).parent / "fixtures"
POLICIES_DIR = load_config(Path(__file__).resolve().parents[2] / "harness.yaml").policy.checks_dir
CHECK_OF_FIXTURE = {
    "approval_before_deploy": "CKV_GITOPS_1",
    "bluegreen_rollback": "CKV_GITOPS_2",
    "artifact_store_cmk": "CKV_GITOPS_3",
    "cross_account_trust": "CKV_GITOPS_4",
    "event_based_source": "CKV_GITOPS_5",
    "notification_coverage": "CKV_GITOPS_6",
    "code_deploy_controller": "CKV_GITOPS_7",
    "codebuild_privileged": "CKV_GITOPS_8",
    "ecs_logging": "CKV_GITOPS_9",
}


@pytest.fixture(scope="session")
def checkov_results() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(fixture path relative to FIXTURES, check id) -> [(resource, PASSED|FAILED|SKIPPED)]."""
    templates = sorted(FIXTURES.rglob("*.yaml"))
    command = checkov_command(checkov_executable(), templates, POLICIES_DIR)
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, **OFFLINE_ENV}
    )
    assert proc.stdout.startswith(("{", "[")), f"checkov produced no report: {proc.stderr[-2000:]}"
    report = json.loads(proc.stdout)
    results: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for entry in report if isinstance(report, list) else [report]:
        for kind in ("passed_checks", "failed_checks", "skipped_checks"):
            for record in entry["results"].get(kind, []):
                relative = Path(record["file_abs_path"]).resolve().relative_to(FIXTURES.resolve()).as_posix()
                results[(relative, record["check_id"])].append(
                    (record["resource"], record["check_result"]["result"])
                )
    return results


def test_every_custom_check_has_fixtures() -> None:
    check_files = sorted(p.stem for p in POLICIES_DIR.glob("gitops_*.py") if p.stem != "gitops_cfn")
    assert len(check_files) == len(CHECK_OF_FIXTURE)
    for folder in CHECK_OF_FIXTURE:
        assert (FIXTURES / folder / "pass.yaml").is_file() and (FIXTURES / folder / "fail.yaml").is_file()


@pytest.mark.parametrize("folder", sorted(CHECK_OF_FIXTURE))
def test_pass_fixture_passes(checkov_results, folder: str) -> None:
    results = checkov_results[(f"{folder}/pass.yaml", CHECK_OF_FIXTURE[folder])]
    assert results, f"{CHECK_OF_FIXTURE[folder]} did not run on {folder}/pass.yaml (crashed or not loaded?)"
    assert all(verdict == "PASSED" for _, verdict in results), results


@pytest.mark.parametrize("folder", sorted(CHECK_OF_FIXTURE))
def test_fail_fixture_fails_every_variant(checkov_results, folder: str) -> None:
    results = checkov_results[(f"{folder}/fail.yaml", CHECK_OF_FIXTURE[folder])]
    assert results, f"{CHECK_OF_FIXTURE[folder]} did not run on {folder}/fail.yaml (crashed or not loaded?)"
    assert all(verdict == "FAILED" for _, verdict in results), results


def test_fixtures_are_valid_cloudformation() -> None:
    outcome = run_cfn_lint(sorted(FIXTURES.rglob("*.yaml")))
    assert outcome.failed == 0, [f.one_line() for f in outcome.findings]
