"""AWS::CodeCommit::Repository (Ref: the repository id)."""

from __future__ import annotations

from typing import Any

from gitops_harness.emulator.cloudformation.properties import convert, operation_params
from gitops_harness.emulator.cloudformation.resource import ApiResource, Placement, ResourceFailure


class Repository(ApiResource):
    resource_type = "AWS::CodeCommit::Repository"
    service = "codecommit"
    name_property = "RepositoryName"
    attributes = frozenset({"Arn", "CloneUrlHttp", "CloneUrlSsh", "Name", "KmsKeyId"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        if properties.get("Code"):
            raise ResourceFailure(
                "Property Code (initial commit from S3) is not supported by the embedded AWS"
            )
        params = operation_params(client, "CreateRepository", properties, skip=("Triggers", "Code"))
        params["repositoryName"] = cls.resource_name(properties, where)
        metadata = client.create_repository(**params)["repositoryMetadata"]
        _put_triggers(client, metadata["repositoryName"], properties)
        return metadata["repositoryId"], _attributes(metadata)

    def update(self, client: Any, properties: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        name = self.attribute_values["Name"]
        if self.resource_name(properties, self.where) != name or properties.get("Code"):
            return None
        client.update_repository_description(
            repositoryName=name, repositoryDescription=properties.get("RepositoryDescription", "")
        )
        _put_triggers(client, name, properties)
        metadata = client.get_repository(repositoryName=name)["repositoryMetadata"]
        return metadata["repositoryId"], _attributes(metadata)

    def remove(self, client: Any) -> None:
        client.delete_repository(repositoryName=self.attribute_values["Name"])  # idempotent in the API


def _put_triggers(client: Any, name: str, properties: dict[str, Any]) -> None:
    if "Triggers" not in properties:
        return
    shape = client.meta.service_model.operation_model("PutRepositoryTriggers").input_shape.members["triggers"]
    client.put_repository_triggers(
        repositoryName=name, triggers=convert(shape, properties["Triggers"] or [], "/Triggers")
    )


def _attributes(metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "Arn": metadata["Arn"],
        "CloneUrlHttp": metadata.get("cloneUrlHttp", ""),
        "CloneUrlSsh": metadata.get("cloneUrlSsh", ""),
        "Name": metadata["repositoryName"],
        "KmsKeyId": metadata.get("kmsKeyId", ""),
    }
