"""ECS task sets whose tasks run as local processes (runtime.py: the interface; local_process.py: the
implementation), started and stopped by hooks on moto's ECS backend (moto_hooks.py, task_sets.py)."""

from __future__ import annotations

from pathlib import Path

from gitops_harness.emulator.clients import RoleClients
from gitops_harness.emulator.ecs_tasks import ecr_blobs, moto_hooks
from gitops_harness.emulator.ecs_tasks.local_process import LocalProcessRuntime
from gitops_harness.emulator.ecs_tasks.task_sets import TaskSetController


def install(state_dir: Path, clients: RoleClients, time_scale: float) -> TaskSetController:
    ecr_blobs.install()
    controller = TaskSetController(LocalProcessRuntime(state_dir, time_scale), clients, time_scale)
    moto_hooks.install(controller)
    return controller


def uninstall(controller: TaskSetController) -> None:
    """Remove the hooks and stop every task this controller started."""
    moto_hooks.uninstall(controller)
    controller.stop_all()
    if not moto_hooks.installed():
        ecr_blobs.uninstall()
