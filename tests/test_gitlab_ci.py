""".gitlab-ci.yml against GitLab's CI JSON schema (app/assets/javascripts/editor/schema/ci.json in
gitlab-org/gitlab, as the check-jsonschema package vendors it: `vendor.gitlab-ci`), and the nightly
jobs' shape: scheduled only, OIDC ID token for STS, JUnit and the run report kept, sweep always."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _schema() -> dict[str, Any]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "gitlab-ci.json"
    return json.loads(vendored.read_text(encoding="utf-8"))


def _errors(ci: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(ci)]


@pytest.fixture(scope="module")
def ci() -> dict[str, Any]:
    return yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())


def test_gitlab_ci_validates_against_gitlabs_schema(ci: dict[str, Any]) -> None:
    assert _errors(ci) == []


def test_the_schema_check_can_fail(ci: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(ci))
    broken["nightly-sweep"]["rules"][0]["when"] = "sometimes"
    broken["nightly-smoke"]["id_tokens"] = {"AWS_ID_TOKEN": {"audience": "sts.amazonaws.com"}}
    assert len(_errors(broken)) >= 2


def test_the_nightly_jobs(ci: dict[str, Any]) -> None:
    nightly = ci[".nightly"]
    assert nightly["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert nightly["id_tokens"]["AWS_ID_TOKEN"]["aud"] == "sts.amazonaws.com"
    smoke = ci["nightly-smoke"]
    assert smoke["extends"] == ".nightly" and smoke["artifacts"]["when"] == "always"
    assert smoke["artifacts"]["reports"]["junit"] == "reports/nightly/junit.xml"
    assert any(
        "run --target aws" in line and "reports/nightly/run-report.txt" in line for line in smoke["script"]
    )
    sweep = ci["nightly-sweep"]
    assert sweep["stage"] == ".post"
    assert sweep["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"', "when": "always"}]
    assert any("sweep" in line and "--yes" in line for line in sweep["script"])
