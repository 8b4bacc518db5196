"""The least-privilege IAM policies of the nightly roles (one per account), derived, not written by hand:

1. what the harness itself calls in each account: every API call the aws target's clients make is
   recorded as its IAM action (``AwsTarget.called``), during a rehearsal run on the embedded AWS;
2. what CloudFormation needs to create, read and delete the stacks' resources with the caller's
   permissions: each resource type in the account's template, looked up in CloudFormation's resource
   schemas (``handlers.create/read/delete.permissions``, as cfn-lint vendors the registry).

    python -m gitops_harness.targets.aws_policy --calls calls.json --out docs/iam

writes ``nightly-<account>-account.json``; tests/test_aws_policy.py fails when the harness calls an
action its policy lacks, or a template gains a resource type whose permissions are missing.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from gitops_harness.cfn_template import load_template

POLICY_DIR = Path(__file__).resolve().parents[3] / "docs" / "iam"
HANDLERS = ("create", "read", "delete")  # ephemeral runs create and delete; CloudFormation reads between
# botocore signing names whose IAM prefix differs
_IAM_PREFIX = {"tagging": "tag"}
# S3 operations whose IAM action has another name (AWS's "Actions, resources, and condition keys for S3")
_S3_ACTIONS = {
    "ListObjectVersions": "ListBucketVersions",
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadBucket": "ListBucket",
    "HeadObject": "GetObject",
    "DeleteObjects": "DeleteObject",
    "GetBucketLocation": "GetBucketLocation",
}


def iam_action(service_model: Any, operation: str) -> str:
    """``s3:ListBucketVersions`` for botocore's (s3, ListObjectVersions), ``tag:GetResources``, ..."""
    prefix = _IAM_PREFIX.get(service_model.signing_name, service_model.signing_name)
    if prefix == "s3":
        operation = _S3_ACTIONS.get(operation, operation)
    return f"{prefix}:{operation}"


@cache
def _registry() -> tuple[Path, dict[str, str]]:
    import cfnlint

    data = Path(cfnlint.__file__).parent / "data" / "schemas"
    return data, json.loads((data / "providers" / "us-east-1.json").read_text())


def resource_permissions(resource_type: str) -> set[str]:
    """The IAM actions CloudFormation's handlers need for ``resource_type`` (create, read, delete)."""
    data, providers = _registry()
    schema_id = providers.get(resource_type)
    if schema_id is None:
        raise KeyError(f"{resource_type} is not in CloudFormation's resource registry (cfn-lint's copy)")
    schema = json.loads((data / "resources" / f"{schema_id}.json").read_text())
    handlers = schema.get("handlers", {})
    return {p for h in HANDLERS for p in handlers.get(h, {}).get("permissions", [])}


def stack_permissions(template: Path) -> set[str]:
    types = {r.get("Type") for r in load_template(template)["Resources"].values() if isinstance(r, dict)}
    actions = {"cloudformation:CreateStack", "cloudformation:DeleteStack", "cloudformation:DescribeStacks"}
    for resource_type in sorted(t for t in types if isinstance(t, str) and not t.startswith("Custom::")):
        actions |= resource_permissions(resource_type)
    return actions


def policy_document(actions: Iterable[str], account: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"GitopsHarnessNightly{account.capitalize()}",
                "Effect": "Allow",
                "Action": sorted(set(actions), key=str.lower),
                "Resource": "*",
            }
        ],
    }


def allowed_actions(document: Mapping[str, Any]) -> list[str]:
    actions: list[str] = []
    for statement in document.get("Statement", []):
        if statement.get("Effect") == "Allow":
            value = statement.get("Action", [])
            actions += [value] if isinstance(value, str) else list(value)
    return actions


def missing_actions(called: Iterable[str], document: Mapping[str, Any]) -> list[str]:
    """Called actions no Allow statement covers (IAM matches actions case-insensitively, with wildcards)."""
    patterns = [a.lower() for a in allowed_actions(document)]
    return sorted(a for a in set(called) if not any(fnmatch.fnmatchcase(a.lower(), p) for p in patterns))


def policy_path(account: str, folder: Path = POLICY_DIR) -> Path:
    return folder / f"nightly-{account}-account.json"


def load_policy(account: str, folder: Path = POLICY_DIR) -> dict[str, Any]:
    return json.loads(policy_path(account, folder).read_text())


def required_actions(account: str, calls: Iterable[str], template: Path) -> set[str]:
    """What the nightly role in ``account`` needs: the recorded calls, the stack's permissions, what a
    sweep may call, and (pipeline account) sts:AssumeRole for the chain into the management account."""
    from gitops_harness.sweep import SWEEP_ACTIONS

    chain = {"sts:AssumeRole"} if account == "pipeline" else set()
    return set(calls) | stack_permissions(template) | SWEEP_ACTIONS | chain


def derive(calls: Mapping[str, Iterable[str]], templates: Mapping[str, Path]) -> dict[str, dict[str, Any]]:
    """account -> policy document."""
    return {
        account: policy_document(
            required_actions(account, calls.get(account, ()), templates[account]), account
        )
        for account in templates
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Derive the nightly roles' IAM policies.")
    parser.add_argument(
        "--calls", type=Path, required=True, help="JSON {account: [actions]} from a rehearsal"
    )
    parser.add_argument("--out", type=Path, default=POLICY_DIR)
    parser.add_argument("--templates", type=Path, default=POLICY_DIR.parents[1] / "fixtures" / "pipeline")
    args = parser.parse_args(argv)
    templates = {
        "management": args.templates / "management-account.yaml",
        "pipeline": args.templates / "pipeline-account.yaml",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for account, document in derive(json.loads(args.calls.read_text()), templates).items():
        policy_path(account, args.out).write_text(json.dumps(document, indent=2) + "\n")
        print(f"{policy_path(account, args.out)}: {len(allowed_actions(document))} actions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
