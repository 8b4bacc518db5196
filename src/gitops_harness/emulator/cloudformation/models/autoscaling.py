"""AWS::ApplicationAutoScaling::ScalableTarget and ::ScalingPolicy (an ECS service's desired count scaled
by a policy), which moto's CloudFormation lacks: RegisterScalableTarget / PutScalingPolicy through the API.

Ref of a scalable target is "<ResourceId>|<ScalableDimension>|<ServiceNamespace>", which a policy may
name as its ScalingTargetId instead of giving the three; Ref of a policy is its ARN."""

from __future__ import annotations

from typing import Any

from gitops_harness.emulator.cloudformation.properties import operation_params
from gitops_harness.emulator.cloudformation.resource import ApiResource, Placement, ResourceFailure

_TARGET_KEYS = ("ResourceId", "ScalableDimension", "ServiceNamespace")


class ScalableTarget(ApiResource):
    resource_type = "AWS::ApplicationAutoScaling::ScalableTarget"
    service = "application-autoscaling"
    attributes = frozenset({"Id"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        if properties.get("ScheduledActions"):
            raise ResourceFailure(
                f"Property ScheduledActions of {cls.resource_type} is not supported by the embedded AWS"
            )
        # RoleARN is the API's RoleARN; SuspendedState matches by name
        client.register_scalable_target(
            **operation_params(client, "RegisterScalableTarget", properties, skip=("ScheduledActions",))
        )
        target_id = "|".join(str(properties[key]) for key in _TARGET_KEYS)
        return target_id, {"Id": target_id}

    def update(self, client: Any, properties: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if any(properties.get(key) != self.properties.get(key) for key in _TARGET_KEYS):
            return None
        return self.create(client, properties, self.where)

    def remove(self, client: Any) -> None:
        client.deregister_scalable_target(**{key: self.properties[key] for key in _TARGET_KEYS})


class ScalingPolicy(ApiResource):
    resource_type = "AWS::ApplicationAutoScaling::ScalingPolicy"
    service = "application-autoscaling"
    attributes = frozenset({"Arn"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        given = dict(properties)
        target_id = given.pop("ScalingTargetId", None)
        if target_id:
            parts = str(target_id).split("|")
            if len(parts) != 3:
                raise ResourceFailure(
                    f"ScalingTargetId {target_id} is not <ResourceId>|<dimension>|<namespace>"
                )
            given.update(zip(_TARGET_KEYS, parts, strict=True))
        params = operation_params(client, "PutScalingPolicy", given)
        params.setdefault("PolicyName", where.generated_name)
        arn = client.put_scaling_policy(**params)["PolicyARN"]
        return arn, {"Arn": arn}

    def remove(self, client: Any) -> None:
        target = self.properties
        if target.get("ScalingTargetId"):
            target = dict(zip(_TARGET_KEYS, str(target["ScalingTargetId"]).split("|"), strict=True))
        name = self.physical_id.rsplit("policyName/", 1)[-1]
        client.delete_scaling_policy(PolicyName=name, **{key: target[key] for key in _TARGET_KEYS})
