"""Properties moto's own CloudFormation models ignore, applied through the API after moto creates the
resource, and undone before moto deletes it (IAM refuses to delete a user in a group or a role with
attached policies)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

# type -> (client service, apply(client, resource, resolved properties))
AFTER_CREATE: dict[str, tuple[str, Callable[[Any, Any, dict[str, Any]], None]]] = {}
# type -> (client service, undo(client, resource)) run before moto's delete
BEFORE_DELETE: dict[str, tuple[str, Callable[[Any, Any], None]]] = {}


@cache
def _aws_managed_policy_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def load_aws_managed_policy(account_id: str, arn: str) -> bool:
    """Make the AWS managed policy `arn` known to the account's IAM, from moto's copy of AWS's
    managed policies (moto loads all ~1,300 per account only with MOTO_IAM_LOAD_MANAGED_POLICIES=true,
    which costs seconds); False if AWS has no such policy."""
    from moto.iam.models import AWSManagedPolicy, iam_backends

    parts = arn.split(":")
    if len(parts) < 6 or parts[4] != "aws" or not parts[5].startswith("policy/"):
        return False
    name = parts[5].rsplit("/", 1)[1]
    data = _aws_managed_policy_data().get(name)
    if data is None or f"policy{data.get('Path', '/')}{name}" != parts[5]:
        return False
    backend = iam_backends[account_id]["global"]
    if arn not in backend.managed_policies:
        policy = AWSManagedPolicy.from_data(name, account_id, backend.region_name, data)
        backend.managed_policies[policy.arn] = policy
    return True


def attach_policy(attach: Callable[..., Any], arn: str, account_id: str, **principal: str) -> None:
    try:
        attach(PolicyArn=arn, **principal)
    except ClientError as error:
        # an AWS managed policy moto has not loaded: load it and attach; one AWS does not have fails
        # the resource with IAM's NoSuchEntity, as on AWS
        if error.response["Error"]["Code"] != "NoSuchEntity" or not load_aws_managed_policy(account_id, arn):
            raise
        attach(PolicyArn=arn, **principal)


def _user_groups(iam: Any, user: Any, properties: dict[str, Any]) -> None:
    for group in properties.get("Groups") or []:
        iam.add_user_to_group(GroupName=group, UserName=user.name)
    for arn in properties.get("ManagedPolicyArns") or []:
        attach_policy(iam.attach_user_policy, arn, user.account_id, UserName=user.name)


def without_no_value(node: Any) -> Any:
    """A resolved value without the None that AWS::NoValue leaves in lists and objects."""
    if isinstance(node, dict):
        return {key: without_no_value(value) for key, value in node.items() if value is not None}
    if isinstance(node, list):
        return [without_no_value(item) for item in node if item is not None]
    return node


def _role_managed_policies(iam: Any, role: Any, properties: dict[str, Any]) -> None:
    # moto keeps a template's inline policy as the repr of a dict; the API answers JSON text
    for policy in properties.get("Policies") or []:
        document = policy.get("PolicyDocument")
        if not isinstance(document, str):
            iam.put_role_policy(
                RoleName=role.name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(without_no_value(document)),
            )
    for arn in properties.get("ManagedPolicyArns") or []:
        attach_policy(iam.attach_role_policy, arn, role.account_id, RoleName=role.name)


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
    # and PublicAccessBlockConfiguration (the same four flags as the API's)
    block = properties.get("PublicAccessBlockConfiguration")
    if block:
        s3.put_public_access_block(
            Bucket=bucket.name,
            PublicAccessBlockConfiguration={
                key: str(value).lower() == "true" for key, value in block.items() if value is not None
            },
        )


def _repository_settings(ecr: Any, repository: Any, properties: dict[str, Any]) -> None:
    # moto ignores EmptyOnDelete; without it a repository holding images cannot be deleted
    repository.empty_on_delete = str(properties.get("EmptyOnDelete", "false")).lower() == "true"
    # moto keeps ImageScanningConfiguration in the template's spelling (the API then reads no
    # scanOnPush) and ignores RepositoryPolicyText and LifecyclePolicy
    scanning = properties.get("ImageScanningConfiguration")
    if scanning is not None:
        ecr.put_image_scanning_configuration(
            repositoryName=repository.name,
            imageScanningConfiguration={"scanOnPush": str(scanning.get("ScanOnPush")).lower() == "true"},
        )
    policy = properties.get("RepositoryPolicyText")
    if policy:
        text = policy if isinstance(policy, str) else json.dumps(without_no_value(policy))
        ecr.set_repository_policy(repositoryName=repository.name, policyText=text)
    lifecycle = (properties.get("LifecyclePolicy") or {}).get("LifecyclePolicyText")
    if lifecycle:
        ecr.put_lifecycle_policy(repositoryName=repository.name, lifecyclePolicyText=lifecycle)


AFTER_CREATE["AWS::KMS::Key"] = ("kms", _key_policy)
AFTER_CREATE["AWS::S3::Bucket"] = ("s3", _bucket_versioning)
AFTER_CREATE["AWS::ECR::Repository"] = ("ecr", _repository_settings)
BEFORE_DELETE["AWS::ECR::Repository"] = ("ecr", _empty_repository)
AFTER_CREATE["AWS::IAM::User"] = ("iam", _user_groups)
AFTER_CREATE["AWS::IAM::Role"] = ("iam", _role_managed_policies)
BEFORE_DELETE["AWS::IAM::User"] = ("iam", _release_user)
BEFORE_DELETE["AWS::IAM::Role"] = ("iam", _release_role)
