"""Network properties moto's EC2 and ELBv2 CloudFormation models ignore (honoured.py lists them), applied
through the API after moto creates the resource, as the stack's account: tags, VPC DNS attributes, a
subnet's public IPs, security group egress rules and rule descriptions, load balancer and target group
attributes, targets and health check switch."""

from __future__ import annotations

from typing import Any

from gitops_harness.emulator.cloudformation.completions import AFTER_CREATE
from gitops_harness.emulator.cloudformation.resource import ResourceFailure


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def _ec2_tags(resource: Any, properties: dict[str, Any]) -> None:
    # as moto's own VPC and subnet models tag themselves (no validation to gain from an API call)
    for tag in properties.get("Tags") or []:
        resource.add_tag(tag["Key"], tag["Value"])


# (attribute, what a new VPC has): an attribute already at that value needs no call
_VPC_DEFAULTS = (
    ("EnableDnsSupport", True),
    ("EnableDnsHostnames", False),
)  # support first: hostnames need it


def _vpc(ec2: Any, vpc: Any, properties: dict[str, Any]) -> None:
    for name, default in _VPC_DEFAULTS:
        if properties.get(name) is not None and _true(properties[name]) != default:
            ec2.modify_vpc_attribute(VpcId=vpc.id, **{name: {"Value": _true(properties[name])}})


def _subnet(ec2: Any, subnet: Any, properties: dict[str, Any]) -> None:
    if _true(properties.get("MapPublicIpOnLaunch")):  # off in a new subnet
        ec2.modify_subnet_attribute(SubnetId=subnet.id, MapPublicIpOnLaunch={"Value": True})


def _permission(rule: dict[str, Any], peer_key: str) -> dict[str, Any]:
    """A CloudFormation security group rule as the API's IpPermission."""
    permission: dict[str, Any] = {"IpProtocol": str(rule["IpProtocol"])}
    for key in ("FromPort", "ToPort"):
        if rule.get(key) is not None:
            permission[key] = int(rule[key])
    description = {"Description": rule["Description"]} if rule.get("Description") else {}
    if rule.get("CidrIp"):
        permission["IpRanges"] = [{"CidrIp": rule["CidrIp"], **description}]
    if rule.get(peer_key):
        permission["UserIdGroupPairs"] = [{"GroupId": rule[peer_key], **description}]
    return permission


def _security_group(ec2: Any, group: Any, properties: dict[str, Any]) -> None:
    # moto drops the descriptions of inline ingress rules
    described = [
        _permission(rule, "SourceSecurityGroupId")
        for rule in properties.get("SecurityGroupIngress") or []
        if rule.get("Description") and (rule.get("CidrIp") or rule.get("SourceSecurityGroupId"))
    ]
    if described:
        ec2.update_security_group_rule_descriptions_ingress(GroupId=group.id, IpPermissions=described)
    egress = properties.get("SecurityGroupEgress")
    if egress:
        # as on AWS, rules given replace the default allow-all egress rule
        ec2.revoke_security_group_egress(
            GroupId=group.id, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        )
        for rule in egress:
            if not (rule.get("CidrIp") or rule.get("DestinationSecurityGroupId")):
                raise ResourceFailure(
                    "Property SecurityGroupEgress of AWS::EC2::SecurityGroup: a rule needs CidrIp or "
                    "DestinationSecurityGroupId in the embedded AWS"
                )
        ec2.authorize_security_group_egress(
            GroupId=group.id,
            IpPermissions=[_permission(rule, "DestinationSecurityGroupId") for rule in egress],
        )


def _elb_tags(elbv2: Any, arn: str, properties: dict[str, Any]) -> None:
    if properties.get("Tags"):
        elbv2.add_tags(ResourceArns=[arn], Tags=properties["Tags"])


def _load_balancer(elbv2: Any, balancer: Any, properties: dict[str, Any]) -> None:
    _elb_tags(elbv2, balancer.arn, properties)
    if properties.get("LoadBalancerAttributes"):
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=balancer.arn,
            Attributes=[
                {"Key": a["Key"], "Value": str(a["Value"])} for a in properties["LoadBalancerAttributes"]
            ],
        )
    if properties.get("IpAddressType") and properties["IpAddressType"] != "ipv4":
        elbv2.set_ip_address_type(LoadBalancerArn=balancer.arn, IpAddressType=properties["IpAddressType"])


def _target_group(elbv2: Any, group: Any, properties: dict[str, Any]) -> None:
    _elb_tags(elbv2, group.arn, properties)
    if properties.get("TargetGroupAttributes"):
        elbv2.modify_target_group_attributes(
            TargetGroupArn=group.arn,
            Attributes=[
                {"Key": a["Key"], "Value": str(a["Value"])} for a in properties["TargetGroupAttributes"]
            ],
        )
    if properties.get("HealthCheckEnabled") is not None:
        elbv2.modify_target_group(
            TargetGroupArn=group.arn, HealthCheckEnabled=_true(properties["HealthCheckEnabled"])
        )
    if properties.get("Targets"):
        targets = [
            {key: int(value) if key == "Port" else value for key, value in target.items()}
            for target in properties["Targets"]
        ]
        elbv2.register_targets(TargetGroupArn=group.arn, Targets=targets)


AFTER_CREATE["AWS::EC2::VPC"] = ("ec2", _vpc)
AFTER_CREATE["AWS::EC2::Subnet"] = ("ec2", _subnet)
AFTER_CREATE["AWS::EC2::SecurityGroup"] = ("ec2", _security_group)
AFTER_CREATE["AWS::EC2::InternetGateway"] = ("ec2", lambda _ec2, gateway, props: _ec2_tags(gateway, props))
AFTER_CREATE["AWS::EC2::RouteTable"] = ("ec2", lambda _ec2, table, props: _ec2_tags(table, props))
AFTER_CREATE["AWS::ElasticLoadBalancingV2::LoadBalancer"] = ("elbv2", _load_balancer)
AFTER_CREATE["AWS::ElasticLoadBalancingV2::TargetGroup"] = ("elbv2", _target_group)
AFTER_CREATE["AWS::ElasticLoadBalancingV2::Listener"] = (
    "elbv2",
    lambda elbv2, listener, props: _elb_tags(elbv2, listener.arn, props),
)
AFTER_CREATE["AWS::ElasticLoadBalancingV2::ListenerRule"] = (
    "elbv2",
    lambda elbv2, rule, props: _elb_tags(elbv2, rule.arn, props),
)


def listener_actions_kept(moto_convert: Any) -> Any:
    """moto's `ELBv2Backend.convert_and_validate_properties` (a CloudFormation listener's DefaultActions):
    a forward action keeps its ForwardConfig (weighted target groups, as blue/green test listeners
    write it) where moto keeps only TargetGroupArn, and fails with a KeyError when only ForwardConfig
    is given, which AWS accepts."""

    def convert(backend: Any, properties: dict[str, Any]) -> list[dict[str, Any]]:
        actions: list[dict[str, Any]] = []
        for action in properties["DefaultActions"]:
            if action.get("Type") == "forward" and action.get("ForwardConfig"):
                actions.append(dict(action))
            else:  # moto's conversion, and its error for an action type it does not know
                actions += moto_convert(backend, {**properties, "DefaultActions": [action]})
        return actions

    return convert
