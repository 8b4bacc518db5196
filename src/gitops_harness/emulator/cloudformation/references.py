"""References AWS's services check when CloudFormation creates a resource, with their errors: a
service role that does not exist (CodeBuild CreateProject answers InvalidInputException, CodePipeline
CreatePipeline InvalidStructureException, both before anything exists)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from gitops_harness.emulator.cloudformation.resource import Placement, ResourceFailure, client_for
from gitops_harness.emulator.common.arns import parse_arn


def role_arn(role: str, where: Placement) -> str:
    """A role given by name (CodeBuild accepts that) as the ARN AWS stores."""
    return role if role.startswith("arn:") else f"arn:{where.partition}:iam::{where.account_id}:role/{role}"


def role_exists(arn: str, where: Placement) -> bool:
    try:
        parsed = parse_arn(arn)
    except ValueError:
        return False
    name = parsed.resource.rsplit("/", 1)[-1]
    iam = client_for("iam", parsed.account or where.account_id, where.region)
    try:
        iam.get_role(RoleName=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return False
        raise
    return True


def require_role(arn: str, where: Placement, service: str, code: str, message: str) -> None:
    """Fail the resource as the service's API does when it cannot assume `arn`."""
    if not role_exists(arn, where):
        raise ResourceFailure(
            f'Resource handler returned message: "{message}" (Service: {service}, Status Code: 400, '
            f"Error Code: {code})"
        )
