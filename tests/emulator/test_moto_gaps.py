"""What emulator.moto_gaps adds to moto: Lambda invocations without Docker fail at once, with the reason."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from gitops_harness.emulator.moto_gaps import docker_available
from gitops_harness.emulator.testing import running_emulator

ACCOUNT = "575757575757"


@pytest.mark.skipif(docker_available(), reason="with a Docker engine moto runs the function itself")
def test_lambda_invocation_without_docker_fails_with_the_reason():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "def handler(event, context):\n    return 'ran'\n")
    with running_emulator() as aws:
        iam = aws.client("iam", account=ACCOUNT)
        role = iam.create_role(
            RoleName="fn",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        lam = aws.client("lambda", account=ACCOUNT)
        lam.create_function(
            FunctionName="fn",
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
        )
        answer = lam.invoke(FunctionName="fn", Payload=b"{}")
        assert answer.get("FunctionError")
        assert "not run by the embedded AWS without a Docker engine" in answer["Payload"].read().decode()
