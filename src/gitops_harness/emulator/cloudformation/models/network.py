"""AWS::EC2::SecurityGroupEgress (Ref: the rule's id), which moto's CloudFormation lacks: a standalone
egress rule, as templates write one to break a cycle between two groups. AuthorizeSecurityGroupEgress
through the API; deleting it revokes the rule."""

from __future__ import annotations

from typing import Any

from gitops_harness.emulator.cloudformation.resource import ApiResource, Placement, ResourceFailure

_PEERS = ("CidrIp", "CidrIpv6", "DestinationSecurityGroupId", "DestinationPrefixListId")


def _permission(properties: dict[str, Any]) -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": str(properties["IpProtocol"])}
    for key in ("FromPort", "ToPort"):
        if properties.get(key) is not None:
            permission[key] = int(properties[key])
    description = {"Description": properties["Description"]} if properties.get("Description") else {}
    if properties.get("CidrIp"):
        permission["IpRanges"] = [{"CidrIp": properties["CidrIp"], **description}]
    if properties.get("CidrIpv6"):
        permission["Ipv6Ranges"] = [{"CidrIpv6": properties["CidrIpv6"], **description}]
    if properties.get("DestinationSecurityGroupId"):
        permission["UserIdGroupPairs"] = [
            {"GroupId": properties["DestinationSecurityGroupId"], **description}
        ]
    if properties.get("DestinationPrefixListId"):
        permission["PrefixListIds"] = [{"PrefixListId": properties["DestinationPrefixListId"], **description}]
    return permission


class SecurityGroupEgress(ApiResource):
    resource_type = "AWS::EC2::SecurityGroupEgress"
    service = "ec2"
    attributes = frozenset({"Id"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        if sum(1 for key in _PEERS if properties.get(key)) != 1:
            # EC2's own rule: one destination per rule
            raise ResourceFailure(
                'Resource handler returned message: "Exactly one of CidrIp, CidrIpv6, '
                'DestinationSecurityGroupId or DestinationPrefixListId must be specified" (Service: ec2)'
            )
        answer = client.authorize_security_group_egress(
            GroupId=properties["GroupId"], IpPermissions=[_permission(properties)]
        )
        rules = answer.get("SecurityGroupRules") or []
        rule_id = rules[0]["SecurityGroupRuleId"] if rules else where.generated_name
        return rule_id, {"Id": rule_id}

    def remove(self, client: Any) -> None:
        client.revoke_security_group_egress(
            GroupId=self.properties["GroupId"], IpPermissions=[_permission(self.properties)]
        )
