"""Lambda invocations on the embedded AWS (emulator/lambda_runtime), medians of repeated Invoke calls,
with a baseline measured in the same run: the bare interpreter starting as the executor starts it.

- cold: a function invoked for the first time (its zip unpacked, then one process);
- warm: the same function again (code already unpacked; still one fresh process per invocation);
- each for a handler that only returns, and for one that imports boto3 and calls STS with its role.

    .venv/bin/python bench/bench_lambda.py [--runs 5]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
import zipfile

from gitops_harness.emulator.testing import running_emulator
from timing import report

ACCOUNT = "777777777777"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
HANDLERS = {
    "returns": "def handler(event, context):\n    return event\n",
    "boto3-sts": "import boto3\ndef handler(event, context):\n    return boto3.client('sts').get_caller_identity()['Arn']\n",
}


def _zip(source: str) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr("handler.py", source)
    return archive.getvalue()


def _timed(call: object) -> float:
    start = time.perf_counter()
    call()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    baseline = [
        _timed(lambda: subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True))
        for _ in range(runs)
    ]
    with running_emulator() as aws:
        aws.client("iam", account=ACCOUNT).create_role(
            RoleName="bench", AssumeRolePolicyDocument=json.dumps(TRUST)
        )
        lam = aws.client("lambda", account=ACCOUNT)

        def invoke(name: str) -> None:
            answer = lam.invoke(FunctionName=name, Payload=b"{}")
            if answer.get("FunctionError"):
                sys.exit(f"{name} failed: {answer['Payload'].read()[:500]!r}")

        for label, source in HANDLERS.items():
            cold, warm = [], []
            for run in range(runs):
                name = f"bench-{label}-{run}"
                lam.create_function(
                    FunctionName=name,
                    Runtime="python3.12",
                    Role=f"arn:aws:iam::{ACCOUNT}:role/bench",
                    Handler="handler.handler",
                    Code={"ZipFile": _zip(source)},
                )
                cold.append(_timed(lambda name=name: invoke(name)))
                warm.append(_timed(lambda name=name: invoke(name)))
            report(f"Invoke {label}, cold", cold, "interpreter start", baseline)
            report(f"Invoke {label}, warm", warm, "interpreter start", baseline)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
