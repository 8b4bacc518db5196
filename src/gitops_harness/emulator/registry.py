"""The control planes the emulator serves, one "module:Class" line each (like cli.COMMAND_MODULES).

A service whose plane is listed here is answered by us; every other service goes to moto. The shape
test (tests/emulator/test_shapes.py) walks every plane listed here, so a new plane is covered by
adding its line.
"""

from __future__ import annotations

import importlib

from gitops_harness.emulator.controlplane import ControlPlane

CONTROL_PLANES: tuple[str, ...] = (
    "gitops_harness.emulator.codecommit.plane:CodeCommit",
    "gitops_harness.emulator.codepipeline.plane:CodePipeline",
    "gitops_harness.emulator.codebuild.plane:CodeBuild",
    "gitops_harness.emulator.codestar_notifications.plane:CodeStarNotifications",
    "gitops_harness.emulator.codedeploy.plane:CodeDeploy",
    "gitops_harness.emulator.iam.plane:IamServiceSpecificCredentials",
)


def load_control_planes(entries: tuple[str, ...] = CONTROL_PLANES) -> list[type[ControlPlane]]:
    planes = []
    for entry in entries:
        module_name, _, class_name = entry.partition(":")
        plane = getattr(importlib.import_module(module_name), class_name)
        if not (isinstance(plane, type) and issubclass(plane, ControlPlane)):
            raise TypeError(f"{entry} is not a ControlPlane subclass")
        planes.append(plane)
    return planes


def signing_name_of(entry: str) -> str:
    """The SigV4 signing name a registered plane serves, from its package (emulator/<package>/plane.py),
    known before the plane is imported: `gitops-harness emulator` loads planes in the background and
    routes other services to moto meanwhile. tests/emulator/test_shapes.py checks it for every entry."""
    module = entry.partition(":")[0]
    return module.split(".")[-2].replace("_", "-")
