"""What CloudFormation rejects at CreateStack (ValidationError) before it creates anything, and moto
does not: malformed templates, references to nothing, unknown attributes, parameter constraints and
template Rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gitops_harness.emulator.cloudformation.decoding import decode
from gitops_harness.emulator.cloudformation.intrinsics import SUPPLEMENTED_ATTRIBUTES
from gitops_harness.emulator.cloudformation.models import resource_class_from_type

PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)
_TYPE = re.compile(
    r"^(Custom::[A-Za-z0-9_@-]{1,60}|AWS::CloudFormation::CustomResource|[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+)$"
)
_SUB_NAME = re.compile(r"\$\{(?!!)([^}]+)\}")


def _error(message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=message)


# what a Parameters entry may hold; anything else is AWS's "Invalid template parameter property"
PARAMETER_PROPERTIES = frozenset(
    {
        "AllowedPattern",
        "AllowedValues",
        "ConstraintDescription",
        "Default",
        "Description",
        "MaxLength",
        "MaxValue",
        "MinLength",
        "MinValue",
        "NoEcho",
        "Type",
    }
)


def parse(template: Any) -> dict[str, Any]:
    """The template as a dict, or a ValidationError saying why it is not one."""
    return decode(template)


def check_template(template: Any, parameters: dict[str, Any]) -> None:
    template = check_format(template)
    declared = template.get("Parameters") or {}
    _check_parameters(declared, parameters)
    _check_rules(template.get("Rules") or {}, declared, parameters, template.get("Conditions") or {})


def check_format(template: Any) -> dict[str, Any]:
    """What ValidateTemplate rejects too: everything that does not depend on parameter values."""
    template = parse(template)
    declared = template.get("Parameters") or {}
    if not isinstance(declared, dict):
        raise _error("Template format error: Parameters must be an object")
    for name, spec in declared.items():
        if not isinstance(spec, dict):
            raise _error(f"Template format error: Parameter '{name}' must be an object")
        for key in spec:
            if key not in PARAMETER_PROPERTIES:
                raise _error(f"Invalid template parameter property '{key}'")
        if "Type" not in spec:
            raise _error("Template format error: Every Parameters object must contain a Type member.")
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise _error("Template format error: At least one Resources member must be defined.")
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise _error(
                f"Template format error: [/Resources/{logical_id}] Every Resources object must contain a Type member."
            )
    unknown_types = sorted({r["Type"] for r in resources.values() if not _TYPE.match(r["Type"])})
    if unknown_types:
        raise _error(f"Template format error: Unrecognized resource types: [{', '.join(unknown_types)}]")
    declared = template.get("Parameters") or {}
    conditions = template.get("Conditions") or {}
    names = set(declared) | set(resources) | PSEUDO_PARAMETERS
    for section in ("Resources", "Outputs", "Conditions"):
        missing = sorted(
            {ref for ref in references(template.get(section) or {}) if ref not in names}
            | (
                {dep for r in resources.values() for dep in _depends_on(r) if dep not in resources}
                if section == "Resources"
                else set()
            )
        )
        if missing:
            raise _error(
                f"Template format error: Unresolved resource dependencies [{', '.join(missing)}] in the "
                f"{section} block of the template"
            )
    for condition in sorted(_condition_names(template) - set(conditions)):
        raise _error(f"Template format error: Unresolved condition dependency {condition}")
    _check_attributes(template, resources)
    return template


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def references(node: Any) -> Iterator[str]:
    for key, value in _walk(node):
        if key == "Ref" and isinstance(value, str):
            yield value
        elif key == "Fn::GetAtt" and (target := _get_att(value)):
            yield target[0]
        elif key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
            for name in _SUB_NAME.findall(text if isinstance(text, str) else ""):
                if name.split(".")[0] not in variables:
                    yield name.split(".")[0]


def _get_att(value: Any) -> tuple[str, str] | None:
    if isinstance(value, str) and "." in value:
        head, _, tail = value.partition(".")
        return head, tail
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value[0], value[1]
    return None


def _depends_on(resource: dict[str, Any]) -> list[str]:
    depends = resource.get("DependsOn") or []
    return [depends] if isinstance(depends, str) else list(depends)


def _condition_names(template: dict[str, Any]) -> set[str]:
    used = {
        r["Condition"]
        for r in (template.get("Resources") or {}).values()
        if isinstance(r.get("Condition"), str)
    }
    used |= {
        o["Condition"]
        for o in (template.get("Outputs") or {}).values()
        if isinstance(o, dict) and "Condition" in o
    }
    for key, value in _walk(template):
        if key == "Fn::If" and isinstance(value, list) and value and isinstance(value[0], str):
            used.add(value[0])
        elif key == "Condition" and isinstance(value, str) and key != "Conditions":
            used.add(value)
    # IAM policy "Condition" blocks are objects, never names
    return used


def _check_attributes(template: dict[str, Any], resources: dict[str, Any]) -> None:
    for key, value in _walk({"r": template.get("Resources"), "o": template.get("Outputs")}):
        targets: list[tuple[str, str]] = []
        if key == "Fn::GetAtt" and (target := _get_att(value)):
            targets.append(target)
        elif key == "Fn::Sub":
            text = value if isinstance(value, str) else value[0]
            targets += [
                tuple(n.split(".", 1))
                for n in _SUB_NAME.findall(text if isinstance(text, str) else "")
                if "." in n and n.split(".", 1)[0] in resources
            ]  # type: ignore[misc]
        for logical_id, attribute in targets:
            resource_type = resources[logical_id]["Type"]
            model = resource_class_from_type(resource_type)
            if (
                model is not None
                and not model.has_cfn_attr(attribute)
                and (resource_type, attribute) not in SUPPLEMENTED_ATTRIBUTES
            ):
                raise _error(
                    f"Template error: resource {logical_id} does not support attribute type {attribute} in Fn::GetAtt"
                )


def _check_parameters(declared: dict[str, Any], given: dict[str, Any]) -> None:
    extra = sorted(set(given) - set(declared))
    if extra:
        raise _error(f"Parameters: [{', '.join(extra)}] do not exist in the template")
    for name, spec in declared.items():
        value = given.get(name, spec.get("Default"))
        if value is None:
            continue  # moto answers the missing parameter
        text = str(value)
        kind = spec.get("Type", "String")
        if kind == "Number":
            try:
                number = float(text)
            except ValueError:
                raise _error(f"Parameter '{name}' must be a number") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise _error(f"Parameter '{name}' must be a number not less than {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise _error(f"Parameter '{name}' must be a number not greater than {spec['MaxValue']}")
        if "AllowedValues" in spec and text not in [str(v) for v in spec["AllowedValues"]]:
            raise _error(f"Parameter '{name}' must be one of AllowedValues")
        if kind == "String":
            if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], text):
                raise _error(f"Parameter '{name}' must match pattern {spec['AllowedPattern']}")
            if "MinLength" in spec and len(text) < int(spec["MinLength"]):
                raise _error(f"Parameter '{name}' must contain at least {spec['MinLength']} characters")
            if "MaxLength" in spec and len(text) > int(spec["MaxLength"]):
                raise _error(f"Parameter '{name}' must contain at most {spec['MaxLength']} characters")


def _check_rules(
    rules: dict[str, Any], declared: dict[str, Any], given: dict[str, Any], conditions: dict[str, Any]
) -> None:
    values = {name: str(given.get(name, spec.get("Default", ""))) for name, spec in declared.items()}
    for rule in rules.values():
        if "RuleCondition" in rule and not _evaluate(rule["RuleCondition"], values):
            continue
        for assertion in rule.get("Assertions") or []:
            if not _evaluate(assertion["Assert"], values):
                raise _error(assertion.get("AssertDescription") or "Template error: a rule assertion failed")


def _evaluate(node: Any, values: dict[str, str]) -> Any:
    """Rule functions over parameter values (Ref, Equals, Not, And, Or, Contains, EachMemberEquals)."""
    if not isinstance(node, dict) or len(node) != 1:
        return [_evaluate(n, values) for n in node] if isinstance(node, list) else node
    ((key, arg),) = node.items()
    if key == "Ref":
        return values.get(arg, "")
    args = [_evaluate(a, values) for a in arg] if isinstance(arg, list) else [_evaluate(arg, values)]
    if key == "Fn::Equals":
        return str(args[0]) == str(args[1])
    if key == "Fn::Not":
        return not args[0]
    if key == "Fn::And":
        return all(args)
    if key == "Fn::Or":
        return any(args)
    if key == "Fn::Contains":
        return str(args[1]) in [str(v) for v in args[0]]
    if key == "Fn::EachMemberEquals":
        return all(str(v) == str(args[1]) for v in args[0])
    raise _error(f"Template error: {key} is not supported in Rules by the embedded AWS")
