"""The reference sample app validates cleanly against the reference pipeline template."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_harness.artifacts.validate import validate_directory
from gitops_harness.cli import main

ROOT = Path(__file__).parents[1]
APP = ROOT / "fixtures" / "app"
TEMPLATE = ROOT / "fixtures" / "pipeline" / "pipeline-account.yaml"


def test_reference_fixtures_have_no_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_directory(APP, TEMPLATE) == []
    assert main(["validate-artifacts", str(APP), "--template", str(TEMPLATE), "--strict"]) == 0
    assert capsys.readouterr().out.strip() == "0 error(s), 0 warning(s)"


def test_reference_fixtures_are_checked_not_skipped() -> None:
    # The clean result must come from real checks: break the app's port and it must be caught.
    from gitops_harness.artifacts.validate import validate_files

    files = {p.name: p.read_bytes() for p in APP.iterdir() if p.is_file()}
    files["appspec.yml"] = files["appspec.yml"].replace(b"ContainerPort: 8080", b"ContainerPort: 8081")
    from gitops_harness.cfn_template import load_template

    rules = {f.rule_id for f in validate_files(files, load_template(TEMPLATE))}
    assert {"AS008", "XC004"} <= rules
