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


def _user_settings(iam: Any, user: Any, properties: dict[str, Any]) -> None:
    for group in properties.get("Groups") or []:
        iam.add_user_to_group(GroupName=group, UserName=user.name)
    for arn in properties.get("ManagedPolicyArns") or []:
        attach_policy(iam.attach_user_policy, arn, user.account_id, UserName=user.name)
    for policy in properties.get("Policies") or []:
        document = policy["PolicyDocument"]
        iam.put_user_policy(
            UserName=user.name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=document if isinstance(document, str) else json.dumps(without_no_value(document)),
        )
    if properties.get("Tags"):
        iam.tag_user(UserName=user.name, Tags=properties["Tags"])


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
    for name in iam.list_user_policies(UserName=user.name)["PolicyNames"]:
        iam.delete_user_policy(UserName=user.name, PolicyName=name)


def _release_role(iam: Any, role: Any) -> None:
    for attached in iam.list_attached_role_policies(RoleName=role.name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=role.name, PolicyArn=attached["PolicyArn"])


def _key_policy(kms: Any, key: Any, properties: dict[str, Any]) -> None:
    # moto's model keeps a template's KeyPolicy object as is, where its API expects JSON text
    policy = properties.get("KeyPolicy")
    if policy is not None and not isinstance(policy, str):
        kms.put_key_policy(KeyId=key.id, PolicyName="default", Policy=json.dumps(policy))
    # kept for the stack's delete, which schedules the key's deletion with it (deletions.py)
    key.cfn_pending_window = int(properties.get("PendingWindowInDays") or 30)


def _log_group_settings(logs: Any, group: Any, properties: dict[str, Any]) -> None:
    # moto's model reads the key as "kmsKeyId" where the template says KmsKeyId
    if properties.get("KmsKeyId"):
        group.kms_key_id = properties["KmsKeyId"]


def _topic_settings(sns: Any, topic: Any, properties: dict[str, Any]) -> None:
    # moto's model sets Tags as a plain attribute, which ListTagsForResource does not read
    if properties.get("Tags"):
        sns.tag_resource(ResourceArn=topic.arn, Tags=properties["Tags"])


def _function_settings(awslambda: Any, function: Any, properties: dict[str, Any]) -> None:
    # moto's model builds its function from a fixed subset of the properties; these are what its
    # GetFunctionConfiguration reads, set as RegisterFunction through the API would have set them
    if properties.get("KmsKeyArn"):
        function.kms_key_arn = properties["KmsKeyArn"]
    if properties.get("TracingConfig"):
        function.tracing_config = {"Mode": properties["TracingConfig"].get("Mode", "PassThrough")}
    if properties.get("EphemeralStorage"):
        function.ephemeral_storage = int(properties["EphemeralStorage"]["Size"])
    if properties.get("Layers"):
        awslambda.update_function_configuration(
            FunctionName=function.function_name, Layers=list(properties["Layers"])
        )
    if properties.get("Tags"):
        awslambda.tag_resource(
            Resource=function.function_arn, Tags={tag["Key"]: tag["Value"] for tag in properties["Tags"]}
        )


def _empty_repository(ecr: Any, repository: Any) -> None:
    if not getattr(repository, "empty_on_delete", False):
        return  # as on AWS: a repository with images then fails to delete (RepositoryNotEmptyException)
    pages = ecr.get_paginator("list_images").paginate(repositoryName=repository.name)
    image_ids = [i for page in pages for i in page["imageIds"]]
    for start in range(0, len(image_ids), 100):
        ecr.batch_delete_image(repositoryName=repository.name, imageIds=image_ids[start : start + 100])


def _flags(block: dict[str, Any]) -> dict[str, bool]:
    return {key: str(value).lower() == "true" for key, value in block.items() if value is not None}


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule as the API's (ExpirationInDays -> Expiration.Days ...)."""
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if rule.get("Id"):
        out["ID"] = rule["Id"]
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    expiration: dict[str, Any] = {}
    if rule.get("ExpirationInDays") is not None:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if rule.get("ExpirationDate"):
        expiration["Date"] = rule["ExpirationDate"]
    if rule.get("ExpiredObjectDeleteMarker") is not None:
        expiration["ExpiredObjectDeleteMarker"] = str(rule["ExpiredObjectDeleteMarker"]).lower() == "true"
    if expiration:
        out["Expiration"] = expiration
    noncurrent = dict(rule.get("NoncurrentVersionExpiration") or {})
    if rule.get("NoncurrentVersionExpirationInDays") is not None:
        noncurrent["NoncurrentDays"] = rule["NoncurrentVersionExpirationInDays"]
    if noncurrent:
        out["NoncurrentVersionExpiration"] = {key: int(value) for key, value in noncurrent.items()}
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["DaysAfterInitiation"])}
    return out


def _bucket_settings(s3: Any, bucket: Any, properties: dict[str, Any]) -> None:
    """The bucket properties moto's model ignores (honoured.py lists them), each through its API call."""
    encryption = properties.get("BucketEncryption")
    rules = (encryption or {}).get("ServerSideEncryptionConfiguration") or []
    if len(rules) > 1 or any("BucketKeyEnabled" in rule for rule in rules):
        # moto's model keeps only the first rule's algorithm and key, not BucketKeyEnabled
        s3.put_bucket_encryption(
            Bucket=bucket.name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    _encryption_rule(rule)
                    for rule in encryption.get("ServerSideEncryptionConfiguration") or []
                ]
            },
        )
    # without VersioningConfiguration artifacts get the "null" version
    status = (properties.get("VersioningConfiguration") or {}).get("Status")
    if status:
        s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": status})
    block = properties.get("PublicAccessBlockConfiguration")
    if block:  # the same four flags as the API's
        s3.put_public_access_block(Bucket=bucket.name, PublicAccessBlockConfiguration=_flags(block))
    ownership = properties.get("OwnershipControls")
    if ownership:
        s3.put_bucket_ownership_controls(Bucket=bucket.name, OwnershipControls=ownership)
    acl = properties.get("AccessControl")
    if acl:  # CloudFormation spells the canned ACLs in PascalCase (LogDeliveryWrite -> log-delivery-write)
        s3.put_bucket_acl(Bucket=bucket.name, ACL=_kebab(acl))
    cors = properties.get("CorsConfiguration")
    if cors:
        rules = [
            {_CORS_KEYS.get(key, key): value for key, value in rule.items()}
            for rule in cors.get("CorsRules") or []
        ]
        s3.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": rules})
    lifecycle = properties.get("LifecycleConfiguration")
    if lifecycle:
        rules = [_lifecycle_rule(rule) for rule in lifecycle.get("Rules") or []]
        s3.put_bucket_lifecycle_configuration(Bucket=bucket.name, LifecycleConfiguration={"Rules": rules})
    logging = properties.get("LoggingConfiguration")
    if logging:
        enabled = {"TargetBucket": logging.get("DestinationBucketName") or bucket.name}
        enabled["TargetPrefix"] = logging.get("LogFilePrefix", "")
        s3.put_bucket_logging(Bucket=bucket.name, BucketLoggingStatus={"LoggingEnabled": enabled})
    notification = properties.get("NotificationConfiguration")
    if notification and _flags(notification.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled"):
        s3.put_bucket_notification_configuration(
            Bucket=bucket.name, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )


_CORS_KEYS = {"Id": "ID", "MaxAge": "MaxAgeSeconds", "ExposedHeaders": "ExposeHeaders"}


def _encryption_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation ServerSideEncryptionRule as the API's (ServerSideEncryptionByDefault is the
    API's ApplyServerSideEncryptionByDefault)."""
    return {
        ("ApplyServerSideEncryptionByDefault" if key == "ServerSideEncryptionByDefault" else key): (
            _true(value) if key == "BucketKeyEnabled" else value
        )
        for key, value in rule.items()
    }


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def _kebab(pascal: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(pascal))


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
AFTER_CREATE["AWS::Logs::LogGroup"] = ("logs", _log_group_settings)
AFTER_CREATE["AWS::SNS::Topic"] = ("sns", _topic_settings)
AFTER_CREATE["AWS::Lambda::Function"] = ("lambda", _function_settings)
AFTER_CREATE["AWS::S3::Bucket"] = ("s3", _bucket_settings)
AFTER_CREATE["AWS::ECR::Repository"] = ("ecr", _repository_settings)
BEFORE_DELETE["AWS::ECR::Repository"] = ("ecr", _empty_repository)
AFTER_CREATE["AWS::IAM::User"] = ("iam", _user_settings)
AFTER_CREATE["AWS::IAM::Role"] = ("iam", _role_managed_policies)
BEFORE_DELETE["AWS::IAM::User"] = ("iam", _release_user)
BEFORE_DELETE["AWS::IAM::Role"] = ("iam", _release_role)
