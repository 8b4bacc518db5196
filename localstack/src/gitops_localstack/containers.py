"""ECS, ECR and ELBv2 where LocalStack's edition lacks them (community 4.14 answers 501 for all three).

The embedded emulator serves these three from moto with this project's patch groups (emulator/
moto_patches.py: "ecs_tasks" makes task sets run tasks as local processes and keeps pushed ECR layers,
"elb_dataplane" makes every listener a real HTTP server on 127.0.0.1 with health checks). LocalStack
ships moto (its fork, moto-ext) in the same process, so the providers here send every operation to it
(LocalStack's call_moto) with the same patch groups installed, and start the same task-set controller
and ALB data plane on the plugin's shared Runtime (its role clients reach LocalStack's gateway).

`<service>:default` serves a LocalStack without the service; `<service>:gitops` is chosen with
PROVIDER_OVERRIDE_<SERVICE>=gitops where LocalStack has its own (Pro): theirs stays otherwise.
"""

from __future__ import annotations

import threading
from typing import Any

from localstack.aws.spec import load_service
from localstack.services.plugins import Service, ServiceLifecycleHook

from gitops_localstack import providers

SERVICES = ("ecs", "ecr", "elbv2")
PATCH_GROUPS = ("ecs_tasks", "elb_dataplane")  # the groups the embedded emulator takes at every start
ACTIVE: dict[str, str] = {}  # service -> provider name, once LocalStack created it (the health route)

_lock = threading.Lock()
_state: dict[str, Any] = {}  # "task_sets", "data_plane" once started
_errors: list[str] = []  # why the runtime did not start, if it did not


def start() -> None:
    """Install the patch groups into LocalStack's moto and start the task runtime and the ALB data
    plane, once for all three services (an ECS task registers in an ELBv2 target group)."""
    with _lock:
        if _state:
            return
        from gitops_harness.emulator import ecs_tasks, elb_dataplane, moto_patches
        from gitops_localstack import runtime

        rt = runtime.runtime()
        taken: list[str] = []
        try:
            for group in PATCH_GROUPS:
                moto_patches.acquire(group)
                taken.append(group)
            _state["data_plane"] = elb_dataplane.start(rt.clients, rt.time_scale)
            _state["task_sets"] = ecs_tasks.start(rt.state_dir / "ecs", rt.clients, rt.time_scale)
        except BaseException:
            _stop_started()
            for group in reversed(taken):
                moto_patches.release(group)
            raise
        _state["groups"] = taken


def _stop_started() -> None:
    from gitops_harness.emulator import ecs_tasks, elb_dataplane

    task_sets = _state.pop("task_sets", None)
    if task_sets is not None:
        ecs_tasks.stop(task_sets)
    data_plane = _state.pop("data_plane", None)
    if data_plane is not None:
        elb_dataplane.stop(data_plane)


def stop() -> None:
    """Stop every task and listener server and take the patches out (LocalStack's shutdown)."""
    with _lock:
        if not _state:
            return
        from gitops_harness.emulator import moto_patches

        _stop_started()
        for group in reversed(_state.pop("groups", [])):
            moto_patches.release(group)
        _state.clear()


def data_plane() -> Any:
    with _lock:
        return _state.get("data_plane")


def moto_layer_upload() -> bool:
    """Whether LocalStack's moto serves ECR's layer upload itself (moto 5.2.5 does; 4.14's moto-ext does not)."""
    from moto.ecr.models import ECRBackend

    return all(
        callable(getattr(ECRBackend, name, None)) for name in ("initiate_layer_upload", "upload_layer_part")
    )


def status() -> dict[str, Any]:
    """What the health route shows: which patch groups are in, whether tasks and listeners are served."""
    from gitops_harness.emulator import moto_patches

    with _lock:
        plane = _state.get("data_plane")
        return {
            "patch_groups": [g for g in PATCH_GROUPS if moto_patches.installed(g)],
            "task_runtime": "local-process" if "task_sets" in _state else None,
            "alb_data_plane": plane is not None,
            "listeners": len(plane.listeners()) if plane is not None else 0,
            # who takes a docker push's layers: LocalStack's moto, or ecr_layers.py where moto lacks them
            "ecr_layer_upload": "moto" if moto_layer_upload() else "plugin",
            **({"errors": list(_errors)} if _errors else {}),
        }


class ContainerProvider(ServiceLifecycleHook):
    """Every operation of the service goes to LocalStack's moto; the runtime starts with the service."""

    def __init__(self, service: str):
        self.service = service

    def on_after_init(self) -> None:
        # LocalStack swallows a hook's exception (call_safe): keep it for the health route instead
        try:
            start()
        except Exception as exc:
            _errors.append(f"{type(exc).__name__}: {exc}")
            raise

    def dispatch_table(self) -> dict[str, Any]:
        from localstack.services.moto import call_moto

        def to_moto(context: Any, _request: Any) -> Any:
            return call_moto(context)

        table = {name: to_moto for name in load_service(self.service).operation_names}
        if self.service == "ecr" and not moto_layer_upload():
            from gitops_localstack import ecr_layers

            table.update(ecr_layers.HANDLERS)
        return table


def _service(api: str, name: str) -> Service:
    provider = ContainerProvider(api)
    return providers.service_for(api, name, provider, ACTIVE, lifecycle_hook=provider)


ecs, ecs_gitops = providers.provider_pair("ecs", _service)
ecr, ecr_gitops = providers.provider_pair("ecr", _service)
elbv2, elbv2_gitops = providers.provider_pair("elbv2", _service)
