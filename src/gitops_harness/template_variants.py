"""Broken variants of the reference pipeline: each takes away one cross-account grant, so a suite can prove
the pipeline needs it and that the failure shows at the step the grant is for, with the reason named.

    variant = MUTATIONS["key-policy-without-management-role"]
    bodies = variant.bodies(config)           # {"management": ..., "pipeline": ...} template bodies (JSON)
    deployment = deploy(target, config, bodies=bodies)

Templates are read with cfn-lint's decoder (short forms become long forms) and written back as JSON,
which CloudFormation takes as well; a mutation that finds nothing to remove raises, so a template that
changes shape cannot make a variant silently identical to the reference.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitops_harness.cfn_template import load_template, properties
from gitops_harness.config import Accounts, HarnessConfig
from gitops_harness.errors import InputError

Template = dict[str, Any]


@dataclass(frozen=True)
class Mutation:
    name: str
    stack: str  # which stack it changes: "management" | "pipeline"
    removes: str  # the grant it takes away, as a person says it
    fails_at: str  # where the pipeline must then fail
    apply: Callable[[Template], None]

    def bodies(self, config: HarnessConfig) -> dict[str, str]:
        """Both stacks' template bodies, this one's stack mutated."""
        paths = {"management": config.templates.management, "pipeline": config.templates.pipeline}
        bodies = {}
        for key, path in paths.items():
            template = load_template(path)
            if key == self.stack:
                self.apply(template)
            bodies[key] = json.dumps(template)
        return bodies


def variant_config(config: HarnessConfig, suffix: str, accounts: Accounts | None = None) -> HarnessConfig:
    """The config for a variant deployed beside the reference pipeline: its own project (so every name
    differs: roles, buckets, repository, rules) and optionally its own accounts."""
    project = f"{config.project}-{suffix}"
    parameters = {key: dict(values) for key, values in config.templates.parameters.items()}
    for key in ("management", "pipeline"):
        parameters.setdefault(key, {})["RepositoryName"] = project
    return dataclasses.replace(
        config,
        project=project,
        accounts=accounts or config.accounts,
        templates=dataclasses.replace(config.templates, parameters=parameters),
    )


def _resource(template: Template, logical_id: str, resource_type: str) -> dict[str, Any]:
    resource = template.get("Resources", {}).get(logical_id)
    if not isinstance(resource, dict) or resource.get("Type") != resource_type:
        raise InputError(f"the template has no {resource_type} {logical_id}: the mutation no longer applies")
    return resource


def _drop_statement(document: dict[str, Any], sid: str, where: str) -> None:
    statements = document.get("Statement") or []
    kept = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == sid)]
    if len(kept) == len(statements):
        raise InputError(f"{where} has no statement {sid!r}: the mutation no longer applies")
    document["Statement"] = kept


def _trust_without_pipeline_role(template: Template) -> None:
    trust = properties(_resource(template, "CrossAccountSourceRole", "AWS::IAM::Role"))[
        "AssumeRolePolicyDocument"
    ]
    for statement in trust.get("Statement") or []:
        condition = (statement.get("Condition") or {}).get("ArnEquals") or {}
        if "aws:PrincipalArn" in condition:
            # still the pipeline account, but another role of it: the pipeline role is no longer trusted
            condition["aws:PrincipalArn"] = {
                "Fn::Sub": "arn:${AWS::Partition}:iam::${PipelineAccountId}:role/${ProjectName}-someone-else"
            }
            return
    raise InputError(
        "CrossAccountSourceRole's trust names no aws:PrincipalArn: the mutation no longer applies"
    )


def _key_policy_without_management_role(template: Template) -> None:
    key = properties(_resource(template, "ArtifactKey", "AWS::KMS::Key"))
    _drop_statement(key["KeyPolicy"], "ManagementAccountSourceRole", "ArtifactKey's key policy")


def _bucket_policy_without_management_role(template: Template) -> None:
    policy = properties(_resource(template, "ArtifactBucketPolicy", "AWS::S3::BucketPolicy"))
    _drop_statement(policy["PolicyDocument"], "ManagementAccountSourceRole", "ArtifactBucketPolicy")


def _no_event_bus_policy(template: Template) -> None:
    _resource(template, "ManagementAccountEventBusPolicy", "AWS::Events::EventBusPolicy")
    del template["Resources"]["ManagementAccountEventBusPolicy"]


def _mirror_user_without_git_push(template: Template) -> None:
    group = properties(_resource(template, "MirrorGroup", "AWS::IAM::Group"))
    for policy in group.get("Policies") or []:
        for statement in policy["PolicyDocument"].get("Statement") or []:
            actions = statement.get("Action")
            if isinstance(actions, list) and "codecommit:GitPush" in actions:
                statement["Action"] = [a for a in actions if a != "codecommit:GitPush"]
                return
    raise InputError("MirrorGroup grants no codecommit:GitPush: the mutation no longer applies")


MUTATIONS: dict[str, Mutation] = {
    m.name: m
    for m in (
        Mutation(
            "trust-without-pipeline-role",
            "management",
            "the cross-account source role's trust in the pipeline role",
            "the Source action (AssumeRole of the cross-account role)",
            _trust_without_pipeline_role,
        ),
        Mutation(
            "key-policy-without-management-role",
            "pipeline",
            "the artifact key policy's grant to the management account's source role",
            "the Source action (writing the source artifact with the CMK)",
            _key_policy_without_management_role,
        ),
        Mutation(
            "bucket-policy-without-management-role",
            "pipeline",
            "the artifact bucket policy's grant to the management account's source role",
            "the Source action (writing the source artifact to the bucket)",
            _bucket_policy_without_management_role,
        ),
        Mutation(
            "no-event-bus-policy",
            "pipeline",
            "the pipeline account's event bus policy for the management account",
            "the event forwarding (no execution starts; the forward rule's FailedInvocations counts it)",
            _no_event_bus_policy,
        ),
        Mutation(
            "mirror-user-without-git-push",
            "management",
            "the GitLab mirror user's codecommit:GitPush",
            "the mirror push (refused by CodeCommit; nothing reaches the repository)",
            _mirror_user_without_git_push,
        ),
    )
}
