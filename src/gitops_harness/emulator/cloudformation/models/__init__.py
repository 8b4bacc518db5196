"""Resource models for the types moto's CloudFormation lacks, by CloudFormation type."""

from __future__ import annotations

from gitops_harness.emulator.cloudformation.models import (
    codebuild,
    codecommit,
    codedeploy,
    codepipeline,
    ecs,
    iam,
    monitoring,
    notifications,
    policies,
)
from gitops_harness.emulator.cloudformation.resource import ApiResource

RESOURCE_MODELS: dict[str, type[ApiResource]] = {
    model.resource_type: model
    for model in (
        codecommit.Repository,
        codebuild.Project,
        codepipeline.Pipeline,
        codedeploy.Application,
        codedeploy.DeploymentGroup,
        ecs.Service,
        notifications.NotificationRule,
        iam.Group,
        policies.BucketPolicy,
        policies.TopicPolicy,
        policies.EventBusPolicy,
        monitoring.Alarm,
        monitoring.Subscription,
    )
}
