"""CodePipeline pipeline CRUD and the structure rules CreatePipeline enforces (no executions here)."""

from __future__ import annotations

import copy

import pytest
from shape_samples.codepipeline import declaration

from gitops_harness.emulator.codepipeline.plane import CodePipeline
from gitops_harness.emulator.testing import running_emulator

ACCOUNT = "333333333311"
ARTIFACTS = "cp-api-artifacts-333333333311"  # bucket names are global: not the shape samples' bucket


@pytest.fixture(scope="module")
def cp():
    with running_emulator(planes=[CodePipeline]) as aws:
        aws.client("s3", account=ACCOUNT).create_bucket(Bucket=ARTIFACTS)
        yield aws.client("codepipeline", account=ACCOUNT)


def named(name: str) -> dict:
    pipeline = declaration()
    pipeline["name"] = name
    pipeline["artifactStore"]["location"] = ARTIFACTS
    return pipeline


def test_create_get_update_list_delete(cp):
    created = cp.create_pipeline(pipeline=named("crud"), tags=[{"key": "k", "value": "v"}])["pipeline"]
    assert created["version"] == 1 and created["executionMode"] == "SUPERSEDED"
    got = cp.get_pipeline(name="crud")
    assert got["pipeline"]["stages"] == named("crud")["stages"]
    assert got["metadata"]["pipelineArn"] == f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:crud"
    with pytest.raises(cp.exceptions.PipelineNameInUseException):
        cp.create_pipeline(pipeline=named("crud"))
    updated = named("crud")
    updated["stages"][1]["actions"][0]["configuration"]["CustomData"] = "v2"
    assert cp.update_pipeline(pipeline=updated)["pipeline"]["version"] == 2
    assert (
        cp.get_pipeline(name="crud", version=1)["pipeline"]["stages"][1]["actions"][0]["configuration"][
            "CustomData"
        ]
        != "v2"
    )
    assert [p["name"] for p in cp.list_pipelines()["pipelines"]] == ["crud"]
    arn = got["metadata"]["pipelineArn"]
    assert cp.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "k", "value": "v"}]
    cp.delete_pipeline(name="crud")
    with pytest.raises(
        cp.exceptions.PipelineNotFoundException, match="does not have a pipeline with name 'crud'"
    ):
        cp.get_pipeline(name="crud")


def test_an_artifact_bucket_that_does_not_exist_is_refused(cp):
    # CodePipeline validates the artifact store's bucket on create and update (CloudFormation then
    # reports "An error occurred while validating the artifact bucket ...")
    missing = named("no-bucket")
    missing["artifactStore"]["location"] = "no-such-artifact-bucket-for-cp"
    with pytest.raises(cp.exceptions.InvalidStructureException) as raised:
        cp.create_pipeline(pipeline=missing)
    assert raised.value.response["Error"]["Message"] == (
        "An error occurred while validating the artifact bucket 'no-such-artifact-bucket-for-cp'"
    )
    cp.create_pipeline(pipeline=named("bucket-gone"))
    moved = named("bucket-gone")
    moved["artifactStore"]["location"] = "no-such-artifact-bucket-for-cp"
    with pytest.raises(cp.exceptions.InvalidStructureException):
        cp.update_pipeline(pipeline=moved)
    assert cp.get_pipeline(name="bucket-gone")["pipeline"]["artifactStore"]["location"] == ARTIFACTS
    cp.delete_pipeline(name="bucket-gone")


def _break(change):
    pipeline = named("broken")
    change(pipeline)
    return pipeline


STRUCTURE_ERRORS = {
    "one stage": (lambda p: p["stages"].pop(), "InvalidStructureException", "at least two stages"),
    "no artifact store": (lambda p: p.pop("artifactStore"), "InvalidStructureException", "artifact store"),
    "approval first": (
        lambda p: p["stages"].reverse(),
        "InvalidStructureException",
        "must contain only source actions",
    ),
    "source later": (
        lambda p: p["stages"][1]["actions"].append(
            copy.deepcopy(p["stages"][0]["actions"][0]) | {"name": "S2"}
        ),
        "InvalidStructureException",
        "source actions are allowed only in the first stage",
    ),
    "duplicate stage": (
        lambda p: p["stages"][1].update(name="Source"),
        "InvalidStructureException",
        "Stage name 'Source' is used more than once",
    ),
    "unknown input": (
        lambda p: p["stages"][1]["actions"].append(
            {
                "name": "Build",
                "actionTypeId": {
                    "category": "Build",
                    "owner": "AWS",
                    "provider": "CodeBuild",
                    "version": "1",
                },
                "configuration": {"ProjectName": "x"},
                "inputArtifacts": [{"name": "Nope"}],
            }
        ),
        "InvalidStructureException",
        "Input artifact 'Nope'",
    ),
    "missing configuration": (
        lambda p: p["stages"][0]["actions"][0]["configuration"].pop("S3Bucket"),
        "InvalidActionDeclarationException",
        "missing required configuration 'S3Bucket'",
    ),
    "V1 queued": (
        lambda p: p.update(pipelineType="V1", executionMode="QUEUED"),
        "InvalidStructureException",
        "only supported for pipelines of type V2",
    ),
}


@pytest.mark.parametrize("case", STRUCTURE_ERRORS, ids=list(STRUCTURE_ERRORS))
def test_structure_errors(cp, case):
    change, code, message = STRUCTURE_ERRORS[case]
    with pytest.raises(cp.exceptions.ClientError) as raised:
        cp.create_pipeline(pipeline=_break(change))
    assert raised.value.response["Error"]["Code"] == code
    assert message in raised.value.response["Error"]["Message"]


def test_execution_errors(cp):
    with pytest.raises(cp.exceptions.PipelineNotFoundException):
        cp.start_pipeline_execution(name="absent")
    cp.create_pipeline(pipeline=named("errs"))
    with pytest.raises(cp.exceptions.PipelineExecutionNotFoundException):
        cp.get_pipeline_execution(
            pipelineName="errs", pipelineExecutionId="00000000-0000-0000-0000-000000000000"
        )
    with pytest.raises(cp.exceptions.StageNotFoundException):
        cp.disable_stage_transition(
            pipelineName="errs", stageName="Nope", transitionType="Inbound", reason="r"
        )
    with pytest.raises(cp.exceptions.ActionNotFoundException):
        cp.put_approval_result(
            pipelineName="errs",
            stageName="Approve",
            actionName="Nope",
            result={"summary": "s", "status": "Approved"},
            token="00000000-0000-0000-0000-000000000000",
        )


def test_list_pipelines_with_an_invalid_next_token_answers_a_client_error(cp):
    """It answered 500 InternalFailure "ValueError" (int() of the token) instead of AWS's error."""
    with pytest.raises(cp.exceptions.InvalidNextTokenException):
        cp.list_pipelines(nextToken="not-a-token")
    cp.create_pipeline(pipeline=named("page-a"))
    cp.create_pipeline(pipeline=named("page-b"))
    everything = [p["name"] for p in cp.list_pipelines()["pipelines"]]
    paged: list[str] = []
    answer = cp.list_pipelines(maxResults=1)
    while True:
        assert len(answer["pipelines"]) == 1
        paged += [p["name"] for p in answer["pipelines"]]
        if "nextToken" not in answer:
            break
        answer = cp.list_pipelines(maxResults=1, nextToken=answer["nextToken"])
    assert paged == everything and {"page-a", "page-b"} <= set(paged)
    for name in ("page-a", "page-b"):
        cp.delete_pipeline(name=name)


def test_tag_resource_over_the_limit_stores_nothing(cp):
    """TagResource stored the tags and then raised TooManyTagsException, leaving 51 tags behind."""
    cp.create_pipeline(pipeline=named("tagged"), tags=[{"key": f"k{i}", "value": "v"} for i in range(49)])
    arn = f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:tagged"
    with pytest.raises(cp.exceptions.TooManyTagsException):
        cp.tag_resource(resourceArn=arn, tags=[{"key": "x1", "value": "v"}, {"key": "x2", "value": "v"}])
    assert len(cp.list_tags_for_resource(resourceArn=arn)["tags"]) == 49
    with pytest.raises(cp.exceptions.InvalidTagsException):
        cp.tag_resource(resourceArn=arn, tags=[{"key": "aws:reserved", "value": "v"}])
    cp.tag_resource(resourceArn=arn, tags=[{"key": "k0", "value": "new"}, {"key": "x1", "value": "v"}])
    tags = {t["key"]: t["value"] for t in cp.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert len(tags) == 50 and tags["k0"] == "new"
    cp.delete_pipeline(name="tagged")
