"""ECS task sets whose tasks run as local processes (runtime.py: the interface; local_process.py: the
implementation), started and stopped by hooks on moto's ECS backend (moto_hooks.py, task_sets.py; the
patches themselves are the "ecs_tasks" group of moto_patches.py)."""

from __future__ import annotations

from pathlib import Path

from gitops_harness.emulator.clients import RoleClients
from gitops_harness.emulator.ecs_tasks import moto_hooks
from gitops_harness.emulator.ecs_tasks.local_process import LocalProcessRuntime
from gitops_harness.emulator.ecs_tasks.task_sets import TaskSetController

__all__ = ["TaskSetController", "start", "stop"]


def start(state_dir: Path, clients: RoleClients, time_scale: float) -> TaskSetController:
    """A controller with the local-process runtime, serving the ECS hooks until `stop`."""
    controller = TaskSetController(LocalProcessRuntime(state_dir, time_scale), clients, time_scale)
    moto_hooks.serve(controller)
    return controller


def stop(controller: TaskSetController) -> None:
    """Stop serving the hooks, then stop every task this controller started."""
    moto_hooks.release(controller)
    controller.stop_all()
