"""Resource models for the pipeline stack's types that LocalStack 4.14 community has no CloudFormation
provider for and the harness's own models (emulator/cloudformation/models) do not cover, because the
embedded emulator gets them from moto's CloudFormation: AWS::ECS::Cluster, AWS::ElasticLoadBalancingV2::
{LoadBalancer,TargetGroup,Listener}, AWS::EC2::SecurityGroupIngress and AWS::Chatbot::SlackChannelConfiguration.

Each is an ApiResource like the harness's: it calls the service's API (here LocalStack's gateway, so
ECS and ELBv2 land in containers.py's providers and their task runtime / ALB data plane) as the stack's
account; cloudformation.py's adapter runs it as a LocalStack ResourceProvider. Properties map onto the
API's input shape by member name (properties.py), so one the API does not know fails the resource.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.emulator.cloudformation.properties import operation_params
from gitops_harness.emulator.cloudformation.resource import (
    ApiResource,
    Placement,
    ResourceFailure,
    is_not_found,
)


def _elb_name(where: Placement) -> str:
    """A generated load balancer / target group name as CloudFormation makes them: at most 32
    characters, letters, digits and hyphens, not ending in a hyphen (<stack>-<logical id>-<suffix>)."""
    stem = re.sub(r"[^A-Za-z0-9-]", "", where.generated_name)[:18].strip("-")
    return f"{stem}-{uuid.uuid4().hex[:12].upper()}"[:32].strip("-")


def _pairs(items: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """CloudFormation's Key/Value attribute lists, values as text (the API takes strings)."""
    out = []
    for item in items or []:
        if item is None:  # an AWS::NoValue entry
            continue
        value = item.get("Value")
        out.append(
            {"Key": str(item["Key"]), "Value": str(value).lower() if isinstance(value, bool) else str(value)}
        )
    return out


def _ignore_missing(action: Any) -> None:
    try:
        action()
    except ClientError as error:
        if not is_not_found(error):
            raise


class Cluster(ApiResource):
    resource_type = "AWS::ECS::Cluster"
    service = "ecs"
    name_property = "ClusterName"
    attributes = frozenset({"Arn"})

    @classmethod
    def _params(cls, client: Any, properties: dict[str, Any]) -> dict[str, Any]:
        given = dict(properties)
        if "ClusterSettings" in given:  # the API calls them settings
            given["Settings"] = given.pop("ClusterSettings")
        return operation_params(client, "CreateCluster", given)

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        params = cls._params(client, properties)
        params["clusterName"] = cls.resource_name(properties, where)
        created = client.create_cluster(**params)["cluster"]
        return created["clusterName"], {"Arn": created["clusterArn"]}

    def remove(self, client: Any) -> None:
        _ignore_missing(lambda: client.delete_cluster(cluster=self.physical_id))


class LoadBalancer(ApiResource):
    resource_type = "AWS::ElasticLoadBalancingV2::LoadBalancer"
    service = "elbv2"
    name_property = "Name"
    attributes = frozenset(
        {
            "CanonicalHostedZoneID",
            "DNSName",
            "LoadBalancerArn",
            "LoadBalancerFullName",
            "LoadBalancerName",
            "SecurityGroups",
        }
    )

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        params = operation_params(client, "CreateLoadBalancer", properties, skip=("LoadBalancerAttributes",))
        params["Name"] = properties.get("Name") or _elb_name(where)
        [balancer] = client.create_load_balancer(**params)["LoadBalancers"]
        arn = balancer["LoadBalancerArn"]
        attributes = _pairs(properties.get("LoadBalancerAttributes"))
        if attributes:
            client.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=attributes)
        return arn, {
            "CanonicalHostedZoneID": balancer.get("CanonicalHostedZoneId", ""),
            "DNSName": balancer["DNSName"],
            "LoadBalancerArn": arn,
            "LoadBalancerFullName": arn.split(":loadbalancer/", 1)[-1],
            "LoadBalancerName": balancer["LoadBalancerName"],
            "SecurityGroups": balancer.get("SecurityGroups", []),
        }

    def remove(self, client: Any) -> None:
        _ignore_missing(lambda: client.delete_load_balancer(LoadBalancerArn=self.physical_id))


class TargetGroup(ApiResource):
    resource_type = "AWS::ElasticLoadBalancingV2::TargetGroup"
    service = "elbv2"
    name_property = "Name"
    attributes = frozenset({"LoadBalancerArns", "TargetGroupArn", "TargetGroupFullName", "TargetGroupName"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        params = operation_params(
            client, "CreateTargetGroup", properties, skip=("TargetGroupAttributes", "Targets")
        )
        params["Name"] = properties.get("Name") or _elb_name(where)
        [group] = client.create_target_group(**params)["TargetGroups"]
        arn = group["TargetGroupArn"]
        attributes = _pairs(properties.get("TargetGroupAttributes"))
        if attributes:
            client.modify_target_group_attributes(TargetGroupArn=arn, Attributes=attributes)
        targets = operation_params(client, "RegisterTargets", {"Targets": properties.get("Targets") or []})
        if targets["Targets"]:
            client.register_targets(TargetGroupArn=arn, **targets)
        return arn, {
            "LoadBalancerArns": group.get("LoadBalancerArns", []),
            "TargetGroupArn": arn,
            "TargetGroupFullName": arn.split(":", 5)[-1],
            "TargetGroupName": group["TargetGroupName"],
        }

    def remove(self, client: Any) -> None:
        _ignore_missing(lambda: client.delete_target_group(TargetGroupArn=self.physical_id))


class Listener(ApiResource):
    resource_type = "AWS::ElasticLoadBalancingV2::Listener"
    service = "elbv2"
    attributes = frozenset({"ListenerArn"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        params = operation_params(client, "CreateListener", properties)
        [listener] = client.create_listener(**params)["Listeners"]
        return listener["ListenerArn"], {"ListenerArn": listener["ListenerArn"]}

    def update(self, client: Any, properties: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if properties.get("LoadBalancerArn") != self.properties.get("LoadBalancerArn"):
            return None  # another load balancer: a new listener
        params = operation_params(client, "ModifyListener", properties, skip=("LoadBalancerArn",))
        client.modify_listener(ListenerArn=self.physical_id, **params)
        return self.physical_id, {"ListenerArn": self.physical_id}

    def remove(self, client: Any) -> None:
        _ignore_missing(lambda: client.delete_listener(ListenerArn=self.physical_id))


class SecurityGroupIngress(ApiResource):
    """One ingress rule of a security group (Ref: the rule's id, as CloudFormation returns it)."""

    resource_type = "AWS::EC2::SecurityGroupIngress"
    service = "ec2"
    attributes = frozenset({"Id"})
    _RANGE = ("CidrIp", "CidrIpv6", "SourcePrefixListId", "SourceSecurityGroupId", "SourceSecurityGroupName")
    _KNOWN = frozenset(
        {
            "GroupId",
            "GroupName",
            "IpProtocol",
            "FromPort",
            "ToPort",
            "Description",
            "SourceSecurityGroupOwnerId",
            *_RANGE,
        }
    )

    @classmethod
    def _request(cls, properties: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(properties) - cls._KNOWN)
        if unknown:
            raise ResourceFailure(f"Encountered unsupported property {unknown[0]}")
        if "IpProtocol" not in properties:
            raise ResourceFailure("Properties validation failed: required key [IpProtocol] not found")
        permission: dict[str, Any] = {"IpProtocol": str(properties["IpProtocol"])}
        for key in ("FromPort", "ToPort"):
            if properties.get(key) is not None:
                permission[key] = int(properties[key])
        described = {"Description": properties["Description"]} if properties.get("Description") else {}
        if properties.get("CidrIp"):
            permission["IpRanges"] = [{"CidrIp": properties["CidrIp"], **described}]
        if properties.get("CidrIpv6"):
            permission["Ipv6Ranges"] = [{"CidrIpv6": properties["CidrIpv6"], **described}]
        if properties.get("SourcePrefixListId"):
            permission["PrefixListIds"] = [{"PrefixListId": properties["SourcePrefixListId"], **described}]
        source = {
            k: v
            for k, v in (
                ("GroupId", properties.get("SourceSecurityGroupId")),
                ("GroupName", properties.get("SourceSecurityGroupName")),
                ("UserId", properties.get("SourceSecurityGroupOwnerId")),
            )
            if v
        }
        if "GroupId" in source or "GroupName" in source:
            permission["UserIdGroupPairs"] = [{**source, **described}]
        if not any(properties.get(k) for k in cls._RANGE):
            raise ResourceFailure(
                "Properties validation failed: one of CidrIp, CidrIpv6, SourcePrefixListId, "
                "SourceSecurityGroupId or SourceSecurityGroupName is required"
            )
        group = {"GroupId": properties["GroupId"]} if properties.get("GroupId") else {}
        if not group and properties.get("GroupName"):
            group = {"GroupName": properties["GroupName"]}
        if not group:
            raise ResourceFailure("Properties validation failed: GroupId or GroupName is required")
        return {**group, "IpPermissions": [permission]}

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        answer = client.authorize_security_group_ingress(**cls._request(properties))
        rules = answer.get("SecurityGroupRules") or []
        rule_id = rules[0]["SecurityGroupRuleId"] if rules else f"sgr-{uuid.uuid4().hex[:17]}"
        return rule_id, {"Id": rule_id}

    def remove(self, client: Any) -> None:
        _ignore_missing(lambda: client.revoke_security_group_ingress(**self._request(self._given())))

    def _given(self) -> dict[str, Any]:
        return {k: v for k, v in self.properties.items() if k in self._KNOWN}


class Repository(ApiResource):
    """AWS::ECR::Repository through the ECR API. LocalStack 4.14 community has a provider for the type,
    but it is a mock that creates nothing (RepositoryUri "http://localhost:4566"), so a build could not
    push to it: cfn_overrides.py puts this one first. Ref: the name; GetAtt Arn, RepositoryUri."""

    resource_type = "AWS::ECR::Repository"
    service = "ecr"
    name_property = "RepositoryName"
    attributes = frozenset({"Arn", "RepositoryUri"})
    _APPLIED_AFTER = ("RepositoryPolicyText", "LifecyclePolicy", "EmptyOnDelete")

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        params = operation_params(client, "CreateRepository", properties, skip=cls._APPLIED_AFTER)
        # CloudFormation generates lower-case names for repositories (naming.py in the embedded AWS)
        params["repositoryName"] = properties.get("RepositoryName") or where.generated_name.lower()
        created = client.create_repository(**params)["repository"]
        name = created["repositoryName"]
        policy = properties.get("RepositoryPolicyText")
        if policy:
            text = policy if isinstance(policy, str) else json.dumps(policy)
            client.set_repository_policy(repositoryName=name, policyText=text)
        lifecycle = (properties.get("LifecyclePolicy") or {}).get("LifecyclePolicyText")
        if lifecycle:
            client.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=lifecycle)
        return name, {"Arn": created["repositoryArn"], "RepositoryUri": created["repositoryUri"]}

    def remove(self, client: Any) -> None:
        force = str(self.properties.get("EmptyOnDelete", "false")).lower() == "true"
        _ignore_missing(lambda: client.delete_repository(repositoryName=self.physical_id, force=force))


class Topic(ApiResource):
    """AWS::SNS::Topic through the SNS API. LocalStack 4.14's own provider hands every property to CreateTopic
    as a topic attribute, so DeliveryStatusLogging (a list) fails it with a parameter validation error:
    cfn_overrides.py puts this one first. Ref: the ARN; GetAtt TopicArn, TopicName."""

    resource_type = "AWS::SNS::Topic"
    service = "sns"
    name_property = "TopicName"
    attributes = frozenset({"TopicArn", "TopicName"})
    # properties that are topic attributes of the same name
    _ATTRIBUTES = (
        "ArchivePolicy",
        "ContentBasedDeduplication",
        "DisplayName",
        "FifoThroughputScope",
        "FifoTopic",
        "KmsMasterKeyId",
        "SignatureVersion",
        "TracingConfig",
    )
    _OTHERS = ("TopicName", "Tags", "Subscription", "DeliveryStatusLogging", "DataProtectionPolicy")
    # DeliveryStatusLogging's Protocol -> the prefix of its topic attributes (SNS's delivery status logging)
    _PREFIX = {
        "lambda": "Lambda",
        "sqs": "SQS",
        "http/s": "HTTP",
        "firehose": "Firehose",
        "application": "Application",
    }

    @classmethod
    def _text(cls, value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        return json.dumps(value) if isinstance(value, dict | list) else str(value)

    @classmethod
    def _logging(cls, properties: dict[str, Any]) -> dict[str, str]:
        out = {}
        for entry in properties.get("DeliveryStatusLogging") or []:
            prefix = cls._PREFIX.get(str(entry.get("Protocol", "")).lower())
            if prefix is None:
                raise ResourceFailure(
                    f"Properties validation failed: DeliveryStatusLogging Protocol {entry.get('Protocol')!r} "
                    f"is not one of {', '.join(cls._PREFIX)}"
                )
            for key in ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", "FailureFeedbackRoleArn"):
                if entry.get(key) is not None:
                    out[f"{prefix}{key}"] = str(entry[key])
        return out

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        unknown = sorted(set(properties) - set(cls._ATTRIBUTES) - set(cls._OTHERS))
        if unknown:
            raise ResourceFailure(f"Encountered unsupported property {unknown[0]}")
        fifo = cls._text(properties.get("FifoTopic", False)) == "true"
        name = properties.get("TopicName") or (where.generated_name[:250] + (".fifo" if fifo else ""))
        attributes = {k: cls._text(properties[k]) for k in cls._ATTRIBUTES if properties.get(k) is not None}
        tags = [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in properties.get("Tags") or []]
        arn = client.create_topic(Name=name, Attributes=attributes, **({"Tags": tags} if tags else {}))[
            "TopicArn"
        ]
        for key, value in cls._logging(properties).items():
            client.set_topic_attributes(TopicArn=arn, AttributeName=key, AttributeValue=value)
        if properties.get("DataProtectionPolicy"):
            policy = cls._text(properties["DataProtectionPolicy"])
            client.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy=policy)
        for subscription in properties.get("Subscription") or []:
            client.subscribe(
                TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"]
            )
        return arn, {"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[-1]}

    def remove(self, client: Any) -> None:
        _ignore_missing(lambda: client.delete_topic(TopicArn=self.physical_id))


class SlackChannelConfiguration(ApiResource):
    """No Chatbot API here (neither LocalStack community nor moto has one): the type is known so the
    reference stack deploys with its default parameters (the resource's condition HasSlackChannel is
    false), and creating one fails the resource with the reason, as on the embedded target."""

    resource_type = "AWS::Chatbot::SlackChannelConfiguration"
    service = "chatbot"
    attributes = frozenset({"Arn"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        raise ResourceFailure(
            f"Resource type {cls.resource_type} is not supported: LocalStack serves no AWS Chatbot API "
            "(leave SlackChannelId empty; the harness's chat receiver records the notifications)"
        )

    def remove(self, client: Any) -> None:
        return None  # never created


MODELS: dict[str, type[ApiResource]] = {
    model.resource_type: model
    for model in (
        Repository,
        Topic,
        Cluster,
        LoadBalancer,
        TargetGroup,
        Listener,
        SecurityGroupIngress,
        SlackChannelConfiguration,
    )
}
