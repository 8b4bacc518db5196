"""AWS::CodePipeline::Pipeline (Ref: the pipeline name)."""

from __future__ import annotations

from typing import Any

from gitops_harness.emulator.cloudformation.properties import convert
from gitops_harness.emulator.cloudformation.references import require_role
from gitops_harness.emulator.cloudformation.resource import ApiResource, Placement

# Not members of the API's PipelineDeclaration: handled (or meaningful only) in CloudFormation.
_CFN_ONLY = ("Tags", "RestartExecutionOnUpdate", "DisableInboundStageTransitions", "ArtifactStores")


class Pipeline(ApiResource):
    resource_type = "AWS::CodePipeline::Pipeline"
    service = "codepipeline"
    name_property = "Name"
    attributes = frozenset({"Version"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        request: dict[str, Any] = {"pipeline": cls._declaration(client, properties, where)}
        if properties.get("Tags"):
            shape = client.meta.service_model.operation_model("CreatePipeline").input_shape.members["tags"]
            request["tags"] = convert(shape, properties["Tags"], "/Tags")
        pipeline = client.create_pipeline(**request)["pipeline"]
        _disable_transitions(client, pipeline["name"], properties)
        return pipeline["name"], {"Version": str(pipeline.get("version", 1))}

    def update(self, client: Any, properties: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if self.resource_name(properties, self.where) != self.physical_id:
            return None
        pipeline = client.update_pipeline(pipeline=self._declaration(client, properties, self.where))[
            "pipeline"
        ]
        if str(properties.get("RestartExecutionOnUpdate", "false")).lower() == "true":
            client.start_pipeline_execution(
                name=pipeline["name"]
            )  # CloudFormation reruns it after the update
        return pipeline["name"], {"Version": str(pipeline.get("version", 1))}

    def remove(self, client: Any) -> None:
        client.delete_pipeline(name=self.physical_id)

    @classmethod
    def _declaration(cls, client: Any, properties: dict[str, Any], where: Placement) -> dict[str, Any]:
        shape = client.meta.service_model.shape_for("PipelineDeclaration")
        given = {key: value for key, value in properties.items() if key not in _CFN_ONLY}
        declaration = convert(shape, given, "")
        declaration["name"] = cls.resource_name(properties, where)
        if declaration.get("roleArn"):
            require_role(
                declaration["roleArn"],
                where,
                "codepipeline",
                "InvalidStructureException",
                f"CodePipeline is not authorized to perform AssumeRole on role {declaration['roleArn']}",
            )
        if properties.get("ArtifactStores"):
            # a list of {Region, ArtifactStore} in CloudFormation, a map by region in the API
            store_shape = shape.members["artifactStore"]
            declaration["artifactStores"] = {
                entry["Region"]: convert(
                    store_shape, entry["ArtifactStore"], f"/ArtifactStores/{entry['Region']}"
                )
                for entry in properties["ArtifactStores"]
            }
        return declaration


def _disable_transitions(client: Any, name: str, properties: dict[str, Any]) -> None:
    for transition in properties.get("DisableInboundStageTransitions") or []:
        client.disable_stage_transition(
            pipelineName=name,
            stageName=transition["StageName"],
            transitionType="Inbound",
            reason=transition.get("Reason", "Disabled by CloudFormation"),
        )
