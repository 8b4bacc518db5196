"""AWS::ECS::Service (Ref: the service ARN) and AWS::ECS::TaskDefinition (Ref: the task definition ARN).
moto has models for both, but they drop most properties (the service's DeploymentController, which a
blue/green service needs as CODE_DEPLOY; the task definition's ExecutionRoleArn, TaskRoleArn, NetworkMode,
Cpu, RequiresCompatibilities...); CreateService and RegisterTaskDefinition through the API keep every
property, and one the API does not know fails the resource."""

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


class TaskDefinition(ApiResource):
    resource_type = "AWS::ECS::TaskDefinition"
    service = "ecs"
    attributes = frozenset({"TaskDefinitionArn"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        params = operation_params(client, "RegisterTaskDefinition", properties)
        # CloudFormation names a family-less task definition <stack>-<logical id>-<suffix>
        params.setdefault("family", where.generated_name)
        registered = client.register_task_definition(**params)["taskDefinition"]
        arn = registered["taskDefinitionArn"]
        return arn, {"TaskDefinitionArn": arn}

    def remove(self, client: Any) -> None:
        client.deregister_task_definition(taskDefinition=self.physical_id)


class Cluster(ApiResource):
    """CreateCluster through the API: moto's own model keeps only the name, dropping ClusterSettings
    (Container Insights), Configuration, capacity providers, ServiceConnectDefaults and Tags."""

    resource_type = "AWS::ECS::Cluster"
    service = "ecs"
    name_property = "ClusterName"
    attributes = frozenset({"Arn"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        # ClusterSettings is the API's `settings`; the rest match by name
        renamed = {
            ("Settings" if key == "ClusterSettings" else key): value for key, value in properties.items()
        }
        params = operation_params(client, "CreateCluster", renamed)
        params["clusterName"] = cls.resource_name(properties, where)
        cluster = client.create_cluster(**params)["cluster"]
        return cluster["clusterName"], {"Arn": cluster["clusterArn"]}

    def remove(self, client: Any) -> None:
        client.delete_cluster(cluster=self.physical_id)
