"""Artifact correctness: what the Build stage really produced passes validate-artifacts, points at an
image that exists in ECR, and still carries the placeholders the deploy action fills."""

from __future__ import annotations

import json

import pytest
from conftest import BUILD_DEADLINE, TRIGGER_DEADLINE

from gitops_harness.artifacts.validate import validate_files
from gitops_harness.cfn_template import load_template
from gitops_harness.findings import Severity

pytestmark = [pytest.mark.suite("pipeline"), pytest.mark.suite("artifacts")]


@pytest.fixture(scope="module")
def build_output(pipeline) -> dict[str, bytes]:
    approval = pipeline.run_to_approval({"VERSION": "4.0.0\n"}, "artifacts under test",
                                        trigger_timeout=TRIGGER_DEADLINE, build_timeout=BUILD_DEADLINE)
    try:
        return pipeline.output_artifact(approval.execution_id)
    finally:
        pipeline.stop_running_executions("artifacts read")


def test_build_output_holds_exactly_what_the_deploy_action_reads(build_output):
    assert sorted(build_output) == ["appspec.yml", "imageDetail.json", "taskdef.json"]


def test_build_output_passes_validate_artifacts_against_the_pipeline(build_output, harness_config):
    template = load_template(harness_config.templates.pipeline)
    findings = validate_files(build_output, template, build_output=True)
    assert [f.one_line() for f in findings if f.severity is Severity.ERROR] == []


def test_image_detail_digest_exists_in_ecr(build_output, pipeline):
    image_uri = json.loads(build_output["imageDetail.json"])["ImageURI"]
    repository, _, digest = image_uri.split("/", 1)[1].partition("@")
    assert digest.startswith("sha256:"), image_uri
    ecr = pipeline.target.client("ecr", "pipeline")
    images = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])["imageDetails"]
    assert [i["imageDigest"] for i in images] == [digest]
    assert image_uri.startswith(pipeline.deployment.ecr_repository_uri + "@")


def test_taskdef_keeps_the_image_placeholder_and_nothing_else_unrendered(build_output):
    taskdef = json.loads(build_output["taskdef.json"])
    images = {c["name"]: c["image"] for c in taskdef["containerDefinitions"]}
    assert images["app"] == "<IMAGE1_NAME>"
    assert "${" not in build_output["taskdef.json"].decode()  # the build filled every ${NAME}
    assert b"<TASK_DEFINITION>" in build_output["appspec.yml"]
