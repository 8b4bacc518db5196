"""CloudFormation resource properties -> API request parameters, guided by botocore's input shapes.

CloudFormation spells members in PascalCase while the code services' APIs use camelCase (ECSServices
vs ecsServices, BuildSpec vs buildspec); matching member names without regard to case, walking the
operation's input shape, maps almost every property without a hand-written table. A property the shape
does not know fails the resource as CloudFormation does ("Encountered unsupported property"), and
scalars are coerced to the shape's type (templates carry "false" and "5" as strings).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.model import Shape

from gitops_harness.emulator.cloudformation.resource import ResourceFailure


def operation_params(
    client: Any, operation: str, properties: dict[str, Any], *, skip: Iterable[str] = ()
) -> dict[str, Any]:
    """The request for `operation` (API name, e.g. "CreateProject") from a resource's properties."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    given = {key: value for key, value in properties.items() if key not in set(skip)}
    return convert(shape, given, "")


def convert(shape: Shape, value: Any, path: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise ResourceFailure(f"Property {path or '/'} must be an object, got {_type_name(value)}")
        members = {name.lower(): (name, member) for name, member in shape.members.items()}
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:  # AWS::NoValue
                continue
            found = members.get(key.lower())
            if found is None:
                raise ResourceFailure(f"Encountered unsupported property {path}/{key}".replace("//", "/"))
            name, member = found
            out[name] = convert(member, item, f"{path}/{key}")
        return out
    if kind == "list":
        if not isinstance(value, list):
            value = [value]
        return [
            convert(shape.member, item, f"{path}/{i}") for i, item in enumerate(value) if item is not None
        ]
    if kind == "map":
        # CloudFormation writes some maps (tags) as lists of Key/Value pairs
        if isinstance(value, list):
            value = _pairs_to_map(value, path)
        if not isinstance(value, dict):
            raise ResourceFailure(f"Property {path} must be an object, got {_type_name(value)}")
        return {str(k): convert(shape.value, v, f"{path}/{k}") for k, v in value.items() if v is not None}
    return scalar(kind, value, path)


def scalar(kind: str, value: Any, path: str) -> Any:
    if isinstance(value, dict | list):
        raise ResourceFailure(f"Property {path} must be a {kind}, got {_type_name(value)}")
    try:
        if kind == "string":
            return str(value).lower() if isinstance(value, bool) else str(value)
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("double", "float"):
            return float(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text not in ("true", "false"):
                raise ValueError(value)
            return text == "true"
        if kind == "blob":
            return value.encode() if isinstance(value, str) else value
    except (TypeError, ValueError):
        raise ResourceFailure(f"Property {path}: {value!r} is not a valid {kind}") from None
    return value


def _pairs_to_map(pairs: list[Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        lowered = {str(k).lower(): v for k, v in pair.items()} if isinstance(pair, dict) else {}
        if "key" not in lowered:
            raise ResourceFailure(f"Property {path}: expected a list of Key/Value pairs")
        out[str(lowered["key"])] = lowered.get("value", "")
    return out


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)
