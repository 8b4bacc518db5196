"""Lambda invocations on the embedded AWS (emulator/lambda_runtime), medians of repeated Invoke calls,
with a baseline measured in the same run: the bare interpreter starting as the executor starts it.

- first: the first invocation in a fresh emulator (the fork server starts and imports boto3);
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
from typing import Any

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


def _prepared(aws: Any) -> Any:
    iam = aws.client("iam", account=ACCOUNT)
    if not any(role["RoleName"] == "bench" for role in iam.list_roles()["Roles"]):
        iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(TRUST))
    return aws.client("lambda", account=ACCOUNT)


def _create(lam: Any, name: str, source: str) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=f"arn:aws:iam::{ACCOUNT}:role/bench",
        Handler="handler.handler",
        Code={"ZipFile": _zip(source)},
    )


def _invoke(lam: Any, name: str) -> None:
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    if answer.get("FunctionError"):
        sys.exit(f"{name} failed: {answer['Payload'].read()[:500]!r}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    baseline = [
        _timed(lambda: subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True))
        for _ in range(runs)
    ]
    first = []
    for run in range(runs):
        with running_emulator() as aws:
            lam = _prepared(aws)
            _create(lam, f"bench-first-{run}", HANDLERS["boto3-sts"])
            first.append(_timed(lambda run=run, lam=lam: _invoke(lam, f"bench-first-{run}")))
    report("Invoke boto3-sts, first in an emulator", first, "interpreter start", baseline)
    with running_emulator() as aws:
        lam = _prepared(aws)
        # the fork server starts with the first invocation: not part of the cold and warm figures
        _create(lam, "bench-warmup", HANDLERS["returns"])
        _invoke(lam, "bench-warmup")
        for label, source in HANDLERS.items():
            cold, warm = [], []
            for run in range(runs):
                name = f"bench-{label}-{run}"
                _create(lam, name, source)
                cold.append(_timed(lambda name=name: _invoke(lam, name)))
                warm.append(_timed(lambda name=name: _invoke(lam, name)))
            report(f"Invoke {label}, cold", cold, "interpreter start", baseline)
            report(f"Invoke {label}, warm", warm, "interpreter start", baseline)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
