"""AWS::ECS::Service (Ref: the service ARN). moto has a model for it, but it drops DeploymentController
(and most other properties), and a blue/green service must say CODE_DEPLOY; CreateService through the
API keeps every property."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.emulator.cloudformation.properties import operation_params
from gitops_harness.emulator.cloudformation.resource import ApiResource, Placement, is_not_found


class Service(ApiResource):
    resource_type = "AWS::ECS::Service"
    service = "ecs"
    name_property = "ServiceName"
    attributes = frozenset({"Name", "ServiceArn"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        params = operation_params(client, "CreateService", properties)
        params["serviceName"] = cls.resource_name(properties, where)
        created = client.create_service(**params)["service"]
        return created["serviceArn"], {"Name": created["serviceName"], "ServiceArn": created["serviceArn"]}

    def remove(self, client: Any) -> None:
        try:
            client.delete_service(
                cluster=self.properties.get("Cluster", "default"), service=self.physical_id, force=True
            )
        except ClientError as error:
            if not is_not_found(error):
                raise
