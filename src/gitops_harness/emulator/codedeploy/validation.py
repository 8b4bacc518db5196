"""AWS's checks of a deployment group's configuration; for ECS blue/green the resources it names are read as
the group's service role (ELB target groups and listeners, the ECS service and its deployment controller).
A group that fails them is not stored."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.emulator.clients import RoleClients
from gitops_harness.emulator.exceptions import ModeledErrors

errors = ModeledErrors("codedeploy")


def validate_group(clients: RoleClients, region: str, compute_platform: str, config: dict[str, Any]) -> None:
    """The service role, and for ECS the blue/green style, one service, one target group pair and what they name."""
    role = config.get("serviceRoleArn")
    if not role:
        raise errors.RoleRequiredException("Role ARN is required.")
    if not role.startswith("arn:aws:iam::") or ":role/" not in role:
        raise errors.InvalidRoleException(f"The service role {role} is not a valid IAM role ARN")
    if compute_platform != "ECS":
        return
    style = config.get("deploymentStyle") or {}
    if style.get("deploymentType") != "BLUE_GREEN" or style.get("deploymentOption") != "WITH_TRAFFIC_CONTROL":
        raise errors.InvalidDeploymentStyleException(
            "An ECS deployment group must use the deployment type BLUE_GREEN with WITH_TRAFFIC_CONTROL"
        )
    services = config.get("ecsServices") or []
    if len(services) != 1:
        raise errors.InvalidECSServiceException("An ECS deployment group needs exactly one ECS service")
    pairs = (config.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or []
    if len(pairs) != 1 or len(pairs[0].get("targetGroups") or []) != 2:
        raise errors.InvalidLoadBalancerInfoException(
            "The specification for load balancing in the deployment group is invalid. An ECS deployment "
            "group needs one targetGroupPairInfoList entry with two target groups."
        )
    pair = pairs[0]
    prod = (pair.get("prodTrafficRoute") or {}).get("listenerArns") or []
    if len(prod) != 1:
        raise errors.InvalidTargetGroupPairException(
            "The target group pair needs exactly one production listener"
        )
    try:
        elb = clients.for_role("elbv2", role, region, session_name="codedeploy")
        ecs = clients.for_role("ecs", role, region, session_name="codedeploy")
    except ClientError as exc:
        raise errors.InvalidRoleException(f"CodeDeploy cannot assume the role {role}: {exc}") from None
    for target_group in pair["targetGroups"]:
        try:
            elb.describe_target_groups(Names=[target_group["name"]])
        except ClientError:
            raise errors.InvalidLoadBalancerInfoException(
                f"The specification for load balancing in the deployment group is invalid: the target "
                f"group {target_group['name']} does not exist"
            ) from None
    listeners = [*prod, *((pair.get("testTrafficRoute") or {}).get("listenerArns") or [])]
    for listener in listeners:
        try:
            elb.describe_listeners(ListenerArns=[listener])
        except ClientError:
            raise errors.InvalidLoadBalancerInfoException(
                f"The specification for load balancing in the deployment group is invalid: the listener "
                f"{listener} does not exist"
            ) from None
    service = services[0]
    try:
        found = ecs.describe_services(cluster=service["clusterName"], services=[service["serviceName"]])
    except ClientError as exc:
        raise errors.InvalidECSServiceException(
            f"The ECS service {service['serviceName']} in cluster {service['clusterName']} cannot be read: {exc}"
        ) from None
    active = [s for s in found.get("services", []) if s.get("status") == "ACTIVE"]
    if not active:
        raise errors.InvalidECSServiceException(
            f"The ECS service {service['serviceName']} does not exist in cluster {service['clusterName']}"
        )
    controller = (active[0].get("deploymentController") or {}).get("type", "ECS")
    if controller != "CODE_DEPLOY":
        raise errors.InvalidECSServiceException(
            f"Deployment group's ECS service must be configured for a CODE_DEPLOY deployment controller "
            f"(service {service['serviceName']} uses {controller})"
        )
