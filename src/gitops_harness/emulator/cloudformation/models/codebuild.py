"""AWS::CodeBuild::Project (Ref: the project name)."""

from __future__ import annotations

from typing import Any

from gitops_harness.emulator.cloudformation.properties import operation_params
from gitops_harness.emulator.cloudformation.references import require_role, role_arn
from gitops_harness.emulator.cloudformation.resource import ApiResource, Placement, ResourceFailure

# CloudFormation-only properties: webhooks and public visibility are other API calls this emulator
# does not serve, so a template that sets them fails rather than silently losing them.
_UNSERVED = ("Triggers", "Visibility", "ResourceAccessRole")


class Project(ApiResource):
    resource_type = "AWS::CodeBuild::Project"
    service = "codebuild"
    name_property = "Name"
    attributes = frozenset({"Arn", "Id"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        params = cls._params(client, "CreateProject", properties, where)
        project = client.create_project(**params)["project"]
        return project["name"], {"Arn": project["arn"], "Id": project["name"]}

    def update(self, client: Any, properties: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if self.resource_name(properties, self.where) != self.physical_id:
            return None
        project = client.update_project(**self._params(client, "UpdateProject", properties, self.where))[
            "project"
        ]
        return project["name"], {"Arn": project["arn"], "Id": project["name"]}

    def remove(self, client: Any) -> None:
        client.delete_project(name=self.physical_id)

    @classmethod
    def _params(
        cls, client: Any, operation: str, properties: dict[str, Any], where: Placement
    ) -> dict[str, Any]:
        for key in _UNSERVED:
            if properties.get(key):
                raise ResourceFailure(
                    f"Property {key} of {cls.resource_type} is not supported by the embedded AWS"
                )
        params = operation_params(client, operation, properties, skip=_UNSERVED)
        params["name"] = cls.resource_name(properties, where)
        if params.get("serviceRole"):
            # CodeBuild takes the role's name or ARN, and refuses a role that does not exist
            params["serviceRole"] = role_arn(params["serviceRole"], where)
            require_role(
                params["serviceRole"],
                where,
                "codebuild",
                "InvalidInputException",
                f"CodeBuild is not authorized to perform: sts:AssumeRole on {params['serviceRole']}",
            )
        return params
