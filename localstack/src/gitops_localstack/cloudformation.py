"""CloudFormation resource providers (`localstack.cloudformation.resource_providers`) for the reference
templates' types that LocalStack community lacks, through one adapter over the harness's own resource
models (gitops_harness/emulator/cloudformation/models): each model creates, updates and deletes its
resource through the service's API, here with clients against LocalStack's gateway as the stack's
account, so the resources land in the plugin's planes (or LocalStack's services) like any API call's.

LocalStack keeps a resource's Properties as its model; the adapter adds the physical id (its primary
identifier, what Ref returns) and the model's Fn::GetAtt values to it.
"""

from __future__ import annotations

from typing import Any

from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
)

PHYSICAL_ID = "GitopsPhysicalId"
# The types served here: those of the harness's models that LocalStack 4.14 community has no provider for.
TYPES = (
    "AWS::CodeCommit::Repository",
    "AWS::CodeBuild::Project",
    "AWS::CodePipeline::Pipeline",
    "AWS::CodeDeploy::Application",
    "AWS::CodeDeploy::DeploymentGroup",
    "AWS::CodeDeploy::DeploymentConfig",
    "AWS::CodeStarNotifications::NotificationRule",
)
# The pipeline stack's container types (ECS, ELBv2, the ALB's ingress rule; Chatbot fails with the
# reason): the harness's ECS models, and resource_models.py's for what the embedded AWS gets from moto.
CONTAINER_TYPES = (
    "AWS::ECS::Cluster",
    "AWS::ECS::Service",
    "AWS::ECS::TaskDefinition",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::Chatbot::SlackChannelConfiguration",
)


def _model(resource_type: str) -> Any:
    from gitops_harness.emulator.cloudformation.models import RESOURCE_MODELS
    from gitops_localstack.resource_models import MODELS

    return MODELS.get(resource_type) or RESOURCE_MODELS[resource_type]


class ModelResourceProvider(ResourceProvider[dict]):
    """A LocalStack ResourceProvider that runs one harness resource model."""

    resource_type = ""

    def __init__(self) -> None:
        self.SCHEMA = {
            "typeName": self.resource_type,
            "primaryIdentifier": [f"/properties/{PHYSICAL_ID}"],
            "readOnlyProperties": [f"/properties/{PHYSICAL_ID}"],
            "properties": {},
        }

    def _where(self, request: Any) -> Any:
        from gitops_harness.emulator.cloudformation.resource import Placement

        generated = f"{request.stack_name}-{request.logical_resource_id}"[:64]
        return Placement(request.account_id, request.region_name, request.logical_resource_id, generated)

    def _client(self, model: Any, request: Any) -> Any:
        from gitops_localstack import runtime

        return runtime.runtime().clients.for_account(model.service, request.account_id, request.region_name)

    def _failed(self, message: str) -> ProgressEvent:
        return ProgressEvent(status=OperationStatus.FAILED, resource_model={}, message=message)

    def _success(
        self, properties: dict[str, Any], physical_id: str, attributes: dict[str, Any]
    ) -> ProgressEvent:
        state = {**properties, **attributes, PHYSICAL_ID: physical_id}
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=state)

    def create(self, request: Any) -> ProgressEvent:
        from gitops_harness.emulator.cloudformation.resource import ResourceFailure

        model = _model(self.resource_type)
        properties = dict(request.desired_state or {})
        try:
            physical_id, attributes = _run(
                lambda: model.create(self._client(model, request), properties, self._where(request)), model
            )
        except ResourceFailure as exc:
            return self._failed(str(exc))
        return self._success(properties, physical_id, attributes)

    def update(self, request: Any) -> ProgressEvent:
        from gitops_harness.emulator.cloudformation.resource import ResourceFailure

        model = _model(self.resource_type)
        previous = dict(request.previous_state or {})
        properties = {k: v for k, v in (request.desired_state or {}).items() if k != PHYSICAL_ID}
        instance = model(previous.get(PHYSICAL_ID, ""), previous, previous, self._where(request))
        try:
            updated = _run(lambda: instance.update(self._client(model, request), properties), model)
            if updated is None:  # needs a replacement: the old goes first (names are unique)
                _run(lambda: instance.remove(self._client(model, request)), model)
                updated = _run(
                    lambda: model.create(self._client(model, request), properties, self._where(request)),
                    model,
                )
        except ResourceFailure as exc:
            return self._failed(str(exc))
        physical_id, attributes = updated
        return self._success(properties, physical_id, attributes)

    def delete(self, request: Any) -> ProgressEvent:
        from gitops_harness.emulator.cloudformation.resource import ResourceFailure

        model = _model(self.resource_type)
        state = dict(request.desired_state or request.previous_state or {})
        instance = model(state.get(PHYSICAL_ID, ""), state, state, self._where(request))
        try:
            _delete(instance, self._client(model, request))
        except ResourceFailure as exc:
            return self._failed(str(exc))
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})


def _run(action: Any, model: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    from gitops_harness.emulator.cloudformation.resource import (
        ResourceFailure,
        acting_through,
        handler_message,
    )
    from gitops_localstack import runtime

    try:
        # the models' own lookups (require_role: the service role exists) use the planes' clients too
        with acting_through(runtime.runtime().clients):
            return action()
    except (ClientError, BotoCoreError) as error:
        raise ResourceFailure(handler_message(error, model.service)) from None


def _delete(instance: Any, client: Any) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    from gitops_harness.emulator.cloudformation.resource import (
        ResourceFailure,
        acting_through,
        handler_message,
        is_not_found,
    )
    from gitops_localstack import runtime

    try:
        with acting_through(runtime.runtime().clients):
            instance.remove(client)
    except ClientError as error:
        if not is_not_found(error):  # already gone counts as deleted, as CloudFormation's handlers do
            raise ResourceFailure(handler_message(error, instance.service)) from None
    except BotoCoreError as error:
        raise ResourceFailure(handler_message(error, instance.service)) from None


def _plugin_class(resource_type: str) -> type:
    provider = type(
        f"{resource_type.replace('::', '')}Provider",
        (ModelResourceProvider,),
        {"resource_type": resource_type},
    )

    def __init__(self: Any) -> None:
        self.factory = None

    def load(self: Any) -> None:
        self.factory = provider

    return type(
        f"{resource_type.replace('::', '')}Plugin",
        (CloudFormationResourceProviderPlugin,),
        {"name": resource_type, "__init__": __init__, "load": load, "__module__": __name__},
    )


# One plugin class per type, named for the entry points in pyproject.toml (AWSCodeCommitRepositoryPlugin, ...).
for _type in TYPES + CONTAINER_TYPES:
    _cls = _plugin_class(_type)
    globals()[_cls.__name__] = _cls
