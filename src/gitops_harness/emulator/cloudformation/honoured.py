"""What the embedded AWS does with each property of the resource types moto's models create: a property
the type's schema defines is either honoured (moto's model reads it, or completions.py applies it through
the API after moto creates the resource), accepted only with the value the emulator behaves as anyway
(KMS KeySpec SYMMETRIC_DEFAULT, a load balancer of Type application), accepted knowingly without an
effect (`accepted`, each with its reason), or the resource fails naming it:

    Property LoggingConfiguration of AWS::S3::Bucket is not supported by the embedded AWS

That failure is the emulator's gap, not AWS's behaviour: AWS would apply the property. Without this
record moto would drop such a property and the stack would say CREATE_COMPLETE.

Types our own models create (models/) need no record: they map every property onto the service API's
input shape, and one the shape does not know fails ("Encountered unsupported property"). Types in
neither are not checked here (docs/emulator.md lists them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from gitops_harness.emulator.cloudformation.schemas import NO_VALUE, resource_schema


@dataclass(frozen=True)
class Honoured:
    moto: frozenset[str]  # read by moto's model
    applied: frozenset[str] = frozenset()  # applied by completions.py after moto creates the resource
    # accepted only with these values (what the emulator does anyway); lower-cased text
    defaults: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # accepted without an effect here, with the reason (docs/emulator.md lists them as gaps)
    accepted: Mapping[str, str] = field(default_factory=dict)
    # path of a property ("A" or "A/B") -> the keys honoured in its object, or in each object of its list
    nested: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def names(self) -> frozenset[str]:
        return self.moto | self.applied | frozenset(self.defaults) | frozenset(self.accepted)


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_S3_LIFECYCLE_RULE = _set(
    "Id Prefix Status ExpirationInDays ExpirationDate NoncurrentVersionExpirationInDays "
    "NoncurrentVersionExpiration AbortIncompleteMultipartUpload ExpiredObjectDeleteMarker"
)

HONOURED: dict[str, Honoured] = {
    "AWS::S3::Bucket": Honoured(
        _set("BucketName Tags"),
        _set(
            "BucketEncryption VersioningConfiguration PublicAccessBlockConfiguration OwnershipControls AccessControl "
            "CorsConfiguration LifecycleConfiguration NotificationConfiguration LoggingConfiguration"
        ),
        nested={
            "NotificationConfiguration": _set("EventBridgeConfiguration"),
            "LifecycleConfiguration": _set("Rules"),
            "LifecycleConfiguration/Rules": _S3_LIFECYCLE_RULE,
        },
    ),
    "AWS::ECR::Repository": Honoured(
        _set(
            "RepositoryName EncryptionConfiguration ImageScanningConfiguration ImageTagMutability "
            "ImageTagMutabilityExclusionFilters Tags"
        ),
        _set("RepositoryPolicyText LifecyclePolicy EmptyOnDelete"),
    ),
    "AWS::IAM::Role": Honoured(
        _set(
            "AssumeRolePolicyDocument Description MaxSessionDuration Path PermissionsBoundary Policies "
            "RoleName Tags"
        ),
        _set("ManagedPolicyArns"),
    ),
    "AWS::IAM::Policy": Honoured(_set("PolicyDocument PolicyName Users Roles Groups")),
    "AWS::IAM::ManagedPolicy": Honoured(
        _set("Description Groups ManagedPolicyName Path PolicyDocument Roles Users")
    ),
    "AWS::IAM::User": Honoured(_set("Path UserName"), _set("Groups ManagedPolicyArns Policies Tags")),
    "AWS::KMS::Key": Honoured(
        _set("Description Enabled EnableKeyRotation KeyPolicy Tags"),
        # PendingWindowInDays: the stack's delete schedules the key's deletion with it;
        # BypassPolicyLockoutSafetyCheck: KMS here never refuses a policy for locking the caller out
        _set("PendingWindowInDays BypassPolicyLockoutSafetyCheck"),
        defaults={
            "KeySpec": frozenset({"symmetric_default"}),
            "KeyUsage": frozenset({"encrypt_decrypt"}),
            "Origin": frozenset({"aws_kms"}),
            "MultiRegion": frozenset({"false"}),
        },
    ),
    "AWS::KMS::Alias": Honoured(_set("AliasName TargetKeyId")),
    "AWS::SNS::Topic": Honoured(
        # DeliveryStatusLogging: moto keeps the list on the topic; sns/delivery_status.py writes the
        # records (for Lambda subscribers, the only protocol the emulator delivers to a log)
        _set(
            "TopicName DisplayName KmsMasterKeyId FifoTopic ContentBasedDeduplication Subscription "
            "DeliveryStatusLogging"
        ),
        _set("Tags"),
    ),
    "AWS::Events::Rule": Honoured(
        _set("Description EventBusName EventPattern Name RoleArn ScheduleExpression State Tags Targets")
    ),
    "AWS::Logs::LogGroup": Honoured(
        _set("LogGroupName RetentionInDays Tags"),
        _set("KmsKeyId"),
        defaults={"LogGroupClass": frozenset({"standard"})},
    ),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": Honoured(
        _set("Name Scheme SecurityGroups Subnets"),
        _set("Tags LoadBalancerAttributes IpAddressType"),
        defaults={"Type": frozenset({"application"})},
    ),
    "AWS::ElasticLoadBalancingV2::TargetGroup": Honoured(
        _set(
            "Name VpcId Protocol Port HealthCheckProtocol HealthCheckPort HealthCheckPath "
            "HealthCheckIntervalSeconds HealthCheckTimeoutSeconds HealthyThresholdCount "
            "UnhealthyThresholdCount Matcher TargetType"
        ),
        _set("Tags TargetGroupAttributes Targets HealthCheckEnabled"),
        defaults={"IpAddressType": frozenset({"ipv4"}), "ProtocolVersion": frozenset({"http1"})},
    ),
    "AWS::ElasticLoadBalancingV2::Listener": Honoured(
        _set("LoadBalancerArn Protocol Port SslPolicy Certificates DefaultActions"), _set("Tags")
    ),
    "AWS::ElasticLoadBalancingV2::ListenerRule": Honoured(
        _set("Actions Conditions ListenerArn Priority"), _set("Tags")
    ),
    "AWS::EC2::SecurityGroup": Honoured(
        _set("GroupDescription GroupName VpcId Tags SecurityGroupIngress"),
        _set("SecurityGroupEgress"),
        nested={
            "SecurityGroupIngress": _set(
                "IpProtocol FromPort ToPort CidrIp SourceSecurityGroupId SourceSecurityGroupName Description"
            ),
            "SecurityGroupEgress": _set(
                "IpProtocol FromPort ToPort CidrIp DestinationSecurityGroupId Description"
            ),
        },
    ),
    "AWS::EC2::SecurityGroupIngress": Honoured(
        _set(
            "GroupName GroupId IpProtocol CidrIp Description FromPort ToPort SourceSecurityGroupId "
            "SourceSecurityGroupName"
        )
    ),
    "AWS::EC2::VPC": Honoured(
        _set("CidrBlock InstanceTenancy Tags"), _set("EnableDnsHostnames EnableDnsSupport")
    ),
    "AWS::EC2::Subnet": Honoured(_set("VpcId CidrBlock AvailabilityZone Tags"), _set("MapPublicIpOnLaunch")),
    "AWS::EC2::InternetGateway": Honoured(frozenset(), _set("Tags")),
    "AWS::EC2::VPCGatewayAttachment": Honoured(_set("VpcId InternetGatewayId VpnGatewayId")),
    "AWS::EC2::RouteTable": Honoured(_set("VpcId"), _set("Tags")),
    "AWS::EC2::Route": Honoured(
        _set(
            "RouteTableId DestinationCidrBlock GatewayId InstanceId NetworkInterfaceId NatGatewayId "
            "EgressOnlyInternetGatewayId TransitGatewayId VpcPeeringConnectionId"
        )
    ),
    "AWS::EC2::SubnetRouteTableAssociation": Honoured(_set("RouteTableId SubnetId")),
    "AWS::Lambda::Function": Honoured(
        _set(
            "Code FunctionName Handler Role Runtime Description MemorySize Timeout VpcConfig Environment "
            "ReservedConcurrentExecutions"
        ),
        _set("Tags Layers KmsKeyArn TracingConfig EphemeralStorage"),
        defaults={"PackageType": frozenset({"zip"}), "Architectures": frozenset({"x86_64"})},
        accepted={
            "DeadLetterConfig": "the embedded Lambda runtime retries no failed asynchronous invocation and "
            "sends none to a dead-letter queue; GetFunctionConfiguration does not show it"
        },
    ),
    "AWS::Lambda::Permission": Honoured(
        # moto keeps the whole property set as the policy statement
        _set(
            "Action EventSourceToken FunctionName FunctionUrlAuthType InvokedViaFunctionUrl Principal "
            "PrincipalOrgID SourceAccount SourceArn"
        )
    ),
    "AWS::SSM::Parameter": Honoured(
        _set("AllowedPattern DataType Description Name Policies Tags Tier Type Value")
    ),
    "AWS::SQS::Queue": Honoured(
        # moto's queue takes every property as the queue attribute of that name
        _set(
            "ContentBasedDeduplication DeduplicationScope DelaySeconds FifoQueue FifoThroughputLimit "
            "KmsDataKeyReusePeriodSeconds KmsMasterKeyId MaximumMessageSize MessageRetentionPeriod QueueName "
            "ReceiveMessageWaitTimeSeconds RedriveAllowPolicy RedrivePolicy SqsManagedSseEnabled Tags "
            "VisibilityTimeout"
        )
    ),
}


def _unsupported(resource_type: str, name: str, detail: str = "") -> str:
    return f"Property {name} of {resource_type} is not supported by the embedded AWS{detail}"


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):  # Architectures: [x86_64]
        return ",".join(_as_text(item) for item in value)
    return str(value).lower()


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref"))


def _present(value: Any) -> bool:
    return value is not None and value != NO_VALUE


def _objects(value: Any, path: str, resolve: Any) -> Any:
    """(path shown, object) for the object(s) `value` holds: itself, or each item of its list."""
    if _is_intrinsic(value) and "Fn::If" in value and resolve is not None:
        value = resolve(value)
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _objects(item, f"{path}/{index}", resolve)
    elif isinstance(value, dict) and not _is_intrinsic(value):
        yield path, value


def _nested_refusal(record: Honoured, name: str, value: Any, resolve: Any) -> str | None:
    """The first key under property `name` that the record does not honour, as its path."""
    pending = [(name, name, value)]  # (record path, shown path, value)
    while pending:
        record_path, shown_path, node = pending.pop(0)
        keys = record.nested.get(record_path)
        if keys is None:
            continue
        for where, item in _objects(node, shown_path, resolve):
            for key in sorted(item):
                if not _present(item[key]):
                    continue
                if key not in keys:
                    return f"{where}/{key}"
                pending.append((f"{record_path}/{key}", f"{where}/{key}", item[key]))
    return None


@cache
def _names(resource_type: str, region: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(properties the schema declares, its read-only ones, those the record honours) of a type."""
    schema = resource_schema(resource_type, region) or {}
    read_only = frozenset(str(p).rsplit("/", 1)[-1] for p in schema.get("readOnlyProperties") or ())
    return frozenset(schema.get("properties") or {}), read_only, HONOURED[resource_type].names()


def refused_property(resource_type: str, properties: Any, region: str, resolve: Any = None) -> str | None:
    """The failure reason naming the first property of `properties` the emulator cannot honour for
    `resource_type`, else None. `resolve` turns a value still holding an intrinsic function into its
    value (only needed for the properties accepted with their default value)."""
    record = HONOURED.get(resource_type)
    if record is None or not isinstance(properties, dict):
        return None
    declared, read_only, honoured = _names(resource_type, region)
    for name in sorted(properties):
        value = properties[name]
        if _is_intrinsic(value) and "Fn::If" in value and resolve is not None:
            value = resolve(value)  # a branch may be AWS::NoValue
        if not _present(value) or name not in declared or name in read_only:
            continue  # unknown names are the schema check's (schemas.py)
        if name not in honoured:
            return _unsupported(resource_type, name)
        allowed = record.defaults.get(name)
        if allowed is not None:
            if _is_intrinsic(value) and resolve is not None:
                value = resolve(value)
            if _as_text(value) not in allowed:
                shown = " or ".join(sorted(allowed))
                return _unsupported(resource_type, name, f" with the value {value!r} (only {shown})")
        nested = _nested_refusal(record, name, value, resolve)
        if nested is not None:
            return _unsupported(resource_type, nested)
    return None
