"""The ECS backend hooks that give task sets real effects, installed on moto's EC2ContainerServiceBackend
and removed symmetrically (one TaskSetController at a time: the emulator that started last).

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

from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend

from gitops_harness.emulator.ecs_tasks.task_sets import TaskSetController

CODE_DEPLOY_REFUSAL = (
    "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
    "Use AWS CodeDeploy to trigger a new deployment."
)
_controllers: list[TaskSetController] = []
_originals: dict[str, Any] = {}


def _controller() -> TaskSetController | None:
    return _controllers[-1] if _controllers else None


def _service_of(backend: Any, task_set: Any) -> Any:
    return backend._get_service(task_set.cluster_arn or task_set.cluster, task_set.service.split("/")[-1])


def create_service(self: Any, *args: Any, **kwargs: Any) -> Any:
    service = _originals["create_service"](self, *args, **kwargs)
    if service.deployment_controller.get("type") == "CODE_DEPLOY" and service.task_definition:
        task_set = self.create_task_set(
            service.name,
            service.cluster_name,
            service.task_definition,
            network_configuration=service.network_configuration or None,
            load_balancers=service.load_balancers,
            launch_type=service.launch_type,
            platform_version=service.platform_version,
            scale={"value": 100.0, "unit": "PERCENT"},
        )
        task_set.status = "PRIMARY"
    return service


def create_task_set(self: Any, *args: Any, **kwargs: Any) -> Any:
    scale = kwargs.pop("scale", None)
    if len(args) > 10:  # positional scale (moto's own calls pass keywords)
        scale, args = args[10], args[:10] + args[11:]
    task_set = _originals["create_task_set"](self, *args, **kwargs)  # without scale: see the docstring
    task_set.scale = scale or {"value": 100.0, "unit": "PERCENT"}
    task_set.stabilityStatus = "STABILIZING"
    controller = _controller()
    if controller is not None:
        controller.scale(self, _service_of(self, task_set), task_set)
    return task_set


def update_task_set(self: Any, cluster: str, service: str, task_set: str, scale: dict[str, Any]) -> Any:
    updated = _originals["update_task_set"](self, cluster, service, task_set, scale)
    controller = _controller()
    if controller is not None:
        controller.scale(self, _service_of(self, updated), updated)
    return updated


def delete_task_set(self: Any, cluster: str, service: str, task_set: str, *args: Any, **kwargs: Any) -> Any:
    deleted = _originals["delete_task_set"](self, cluster, service, task_set, *args, **kwargs)
    deleted.status = "DRAINING"
    controller = _controller()
    if controller is not None:
        controller.drain(deleted)
        controller.refresh(deleted)
    return deleted


def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
    service = self._get_service(service_properties.get("cluster", "default"), service_properties["service"])
    wanted = service_properties.get("task_definition")
    if wanted and service.deployment_controller.get("type") == "CODE_DEPLOY":
        if self.describe_task_definition(wanted).arn != service.task_definition:
            raise InvalidParameterException(CODE_DEPLOY_REFUSAL)
        service_properties.pop("task_definition")
    updated = _originals["update_service"](self, service_properties)
    controller = _controller()
    if controller is not None and updated.deployment_controller.get("type") != "ECS":
        for task_set in updated.task_sets:
            controller.scale(self, updated, task_set)
        controller.refresh_service(updated)
    return updated


def delete_service(self: Any, cluster_name: str, service_name: str, force: bool) -> Any:
    service = _originals["delete_service"](self, cluster_name, service_name, force)
    controller = _controller()
    if controller is not None:
        for task_set in service.task_sets:
            controller.drain(task_set)
    return service


def stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
    task = _originals["stop_task"](self, cluster_str, task_str, reason)
    controller = _controller()
    if controller is not None:
        controller.stop_task(task.task_arn, reason)
    return task


def describe_task_sets(self: Any, *args: Any, **kwargs: Any) -> Any:
    task_sets = _originals["describe_task_sets"](self, *args, **kwargs)
    controller = _controller()
    if controller is not None:
        for task_set in task_sets:
            controller.refresh(task_set)
    return task_sets


def describe_services(self: Any, *args: Any, **kwargs: Any) -> Any:
    services, failures = _originals["describe_services"](self, *args, **kwargs)
    controller = _controller()
    if controller is not None:
        for service in services:
            controller.refresh_service(service)
    return services, failures


_HOOKS = {
    "create_service": create_service,
    "create_task_set": create_task_set,
    "update_task_set": update_task_set,
    "delete_task_set": delete_task_set,
    "update_service": update_service,
    "delete_service": delete_service,
    "stop_task": stop_task,
    "describe_task_sets": describe_task_sets,
    "describe_services": describe_services,
}


def _private_dns_name(self: Any) -> str:
    region = self.ec2_backend.region_name
    domain = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
    return f"ip-{str(self.private_ip_address).replace('.', '-')}.{domain}"


def installed() -> bool:
    return bool(_controllers)


def install(controller: TaskSetController) -> None:
    if not _originals:
        for name, hook in _HOOKS.items():
            _originals[name] = getattr(EC2ContainerServiceBackend, name)
            setattr(EC2ContainerServiceBackend, name, hook)
        if not hasattr(NetworkInterface, "private_dns_name"):
            NetworkInterface.private_dns_name = property(_private_dns_name)  # type: ignore[attr-defined]
            _originals["private_dns_name"] = None
    _controllers.append(controller)


def uninstall(controller: TaskSetController) -> None:
    if controller in _controllers:
        _controllers.remove(controller)
    if not _controllers and _originals:
        for name, original in _originals.items():
            if name == "private_dns_name":
                del NetworkInterface.private_dns_name  # type: ignore[attr-defined]
            else:
                setattr(EC2ContainerServiceBackend, name, original)
        _originals.clear()
