"""AWS::CloudWatch::Alarm (Ref: the alarm name) and AWS::SNS::Subscription (Ref: the subscription ARN)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.emulator.cloudformation.properties import operation_params
from gitops_harness.emulator.cloudformation.resource import (
    ApiResource,
    Placement,
    ResourceFailure,
    is_not_found,
)


class Alarm(ApiResource):
    resource_type = "AWS::CloudWatch::Alarm"
    service = "cloudwatch"
    name_property = "AlarmName"
    attributes = frozenset({"Arn"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        params = operation_params(client, "PutMetricAlarm", properties)
        params["AlarmName"] = cls.resource_name(properties, where)
        client.put_metric_alarm(**params)
        alarms = client.describe_alarms(AlarmNames=[params["AlarmName"]])["MetricAlarms"]
        if not alarms:
            raise ResourceFailure(f"alarm {params['AlarmName']} was not found after PutMetricAlarm")
        return params["AlarmName"], {"Arn": alarms[0]["AlarmArn"]}

    def update(self, client: Any, properties: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if self.resource_name(properties, self.where) != self.physical_id:
            return None
        return self.create(client, properties, self.where)

    def remove(self, client: Any) -> None:
        client.delete_alarms(AlarmNames=[self.physical_id])


# Subscription properties that are subscription attributes in the API
_ATTRIBUTES = (
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
)


class Subscription(ApiResource):
    resource_type = "AWS::SNS::Subscription"
    service = "sns"
    attributes = frozenset({"Arn"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        import json

        attributes = {}
        for key in _ATTRIBUTES:
            if properties.get(key) is not None:
                value = properties[key]
                attributes[key] = (
                    value
                    if isinstance(value, str)
                    else json.dumps(value)
                    if isinstance(value, dict | list)
                    else str(value).lower()
                )
        region = properties.get("Region") or where.region
        if region != where.region:
            raise ResourceFailure(
                "Property Region (a topic in another region) is not supported by the embedded AWS"
            )
        arn = client.subscribe(
            TopicArn=properties["TopicArn"],
            Protocol=properties["Protocol"],
            Endpoint=properties.get("Endpoint", ""),
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return arn, {"Arn": arn}

    def remove(self, client: Any) -> None:
        try:
            client.unsubscribe(SubscriptionArn=self.physical_id)
        except ClientError as error:
            if not is_not_found(error):
                raise
