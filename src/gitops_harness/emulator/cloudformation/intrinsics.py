"""Intrinsic functions moto's parser lacks or gets wrong, in front of its `clean_json`.

- Fn::Cidr: moto leaves it unevaluated (Fn::Select then fails on a dict).
- Fn::GetAZs "": moto answers us-east-1's zones for every region; "" means the stack's region.
- Fn::GetAtt: attributes some moto models lack (a target group's or load balancer's full name, which
  CloudWatch dimensions need; a nested stack's Outputs.<key>); an attribute moto cannot give fails the resource instead of leaving the
  unevaluated function in place (moto only logs a warning).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from gitops_harness.emulator.cloudformation.dynamic_references import resolve_references
from gitops_harness.emulator.cloudformation.resource import ResourceFailure
from gitops_harness.emulator.common.arns import parse_arn

CleanJson = Callable[[Any, Any], Any]


def with_extra_intrinsics(clean_json: CleanJson) -> CleanJson:
    def clean(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, dict) and len(resource_json) == 1:
            if "Fn::Cidr" in resource_json:
                block, count, bits = (clean(v, resources_map) for v in resource_json["Fn::Cidr"])
                return cidr(str(block), int(count), int(bits))
            if "Fn::GetAtt" in resource_json and isinstance(resource_json["Fn::GetAtt"], list):
                found = _get_att(resource_json["Fn::GetAtt"], resources_map)
                if found is not _DELEGATE:
                    return found
            if "Fn::GetAZs" in resource_json:
                region = clean(resource_json["Fn::GetAZs"], resources_map) or resources_map["AWS::Region"]
                return [f"{region}{zone}" for zone in "abc"]
        cleaned = clean_json(resource_json, resources_map)
        if isinstance(cleaned, str) and "{{resolve:" in cleaned:
            return resolve_references(cleaned, resources_map._account_id, resources_map._region_name)
        return cleaned

    return clean


_DELEGATE = object()


def _arn_resource(arn: str, prefix: str) -> str:
    """The part of an ELBv2 ARN CloudWatch calls the full name: app/<name>/<id>, targetgroup/<name>/<id>."""
    return parse_arn(arn).resource.removeprefix(prefix)


# (CloudFormation type, attribute) -> value from moto's model object
SUPPLEMENTED_ATTRIBUTES: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroupFullName"): lambda tg: _arn_resource(tg.arn, ""),
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroupName"): lambda tg: tg.name,
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroupArn"): lambda tg: tg.arn,
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "LoadBalancerArns"): lambda tg: list(tg.load_balancer_arns),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerFullName"): lambda lb: _arn_resource(
        lb.arn, "loadbalancer/"
    ),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerArn"): lambda lb: lb.arn,
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "SecurityGroups"): lambda lb: list(lb.security_groups),
    ("AWS::KMS::Key", "KeyId"): lambda key: key.id,
    # CloudFormation's Arn of a log group ends in ":*" (it covers the group's streams); moto's does not
    ("AWS::Logs::LogGroup", "Arn"): lambda group: f"{group.arn}:*",
}


def _get_att(target: list[Any], resources_map: Any) -> Any:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    if len(target) != 2 or not all(isinstance(part, str) for part in target):
        return _DELEGATE
    logical_id, attribute = target
    resource = resources_map.get(logical_id)  # creates it if it does not exist yet, as moto does
    if resource is None:
        return _DELEGATE  # moto's error for a resource that does not exist
    resource_type = getattr(resource, "cf_resource_type", "")
    if resource_type == "AWS::CloudFormation::Stack" and attribute.startswith("Outputs."):
        return _nested_output(logical_id, resource, attribute.removeprefix("Outputs."))
    supplement = SUPPLEMENTED_ATTRIBUTES.get((resource_type, attribute))
    if supplement is not None:
        return supplement(resource)
    try:
        return resource.get_cfn_attribute(attribute)
    except UnformattedGetAttTemplateException:
        return _DELEGATE  # moto turns it into the template error
    except (NotImplementedError, AttributeError):
        raise ResourceFailure(
            f"Fn::GetAtt {logical_id}.{attribute}: attribute {attribute} of {resource_type} is not supported "
            "by the embedded AWS"
        ) from None


def _nested_output(logical_id: str, child: Any, key: str) -> Any:
    """GetAtt <nested stack>.Outputs.<key>: the child stack's output (moto's model has no attributes)."""
    output = child.output_map.get(key) if key in (child.output_map.outputs or {}) else None
    if output is None:
        raise ResourceFailure(
            f"Template error: resource {logical_id} does not support attribute type Outputs.{key} in Fn::GetAtt"
        )
    return output.value


def cidr(block: str, count: int, host_bits: int) -> list[str]:
    """Fn::Cidr [block, count, cidrBits]: the first `count` subnets with `host_bits` host bits each."""
    try:
        network = ipaddress.ip_network(block, strict=False)
        new_prefix = network.max_prefixlen - host_bits
        if not 1 <= count <= 256 or new_prefix < network.prefixlen:
            raise ValueError(f"cannot cut {count} subnets of /{new_prefix} from {block}")
        subnets = network.subnets(new_prefix=new_prefix)
        out = [str(next(subnets)) for _ in range(count)]
    except (ValueError, StopIteration) as error:
        raise ResourceFailure(
            f"Template error: Fn::Cidr {block}, {count}, {host_bits}: {error or 'too few subnets'}"
        ) from None
    return out
