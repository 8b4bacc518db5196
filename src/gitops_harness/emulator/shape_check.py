"""Check a response dict against an operation's botocore output shape: required members, types, enums.

Used on what a handler returns (timestamps as datetime or epoch numbers, blobs as bytes) and on what
boto3 parsed from the wire (the same, plus ResponseMetadata, which is ignored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.model import Shape

from gitops_harness.emulator.controlplane import service_model

_IGNORED_TOP_LEVEL = {"ResponseMetadata"}


def check_output(service: str, operation: str, response: dict[str, Any]) -> list[str]:
    """Problems of `response` against the output shape of service.operation ([] when it conforms)."""
    model = service_model(service).operation_model(operation)
    shape = model.output_shape
    body = {key: value for key, value in response.items() if key not in _IGNORED_TOP_LEVEL}
    if shape is None:
        return [f"{operation}: the model declares no output, got members {sorted(body)}"] if body else []
    return check_shape(shape, body, operation)


def check_shape(shape: Shape, value: Any, path: str) -> list[str]:
    problems: list[str] = []
    _check(shape, value, path, problems)
    return problems


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    expected = _TYPES.get(kind)
    if expected is not None and (
        not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool))
    ):
        problems.append(f"{path}: expected {kind} ({shape.name}), got {type(value).__name__} {value!r:.60}")
        return
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        for name in sorted(set(value) - set(members)):
            problems.append(f"{path}.{name}: not a member of {shape.name}")
        for name in shape.required_members:  # type: ignore[attr-defined]
            if value.get(name) is None:
                problems.append(f"{path}.{name}: required member of {shape.name} is missing")
        present = [name for name in members if value.get(name) is not None]
        if shape.is_tagged_union and len(present) != 1:  # type: ignore[attr-defined]
            problems.append(f"{path}: union {shape.name} must set exactly one member, got {present}")
        for name in present:
            _check(members[name], value[name], f"{path}.{name}", problems)
    elif kind == "list":
        _check_length(shape, len(value), path, problems)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}[{index}]", problems)  # type: ignore[attr-defined]
    elif kind == "map":
        for key, item in value.items():
            _check(shape.key, key, f"{path} key {key!r}", problems)  # type: ignore[attr-defined]
            _check(shape.value, item, f"{path}[{key!r}]", problems)  # type: ignore[attr-defined]
    elif kind == "string":
        enum = shape.enum  # type: ignore[attr-defined]
        if enum and value not in enum:
            problems.append(f"{path}: {value!r} is not one of {shape.name}'s values {list(enum)}")
        _check_length(shape, len(value), path, problems)
    elif kind in ("integer", "long", "float", "double"):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            problems.append(f"{path}: {value} is outside {shape.name}'s range [{low}, {high}]")


def _check_length(shape: Shape, length: int, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and length < low) or (high is not None and length > high):
        problems.append(f"{path}: length {length} is outside {shape.name}'s bounds [{low}, {high}]")


_TYPES: dict[str, tuple[type, ...]] = {
    "structure": (dict,),
    "list": (list, tuple),
    "map": (dict,),
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "timestamp": (datetime, int, float),
    "blob": (bytes, bytearray),
}
