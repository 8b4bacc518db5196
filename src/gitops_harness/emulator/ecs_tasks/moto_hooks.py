"""The ECS backend hooks that give task sets real effects. They are PatchSpecs of the "ecs_tasks" group
in moto_patches.py (each a function of moto's original); the controller they call is the one of the
emulator that started last (`serve` / `release`), as moto's state is one per process.

- CreateService with a CODE_DEPLOY controller creates the service's first task set (PRIMARY), as ECS does.
- CreateTaskSet / UpdateTaskSet / UpdateService(desiredCount) scale task sets; DeleteTaskSet drains one;
  DeleteService stops the service's tasks; StopTask stops one.
- CreateTaskSet with `scale` crashes in moto 5.2.5: an awsvpc task reads its ENI's private_dns_name,
  which moto's NetworkInterface lacks. The property is added (ip-10-0-1-5.ec2.internal, as EC2 names
  it), and the scale is kept on the task set while the controller, not moto's run_task, runs the tasks.
- UpdateService with another task definition on a CODE_DEPLOY service is refused with ECS's error.
- Describe* refresh counts and stabilityStatus first.
"""

from __future__ import annotations

from typing import Any

from moto.ecs.exceptions import ECSException, InvalidParameterException, TaskSetNotFoundException

from gitops_harness.emulator.ecs_tasks.task_sets import TaskSetController

CODE_DEPLOY_REFUSAL = (
    "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
    "Use AWS CodeDeploy to trigger a new deployment."
)
DEFAULT_SCALE = {"value": 100.0, "unit": "PERCENT"}
_controllers: list[TaskSetController] = []


def serve(controller: TaskSetController) -> None:
    _controllers.append(controller)


def release(controller: TaskSetController) -> None:
    if controller in _controllers:
        _controllers.remove(controller)


def _controller() -> TaskSetController | None:
    return _controllers[-1] if _controllers else None


def _service_of(backend: Any, task_set: Any) -> Any:
    return backend._get_service(task_set.cluster_arn or task_set.cluster, task_set.service.split("/")[-1])


def _security_groups_optional(kwargs: dict[str, Any], key: str) -> None:
    """awsvpcConfiguration.securityGroups is optional (the VPC's default group); moto indexes it."""
    awsvpc = (kwargs.get(key) or {}).get("awsvpcConfiguration")
    if isinstance(awsvpc, dict):
        awsvpc.setdefault("securityGroups", [])


def create_service(original: Any) -> Any:
    def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        _security_groups_optional(kwargs, "network_configuration")
        service = original(self, *args, **kwargs)
        if service.deployment_controller.get("type") == "CODE_DEPLOY" and service.task_definition:
            task_set = self.create_task_set(
                service.name,
                service.cluster_name,
                service.task_definition,
                network_configuration=service.network_configuration or None,
                load_balancers=service.load_balancers,
                launch_type=service.launch_type,
                platform_version=service.platform_version,
                scale=dict(DEFAULT_SCALE),
            )
            task_set.status = "PRIMARY"
        return service

    return hook


def _check_load_balancers(backend: Any, task_definition: str, load_balancers: list[dict[str, Any]]) -> None:
    """ECS refuses a task set whose load balancer names a container or port its task definition lacks."""
    from moto.ecs.exceptions import InvalidParameterException

    containers = {
        c.get("name"): c for c in backend.describe_task_definition(task_definition).container_definitions
    }
    for balancer in load_balancers:
        name, port = balancer.get("containerName"), balancer.get("containerPort")
        container = containers.get(name)
        if container is None:
            raise InvalidParameterException(f"The container {name} does not exist in the task definition.")
        if port not in [m.get("containerPort") for m in container.get("portMappings") or []]:
            raise InvalidParameterException(
                f"The container {name} did not have a container port {port} defined."
            )


def create_task_set(original: Any) -> Any:
    def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        _security_groups_optional(kwargs, "network_configuration")
        scale = kwargs.pop("scale", None)
        if len(args) > 10:  # a positional scale (moto's own calls pass keywords)
            scale, args = args[10], args[:10] + args[11:]
        _check_load_balancers(
            self, kwargs.get("task_definition") or args[2], kwargs.get("load_balancers") or []
        )
        task_set = original(self, *args, **kwargs)  # without scale: see the module docstring
        task_set.scale = scale or dict(DEFAULT_SCALE)
        task_set.stabilityStatus = "STABILIZING"
        controller = _controller()
        if controller is not None:
            controller.scale(self, _service_of(self, task_set), task_set)
        return task_set

    return hook


def update_task_set(original: Any) -> Any:
    def hook(self: Any, cluster: str, service: str, task_set: str, scale: dict[str, Any]) -> Any:
        updated = original(self, cluster, service, task_set, scale)
        controller = _controller()
        if controller is not None:
            controller.scale(self, _service_of(self, updated), updated)
        return updated

    return hook


# ECS's API reference, TaskSetNotFoundException
TASK_SET_NOT_FOUND = (
    "The specified task set wasn't found. You can view your available task sets with DescribeTaskSets. "
    "Task sets are specific to each cluster, service and Region."
)


def delete_task_set(original: Any) -> Any:
    def hook(self: Any, cluster: str, service: str, task_set: str, *args: Any, **kwargs: Any) -> Any:
        try:
            deleted = original(self, cluster, service, task_set, *args, **kwargs)
        except TaskSetNotFoundException:  # moto answers ClientException; AWS names the error
            raise ECSException("TaskSetNotFoundException", TASK_SET_NOT_FOUND) from None
        deleted.status = "DRAINING"
        controller = _controller()
        if controller is not None:
            controller.drain(deleted)
            controller.refresh(deleted)
        return deleted

    return hook


def update_service(original: Any) -> Any:
    def hook(self: Any, service_properties: dict[str, Any]) -> Any:
        service = self._get_service(
            service_properties.get("cluster", "default"), service_properties["service"]
        )
        wanted = service_properties.get("task_definition")
        if wanted and service.deployment_controller.get("type") == "CODE_DEPLOY":
            if self.describe_task_definition(wanted).arn != service.task_definition:
                raise InvalidParameterException(CODE_DEPLOY_REFUSAL)
            service_properties.pop("task_definition")
        updated = original(self, service_properties)
        controller = _controller()
        if controller is not None and updated.deployment_controller.get("type") != "ECS":
            for task_set in updated.task_sets:
                controller.scale(self, updated, task_set)
            controller.refresh_service(updated)
        return updated

    return hook


def delete_service(original: Any) -> Any:
    def hook(self: Any, cluster_name: str, service_name: str, force: bool) -> Any:
        service = original(self, cluster_name, service_name, force)
        controller = _controller()
        if controller is not None:
            for task_set in service.task_sets:
                controller.drain(task_set)
        return service

    return hook


def stop_task(original: Any) -> Any:
    def hook(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
        task = original(self, cluster_str, task_str, reason)
        controller = _controller()
        if controller is not None:
            controller.stop_task(task.task_arn, reason)
        return task

    return hook


def describe_task_sets(original: Any) -> Any:
    def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        task_sets = original(self, *args, **kwargs)
        controller = _controller()
        if controller is not None:
            for task_set in task_sets:
                controller.refresh(task_set)
        return task_sets

    return hook


def describe_services(original: Any) -> Any:
    def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        services, failures = original(self, *args, **kwargs)
        controller = _controller()
        if controller is not None:
            for service in services:
                controller.refresh_service(service)
        return services, failures

    return hook


def eni_private_dns_name(_original: Any) -> property:
    def private_dns_name(self: Any) -> str:
        region = self.ec2_backend.region_name
        domain = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
        return f"ip-{str(self.private_ip_address).replace('.', '-')}.{domain}"

    def assigned(self: Any, _value: str) -> None:
        pass  # moto assigns it when the VPC has DNS hostnames on; the name derives from the IP either way

    return property(private_dns_name, assigned)
