"""The EventBridge event CodeDeploy sends on deployment state changes, on the deployment account's default bus.

detail-type "CodeDeploy Deployment State-change Notification", source aws.codedeploy, resources the
application and deployment group ARNs; detail as in the CodeDeploy user guide ("Monitoring deployments
with Amazon EventBridge"): account, region, deploymentId, instanceGroupId (the group's id), deploymentGroup,
state (START, SUCCESS, FAILURE, STOP, READY) and application. CodeStar Notifications turns START/SUCCESS/
FAILURE into codedeploy-application-deployment-started/succeeded/failed (codestar_notifications/event_types.py).
"""

from __future__ import annotations

from typing import Any

from gitops_harness.emulator.codedeploy.models import Deployment
from gitops_harness.emulator.common.events import event_entry

SOURCE = "aws.codedeploy"
DEPLOYMENT_STATE_CHANGE = "CodeDeploy Deployment State-change Notification"
STATES = ("START", "SUCCESS", "FAILURE", "STOP", "READY")


def state_change(deployment: Deployment, group_id: str, state: str) -> dict[str, Any]:
    """The PutEvents entry (EventBridge fills in id, time, account and region from the caller)."""
    if state not in STATES:
        raise ValueError(f"not a CodeDeploy deployment state: {state}")
    prefix = f"arn:aws:codedeploy:{deployment.region}:{deployment.account_id}"
    detail = {
        "account": deployment.account_id,
        "region": deployment.region,
        "deploymentId": deployment.deployment_id,
        "instanceGroupId": group_id,
        "deploymentGroup": deployment.group,
        "state": state,
        "application": deployment.application,
    }
    resources = [
        f"{prefix}:application:{deployment.application}",
        f"{prefix}:deploymentgroup:{deployment.application}/{deployment.group}",
    ]
    return event_entry(SOURCE, DEPLOYMENT_STATE_CHANGE, detail, resources)
