"""Deletes for moto models that have no CloudFormation delete: moto skips those silently, so a deleted
or rolled-back stack would leave its route tables and gateway attachments behind (and the VPC could
not be deleted), and a KMS key moto's model would delete outright instead of scheduling its deletion.
Each calls the service's API through the front door, as the stack's account. Types that
moto deletes itself but only once released (completions.BEFORE_DELETE) are released first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gitops_harness.emulator.cloudformation.completions import BEFORE_DELETE
from gitops_harness.emulator.cloudformation.resource import (
    ResourceFailure,
    client_for,
    handler_message,
    is_not_found,
)


def _detach_gateway(ec2: Any, attachment: Any) -> None:
    if attachment.gateway_id.startswith("igw-"):
        ec2.detach_internet_gateway(InternetGatewayId=attachment.gateway_id, VpcId=attachment.vpc_id)
    else:
        ec2.detach_vpn_gateway(VpnGatewayId=attachment.gateway_id, VpcId=attachment.vpc_id)


def _delete_route(ec2: Any, route: Any) -> None:
    target = (
        {"DestinationCidrBlock": route.destination_cidr_block}
        if route.destination_cidr_block
        else {"DestinationIpv6CidrBlock": route.destination_ipv6_cidr_block}
    )
    ec2.delete_route(RouteTableId=route.route_table.id, **target)


def _schedule_key_deletion(kms: Any, key: Any) -> None:
    # AWS schedules the key's deletion (PendingWindowInDays, default 30) where moto's model deletes it
    if key.key_state not in ("PendingDeletion", "PendingReplicaDeletion"):
        kms.schedule_key_deletion(KeyId=key.id, PendingWindowInDays=getattr(key, "cfn_pending_window", 30))


# type -> (client service, delete through the API); moto's own delete is skipped for these
DELETES: dict[str, tuple[str, Callable[[Any, Any], None]]] = {
    "AWS::EC2::VPCGatewayAttachment": ("ec2", _detach_gateway),
    "AWS::EC2::Route": ("ec2", _delete_route),
    "AWS::EC2::SubnetRouteTableAssociation": (
        "ec2",
        lambda ec2, assoc: ec2.disassociate_route_table(AssociationId=assoc.physical_resource_id),
    ),
    "AWS::EC2::RouteTable": (
        "ec2",
        lambda ec2, table: ec2.delete_route_table(RouteTableId=table.physical_resource_id),
    ),
    "AWS::EC2::InternetGateway": (
        "ec2",
        lambda ec2, gateway: ec2.delete_internet_gateway(InternetGatewayId=gateway.physical_resource_id),
    ),
    "AWS::KMS::Key": ("kms", _schedule_key_deletion),
}


def with_api_deletes(delete_resource: Callable[..., None]) -> Callable[..., None]:
    """ResourceMap._delete_resource, with the deletes moto lacks."""

    def delete(resource_map: Any, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
        resource_type = resource_json.get("Type", "")
        if parsed_resource is None:
            return delete_resource(resource_map, parsed_resource, resource_json)
        found = DELETES.get(resource_type) or BEFORE_DELETE.get(resource_type)
        if found is None:
            return delete_resource(resource_map, parsed_resource, resource_json)
        service, action = found
        client = client_for(service, resource_map._account_id, resource_map._region_name)
        try:
            action(client, parsed_resource)
        except ClientError as error:
            if not is_not_found(error):
                raise ResourceFailure(handler_message(error, service)) from None
        except BotoCoreError as error:
            raise ResourceFailure(handler_message(error, service)) from None
        if resource_type not in DELETES:  # only prepared: moto deletes the resource itself
            delete_resource(resource_map, parsed_resource, resource_json)
        return None

    return delete


def deleting_in_reverse_order(_moto_delete: Callable[[Any], None]) -> Callable[[Any], None]:
    """ResourceMap.delete, in reverse creation order as CloudFormation deletes (dependents before what
    they depend on: a custom resource's Delete still finds its Lambda function). moto's walks a set and
    retries failures; a resource that fails in a pass is tried again while passes make progress."""

    def delete(resource_map: Any) -> None:
        parsed = resource_map._parsed_resources  # creation order: a resource's dependencies come first
        remaining = [
            logical_id
            for logical_id in reversed(list(parsed))
            if logical_id in resource_map._resource_json_map
            and resource_map._resource_json_map[logical_id].get("DeletionPolicy") != "Retain"
            and parsed[logical_id] is not None
            and not isinstance(parsed[logical_id], str)
        ]
        last_error: Exception | None = None
        while remaining:
            failed: list[str] = []
            for logical_id in remaining:
                try:
                    resource_map._delete_resource(
                        parsed[logical_id], resource_map._resource_json_map[logical_id]
                    )
                except Exception as error:  # tried again in the next pass, as moto does
                    last_error = error
                    failed.append(logical_id)
                else:
                    parsed.pop(logical_id, None)
            if len(failed) == len(remaining):
                break
            remaining = failed
        if remaining and last_error is not None:
            raise last_error

    return delete
