"""Properties moto's own CloudFormation models ignore, applied through the API after moto creates the
resource, and undone before moto deletes it (IAM refuses to delete a user in a group or a role with
attached policies)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)

# type -> (client service, apply(client, resource, resolved properties))
AFTER_CREATE: dict[str, tuple[str, Callable[[Any, Any, dict[str, Any]], None]]] = {}
# type -> (client service, undo(client, resource)) run before moto's delete
BEFORE_DELETE: dict[str, tuple[str, Callable[[Any, Any], None]]] = {}


def attach_policy(attach: Callable[..., Any], arn: str, **principal: str) -> None:
    try:
        attach(PolicyArn=arn, **principal)
    except ClientError as error:
        # moto knows AWS managed policies only with MOTO_IAM_LOAD_MANAGED_POLICIES=true; since it
        # enforces no IAM policy, a missing one changes nothing but the listing
        if error.response["Error"]["Code"] != "NoSuchEntity" or not arn.split(":")[4] == "aws":
            raise
        logger.warning("%s: AWS managed policy unknown to moto, not attached to %s", arn, principal)


def _user_groups(iam: Any, user: Any, properties: dict[str, Any]) -> None:
    for group in properties.get("Groups") or []:
        iam.add_user_to_group(GroupName=group, UserName=user.name)
    for arn in properties.get("ManagedPolicyArns") or []:
        attach_policy(iam.attach_user_policy, arn, UserName=user.name)


def _role_managed_policies(iam: Any, role: Any, properties: dict[str, Any]) -> None:
    # moto keeps a template's inline policy as the repr of a dict; the API answers JSON text
    for policy in properties.get("Policies") or []:
        document = policy.get("PolicyDocument")
        if not isinstance(document, str):
            iam.put_role_policy(
                RoleName=role.name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document)
            )
    for arn in properties.get("ManagedPolicyArns") or []:
        attach_policy(iam.attach_role_policy, arn, RoleName=role.name)


def _release_user(iam: Any, user: Any) -> None:
    for group in iam.list_groups_for_user(UserName=user.name)["Groups"]:
        iam.remove_user_from_group(GroupName=group["GroupName"], UserName=user.name)
    for attached in iam.list_attached_user_policies(UserName=user.name)["AttachedPolicies"]:
        iam.detach_user_policy(UserName=user.name, PolicyArn=attached["PolicyArn"])


def _release_role(iam: Any, role: Any) -> None:
    for attached in iam.list_attached_role_policies(RoleName=role.name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=role.name, PolicyArn=attached["PolicyArn"])


def _key_policy(kms: Any, key: Any, properties: dict[str, Any]) -> None:
    # moto's model keeps a template's KeyPolicy object as is, where its API expects JSON text
    policy = properties.get("KeyPolicy")
    if policy is not None and not isinstance(policy, str):
        kms.put_key_policy(KeyId=key.id, PolicyName="default", Policy=json.dumps(policy))


def _remember_empty_on_delete(ecr: Any, repository: Any, properties: dict[str, Any]) -> None:
    # moto ignores EmptyOnDelete; without it a repository holding images cannot be deleted
    repository.empty_on_delete = str(properties.get("EmptyOnDelete", "false")).lower() == "true"


def _empty_repository(ecr: Any, repository: Any) -> None:
    if not getattr(repository, "empty_on_delete", False):
        return  # as on AWS: a repository with images then fails to delete (RepositoryNotEmptyException)
    pages = ecr.get_paginator("list_images").paginate(repositoryName=repository.name)
    image_ids = [i for page in pages for i in page["imageIds"]]
    for start in range(0, len(image_ids), 100):
        ecr.batch_delete_image(repositoryName=repository.name, imageIds=image_ids[start : start + 100])


def _bucket_versioning(s3: Any, bucket: Any, properties: dict[str, Any]) -> None:
    # moto's bucket model ignores VersioningConfiguration; artifacts then get the "null" version
    status = (properties.get("VersioningConfiguration") or {}).get("Status")
    if status:
        s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": status})


AFTER_CREATE["AWS::KMS::Key"] = ("kms", _key_policy)
AFTER_CREATE["AWS::S3::Bucket"] = ("s3", _bucket_versioning)
AFTER_CREATE["AWS::ECR::Repository"] = ("ecr", _remember_empty_on_delete)
BEFORE_DELETE["AWS::ECR::Repository"] = ("ecr", _empty_repository)
AFTER_CREATE["AWS::IAM::User"] = ("iam", _user_groups)
AFTER_CREATE["AWS::IAM::Role"] = ("iam", _role_managed_policies)
BEFORE_DELETE["AWS::IAM::User"] = ("iam", _release_user)
BEFORE_DELETE["AWS::IAM::Role"] = ("iam", _release_role)
