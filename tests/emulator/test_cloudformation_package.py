"""`aws cloudformation package` and `deploy` (the real AWS CLI) against the embedded AWS: package uploads
a nested stack's local template and a Lambda function's local folder to S3 and writes their S3
locations into the template (path style on the endpoint it was given); deploy creates the stack
through a change set, and the emulator loads both from the URLs the CLI wrote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gitops_harness.emulator.codebuild.tools import aws_cli
from gitops_harness.emulator.testing import running_emulator

PACKAGE = Path(__file__).resolve().parent / "cloudformation_templates" / "package"
ACCOUNT = "575757575757"
BUCKET = "cfnt-packages-575757575757"


@pytest.fixture(scope="module")
def aws():
    with running_emulator() as emulator:
        yield emulator


def test_package_then_deploy_brings_up_the_nested_stack_and_the_function(aws, tmp_path: Path) -> None:
    aws.client("s3", account=ACCOUNT).create_bucket(Bucket=BUCKET)
    shutil.copytree(PACKAGE, tmp_path / "package")
    env = {**aws.env(account=ACCOUNT), "PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_PAGER": ""}
    # AWS_ENDPOINT_URL stays: awscli v1's package uploads through an S3 client of its own that ignores
    # --endpoint-url (the environment's endpoint reaches it)

    def cli(*args: str) -> str:
        proc = subprocess.run(
            [str(aws_cli()), "cloudformation", *args, "--endpoint-url", aws.endpoint_url],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, f"aws cloudformation {args[0]} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    packaged = tmp_path / "packaged.yaml"
    cli(
        "package",
        "--template-file",
        str(tmp_path / "package" / "parent.yaml"),
        "--s3-bucket",
        BUCKET,
        "--output-template-file",
        str(packaged),
    )
    written = yaml.safe_load(packaged.read_text().replace("!GetAtt", "GetAtt"))
    template_url = written["Resources"]["Child"]["Properties"]["TemplateURL"]
    assert template_url.startswith(f"{aws.endpoint_url}/{BUCKET}/")  # path style on the given endpoint
    assert written["Resources"]["Function"]["Properties"]["Code"]["S3Bucket"] == BUCKET

    cli(
        "deploy",
        "--template-file",
        str(packaged),
        "--stack-name",
        "cfnt-packaged",
        "--capabilities",
        "CAPABILITY_IAM",
    )
    cfn = aws.client("cloudformation", account=ACCOUNT)
    [stack] = cfn.describe_stacks(StackName="cfnt-packaged")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    statuses = [
        (e["LogicalResourceId"], e["ResourceStatus"])
        for e in reversed(cfn.describe_stack_events(StackName="cfnt-packaged")["StackEvents"])
    ]
    assert statuses[0] == ("cfnt-packaged", "REVIEW_IN_PROGRESS")
    assert ("Child", "CREATE_COMPLETE") in statuses and ("Function", "CREATE_COMPLETE") in statuses
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    [child] = [
        r
        for r in cfn.describe_stack_resources(StackName="cfnt-packaged")["StackResources"]
        if r["LogicalResourceId"] == "Child"
    ]
    [nested] = cfn.describe_stacks(StackName=child["PhysicalResourceId"])["Stacks"]
    assert nested["StackStatus"] == "CREATE_COMPLETE"
    assert nested["Outputs"][0]["OutputValue"] == out["TopicArn"]
    topic = aws.client("sns", account=ACCOUNT).get_topic_attributes(TopicArn=out["TopicArn"])
    assert topic["Attributes"]["DisplayName"] == "packaged"
    # the function runs the code package uploaded from the folder
    answer = aws.client("lambda", account=ACCOUNT).invoke(FunctionName=out["FunctionName"])
    assert json.loads(answer["Payload"].read()) == {
        "greeting": "from the packaged folder",
        "topic": out["TopicArn"],
    }
    cfn.delete_stack(StackName="cfnt-packaged")
