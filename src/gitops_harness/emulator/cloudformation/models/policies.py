"""Resource policies as resources: AWS::S3::BucketPolicy, AWS::SNS::TopicPolicy,
AWS::Events::EventBusPolicy. Each is a put on its target, so an update is the same put again."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.emulator.cloudformation.resource import (
    ApiResource,
    Placement,
    ResourceFailure,
    is_not_found,
)


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class BucketPolicy(ApiResource):
    resource_type = "AWS::S3::BucketPolicy"
    service = "s3"

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        bucket = properties["Bucket"]
        client.put_bucket_policy(Bucket=bucket, Policy=_document(properties["PolicyDocument"]))
        return bucket, {}

    def update(self, client: Any, properties: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        return (
            self.create(client, properties, self.where) if properties["Bucket"] == self.physical_id else None
        )

    def remove(self, client: Any) -> None:
        try:
            client.delete_bucket_policy(Bucket=self.physical_id)
        except ClientError as error:
            if not is_not_found(error) and error.response["Error"]["Code"] != "NoSuchBucket":
                raise


class TopicPolicy(ApiResource):
    resource_type = "AWS::SNS::TopicPolicy"
    service = "sns"

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        for topic in properties["Topics"]:
            client.set_topic_attributes(
                TopicArn=topic, AttributeName="Policy", AttributeValue=_document(properties["PolicyDocument"])
            )
        return where.generated_name, {}

    def update(self, client: Any, properties: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        for topic in set(self.properties["Topics"]) - set(properties["Topics"]):
            self._reset(client, topic)
        self.create(client, properties, self.where)
        return self.physical_id, {}

    def remove(self, client: Any) -> None:
        for topic in self.properties["Topics"]:
            self._reset(client, topic)

    def _reset(self, client: Any, topic: str) -> None:
        # deleting a TopicPolicy restores the topic's default policy: its owner may act on it
        account = topic.split(":")[4]
        default = {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "SNS:GetTopicAttributes",
                        "SNS:SetTopicAttributes",
                        "SNS:AddPermission",
                        "SNS:RemovePermission",
                        "SNS:DeleteTopic",
                        "SNS:Subscribe",
                        "SNS:ListSubscriptionsByTopic",
                        "SNS:Publish",
                    ],
                    "Resource": topic,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
                }
            ],
        }
        try:
            client.set_topic_attributes(
                TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(default)
            )
        except ClientError as error:
            if not is_not_found(error):
                raise


class EventBusPolicy(ApiResource):
    resource_type = "AWS::Events::EventBusPolicy"
    service = "events"

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        bus = properties.get("EventBusName") or "default"
        sid = properties["StatementId"]
        if properties.get("Statement"):
            # a full statement goes in by merging it into the bus's policy under its StatementId
            statement = dict(properties["Statement"], Sid=sid)
            policy = _bus_policy(client, bus)
            policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != sid] + [statement]
            client.put_permission(EventBusName=bus, Policy=json.dumps(policy))
        elif properties.get("Principal"):
            params: dict[str, Any] = {
                "EventBusName": bus,
                "StatementId": sid,
                "Principal": properties["Principal"],
                "Action": properties.get("Action") or "events:PutEvents",
            }
            if properties.get("Condition"):
                params["Condition"] = properties["Condition"]
            client.put_permission(**params)
        else:
            raise ResourceFailure("EventBusPolicy needs Statement, or Principal and Action")
        return sid, {}

    def update(self, client: Any, properties: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if properties["StatementId"] != self.physical_id:
            return None
        return self.create(client, properties, self.where)

    def remove(self, client: Any) -> None:
        bus = self.properties.get("EventBusName") or "default"
        try:
            client.remove_permission(EventBusName=bus, StatementId=self.physical_id)
        except ClientError as error:
            if not is_not_found(error):
                raise


def _bus_policy(client: Any, bus: str) -> dict[str, Any]:
    text = client.describe_event_bus(Name=bus).get("Policy")
    policy = json.loads(text) if text else {}
    policy.setdefault("Version", "2012-10-17")
    policy.setdefault("Statement", [])
    return policy


class QueuePolicy(ApiResource):
    """AWS::SQS::QueuePolicy (moto has none): the Policy attribute of each queue (given by URL)."""

    resource_type = "AWS::SQS::QueuePolicy"
    service = "sqs"

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        for queue in properties["Queues"]:
            client.set_queue_attributes(
                QueueUrl=queue, Attributes={"Policy": _document(properties["PolicyDocument"])}
            )
        return where.generated_name, {}

    def update(self, client: Any, properties: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        for queue in set(self.properties["Queues"]) - set(properties["Queues"]):
            self._clear(client, queue)
        self.create(client, properties, self.where)
        return self.physical_id, {}

    def remove(self, client: Any) -> None:
        for queue in self.properties["Queues"]:
            self._clear(client, queue)

    @staticmethod
    def _clear(client: Any, queue: str) -> None:
        try:
            client.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": ""})
        except ClientError as error:
            if not is_not_found(error) and "NonExistentQueue" not in error.response["Error"]["Code"]:
                raise
