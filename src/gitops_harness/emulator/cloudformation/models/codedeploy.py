"""AWS::CodeDeploy::Application, ::DeploymentGroup and ::DeploymentConfig (Ref: their names)."""

from __future__ import annotations

from typing import Any

from gitops_harness.emulator.cloudformation.properties import operation_params
from gitops_harness.emulator.cloudformation.resource import ApiResource, Placement, ResourceFailure


class Application(ApiResource):
    resource_type = "AWS::CodeDeploy::Application"
    service = "codedeploy"
    name_property = "ApplicationName"
    attributes = frozenset({"ApplicationName"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        params = operation_params(client, "CreateApplication", properties)
        params["applicationName"] = cls.resource_name(properties, where)
        client.create_application(**params)
        return params["applicationName"], {"ApplicationName": params["applicationName"]}

    def remove(self, client: Any) -> None:
        client.delete_application(applicationName=self.physical_id)


class DeploymentGroup(ApiResource):
    resource_type = "AWS::CodeDeploy::DeploymentGroup"
    service = "codedeploy"
    name_property = "DeploymentGroupName"
    attributes = frozenset()

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        if properties.get("Deployment"):
            # CloudFormation would start a deployment of the given revision while creating the group
            raise ResourceFailure(
                f"Property Deployment of {cls.resource_type} is not supported by the embedded AWS"
            )
        params = operation_params(client, "CreateDeploymentGroup", properties, skip=("Deployment",))
        params["deploymentGroupName"] = cls.resource_name(properties, where)
        client.create_deployment_group(**params)
        return params["deploymentGroupName"], {}

    def update(self, client: Any, properties: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if properties.get("ApplicationName") != self.properties.get("ApplicationName") or properties.get(
            "Deployment"
        ):
            return None
        params = operation_params(client, "CreateDeploymentGroup", properties, skip=("Deployment",))
        new_name = self.resource_name(properties, self.where)
        params.pop("deploymentGroupName", None)
        client.update_deployment_group(
            currentDeploymentGroupName=self.physical_id, newDeploymentGroupName=new_name, **params
        )
        return new_name, {}

    def remove(self, client: Any) -> None:
        client.delete_deployment_group(
            applicationName=self.properties["ApplicationName"], deploymentGroupName=self.physical_id
        )


class DeploymentConfig(ApiResource):
    """A custom config (TimeBasedCanary / TimeBasedLinear / AllAtOnce for ECS); every change replaces it."""

    resource_type = "AWS::CodeDeploy::DeploymentConfig"
    service = "codedeploy"
    name_property = "DeploymentConfigName"
    attributes = frozenset()

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        params = operation_params(client, "CreateDeploymentConfig", properties)
        params["deploymentConfigName"] = cls.resource_name(properties, where)
        client.create_deployment_config(**params)
        return params["deploymentConfigName"], {}

    def remove(self, client: Any) -> None:
        client.delete_deployment_config(deploymentConfigName=self.physical_id)
