"""Operations moto lacks that the reference stacks need, added to moto's own backend and responses
(small, state-only gaps; whole services moto does poorly get a control plane of ours instead).

- CodeDeploy DeleteApplication / DeleteDeploymentGroup: CloudFormation deletes the reference
  pipeline stack's CodeDeploy resources through them. moto 5.2.5 has neither.

The functions are installed into moto by `emulator/moto_patches.py` (group "core") while an emulator
runs, and removed by the last one that stops. Lambda invocation is not here: emulator/lambda_runtime runs
functions without Docker.
"""

from __future__ import annotations

from typing import Any

from moto.codedeploy.exceptions import ApplicationDoesNotExistException
from moto.codedeploy.models import CodeDeployBackend
from moto.core.responses import ActionResult, EmptyResult


def delete_application(self: CodeDeployBackend, application_name: str) -> None:
    # AWS answers success for an application that does not exist; its groups go with it.
    self.applications.pop(application_name, None)
    self.deployment_groups.pop(application_name, None)


def delete_deployment_group(
    self: CodeDeployBackend, application_name: str, deployment_group_name: str
) -> None:
    if application_name not in self.applications:
        raise ApplicationDoesNotExistException(
            f"The application {application_name} does not exist with the user or AWS account."
        )
    self.deployment_groups.get(application_name, {}).pop(deployment_group_name, None)


def delete_application_response(self: Any) -> EmptyResult:
    self.codedeploy_backend.delete_application(self._get_param("applicationName"))
    return EmptyResult()


def delete_deployment_group_response(self: Any) -> ActionResult:
    self.codedeploy_backend.delete_deployment_group(
        self._get_param("applicationName"), self._get_param("deploymentGroupName")
    )
    return ActionResult({"hooksNotCleanedUp": []})
