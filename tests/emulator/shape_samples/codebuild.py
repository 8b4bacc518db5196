"""Shape-test requests for every CodeBuild operation: a NO_SOURCE project whose build is stopped."""

from __future__ import annotations

from gitops_harness.emulator.codebuild.plane import CodeBuild
from shape_samples import Sample


def samples(plane: CodeBuild) -> list[Sample]:
    role = "arn:aws:iam::111111111111:role/shape-codebuild"
    project = {
        "name": "shape-project",
        "source": {
            "type": "NO_SOURCE",
            "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 30\n",
        },
        "artifacts": {"type": "NO_ARTIFACTS"},
        "environment": {
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "environmentVariables": [{"name": "STAGE", "value": "shape", "type": "PLAINTEXT"}],
        },
        "serviceRole": role,
        "tags": [{"key": "team", "value": "harness"}],
    }
    return [
        Sample("CreateProject", project),
        Sample("UpdateProject", {"name": "shape-project", "description": "updated", "timeoutInMinutes": 10}),
        Sample("BatchGetProjects", {"names": ["shape-project", "missing-project"]}),
        Sample("ListProjects", {"sortBy": "NAME"}),
        Sample(
            "StartBuild",
            {
                "projectName": "shape-project",
                "environmentVariablesOverride": [{"name": "EXTRA", "value": "1"}],
            },
        ),
        Sample("BatchGetBuilds", lambda answers: {"ids": [answers["StartBuild"]["build"]["id"], "nope:1"]}),
        Sample("StopBuild", lambda answers: {"id": answers["StartBuild"]["build"]["id"]}),
        Sample("ListBuildsForProject", {"projectName": "shape-project"}),
        Sample("ListBuilds", {"sortOrder": "ASCENDING"}),
        Sample("BatchDeleteBuilds", lambda answers: {"ids": [answers["StartBuild"]["build"]["id"]]}),
        Sample("DeleteProject", {"name": "shape-project"}),
    ]
