"""AWS::IAM::Group (Ref: the group name), which moto's CloudFormation lacks."""

from __future__ import annotations

import json
from typing import Any

from gitops_harness.emulator.cloudformation.completions import attach_policy
from gitops_harness.emulator.cloudformation.resource import ApiResource, Placement


class Group(ApiResource):
    resource_type = "AWS::IAM::Group"
    service = "iam"
    name_property = "GroupName"
    attributes = frozenset({"Arn", "GroupId"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        name = cls.resource_name(properties, where)
        group = client.create_group(GroupName=name, Path=properties.get("Path") or "/")["Group"]
        _apply_policies(client, name, properties, where.account_id)
        return name, {"Arn": group["Arn"], "GroupId": group["GroupId"]}

    def remove(self, client: Any) -> None:
        name = self.physical_id
        for policy in client.list_group_policies(GroupName=name)["PolicyNames"]:
            client.delete_group_policy(GroupName=name, PolicyName=policy)
        for attached in client.list_attached_group_policies(GroupName=name)["AttachedPolicies"]:
            client.detach_group_policy(GroupName=name, PolicyArn=attached["PolicyArn"])
        client.delete_group(GroupName=name)


def _apply_policies(client: Any, name: str, properties: dict[str, Any], account_id: str) -> None:
    for policy in properties.get("Policies") or []:
        document = policy["PolicyDocument"]
        client.put_group_policy(
            GroupName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=document if isinstance(document, str) else json.dumps(document),
        )
    for arn in properties.get("ManagedPolicyArns") or []:
        attach_policy(client.attach_group_policy, arn, account_id, GroupName=name)
