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
def built(pipeline) -> tuple[str, dict[str, bytes]]:
    """(commit, files of the Build stage's output artifact) for one push."""
    sha = pipeline.push_app({"VERSION": "4.0.0\n"}, "artifacts under test")
    try:
        execution = pipeline.wait_for_execution(sha, timeout=TRIGGER_DEADLINE)
        approval = pipeline.wait_for_approval(execution["pipelineExecutionId"], timeout=BUILD_DEADLINE)
        return sha, pipeline.output_artifact(approval.execution_id)
    finally:
        pipeline.stop_running_executions("artifacts read")


@pytest.fixture(scope="module")
def build_output(built) -> dict[str, bytes]:
    return built[1]


def test_build_output_holds_exactly_what_the_deploy_action_reads(build_output):
    assert sorted(build_output) == ["appspec.yml", "imageDetail.json", "taskdef.json"]


def test_build_output_passes_validate_artifacts_against_the_pipeline(build_output, harness_config):
    template = load_template(harness_config.templates.pipeline)
    findings = validate_files(build_output, template, build_output=True)
    assert [f.one_line() for f in findings if f.severity is Severity.ERROR] == []


def test_image_detail_digest_exists_in_ecr(build_output, pipeline):
    image_uri = json.loads(build_output["imageDetail.json"])["ImageURI"]
    digest = image_uri.partition("@")[2]
    assert digest.startswith("sha256:"), image_uri
    assert [i["imageDigest"] for i in pipeline.ecr_images(image_uri)] == [digest]
    assert image_uri.startswith(pipeline.deployment.ecr_repository_uri + "@")


def test_image_is_tagged_with_the_pushed_commit(built, pipeline):
    """The build saw the commit as CODEBUILD_RESOLVED_SOURCE_VERSION and tagged the image with it."""
    sha, files = built
    image_uri = json.loads(files["imageDetail.json"])["ImageURI"]
    [image] = pipeline.ecr_images(image_uri)
    assert any(tag.startswith(sha[:12] + "-") for tag in image["imageTags"]), image["imageTags"]


def test_taskdef_keeps_the_image_placeholder_and_nothing_else_unrendered(build_output):
    taskdef = json.loads(build_output["taskdef.json"])
    images = {c["name"]: c["image"] for c in taskdef["containerDefinitions"]}
    assert images["app"] == "<IMAGE1_NAME>"
    assert "${" not in build_output["taskdef.json"].decode()  # the build filled every ${NAME}
    assert b"<TASK_DEFINITION>" in build_output["appspec.yml"]
