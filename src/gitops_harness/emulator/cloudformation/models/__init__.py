"""Resource models for the types moto's CloudFormation lacks, by CloudFormation type."""

from __future__ import annotations

from functools import cache
from typing import Any

from gitops_harness.emulator.cloudformation.custom import CustomResource, is_custom
from gitops_harness.emulator.cloudformation.models import (
    autoscaling,
    codebuild,
    codecommit,
    codedeploy,
    codepipeline,
    ecs,
    iam,
    monitoring,
    network,
    notifications,
    policies,
    secrets,
)
from gitops_harness.emulator.cloudformation.resource import ApiResource, unsupported

RESOURCE_MODELS: dict[str, type[ApiResource]] = {
    model.resource_type: model
    for model in (
        codecommit.Repository,
        codebuild.Project,
        codepipeline.Pipeline,
        codedeploy.Application,
        codedeploy.DeploymentGroup,
        codedeploy.DeploymentConfig,
        ecs.Cluster,
        ecs.Service,
        ecs.TaskDefinition,
        notifications.NotificationRule,
        iam.Group,
        policies.BucketPolicy,
        policies.TopicPolicy,
        policies.EventBusPolicy,
        monitoring.Alarm,
        monitoring.Subscription,
        secrets.Secret,
        policies.QueuePolicy,
        network.SecurityGroupEgress,
        autoscaling.ScalableTarget,
        autoscaling.ScalingPolicy,
    )
}


@cache
def _unsupported_class(resource_type: str) -> type:
    return unsupported(resource_type)


def resource_class_from_type(resource_type: str) -> Any:
    """The class that creates `resource_type`: ours, else moto's, else one that fails the resource
    ("not supported by the embedded AWS"); None for moto's NULL_MODELS, as moto answers."""
    from moto.cloudformation import parsing

    model = RESOURCE_MODELS.get(resource_type)
    if model is not None:
        return model
    if is_custom(resource_type):
        return CustomResource
    if resource_type in parsing.NULL_MODELS:
        return None
    moto_model = parsing.get_model_map().get(resource_type)
    if moto_model is None:
        return _unsupported_class(resource_type)
    return _with_supplemented_attributes(moto_model, resource_type)


@cache
def _with_supplemented_attributes(moto_model: type, resource_type: str) -> type:
    """moto's model, answering has_cfn_attr for the attributes intrinsics.py supplies (moto's output
    validation asks the class)."""
    from gitops_harness.emulator.cloudformation.intrinsics import SUPPLEMENTED_ATTRIBUTES

    extra = frozenset(attr for (kind, attr) in SUPPLEMENTED_ATTRIBUTES if kind == resource_type)
    if not extra:
        return moto_model
    moto_has = moto_model.has_cfn_attr

    def has_cfn_attr(cls: type, attr: str) -> bool:
        return attr in extra or moto_has(attr)

    return type(moto_model.__name__, (moto_model,), {"has_cfn_attr": classmethod(has_cfn_attr)})
