"""AWS::CodeStarNotifications::NotificationRule (Ref: the rule ARN)."""

from __future__ import annotations

from typing import Any

from gitops_harness.emulator.cloudformation.properties import operation_params
from gitops_harness.emulator.cloudformation.resource import ApiResource, Placement, ResourceFailure


class NotificationRule(ApiResource):
    resource_type = "AWS::CodeStarNotifications::NotificationRule"
    service = "codestar-notifications"
    name_property = "Name"
    attributes = frozenset({"Arn"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        arn = client.create_notification_rule(
            **cls._params(client, "CreateNotificationRule", properties, where)
        )["Arn"]
        return arn, {"Arn": arn}

    def update(self, client: Any, properties: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if properties.get("Resource") != self.properties.get("Resource"):
            return None
        params = self._params(client, "UpdateNotificationRule", properties, self.where)
        client.update_notification_rule(Arn=self.physical_id, **params)
        return self.physical_id, {"Arn": self.physical_id}

    def remove(self, client: Any) -> None:
        client.delete_notification_rule(Arn=self.physical_id)

    @classmethod
    def _params(
        cls, client: Any, operation: str, properties: dict[str, Any], where: Placement
    ) -> dict[str, Any]:
        if properties.get("TargetAddress"):
            # its meaning beside Targets is not documented well enough to apply: refused, not dropped
            raise ResourceFailure(
                f"Property TargetAddress of {cls.resource_type} is not supported by the embedded AWS"
            )
        # EventTypeId is CloudFormation's single-value spelling of the list
        params = operation_params(client, operation, properties, skip=("EventTypeId", "TargetAddress"))
        if properties.get("EventTypeId"):
            params.setdefault("EventTypeIds", []).append(properties["EventTypeId"])
        params["Name"] = cls.resource_name(properties, where)
        return params
