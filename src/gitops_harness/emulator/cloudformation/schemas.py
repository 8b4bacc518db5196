"""Resource properties checked against CloudFormation's resource provider schemas (the copies cfn-lint
ships), as CloudFormation's handlers check them when they create a resource: an unknown property or a
missing required one fails the resource with AWS's message

    Properties validation failed for resource Bucket with message: #: extraneous key [Foo] is not permitted

Only object shapes are checked (keys, required keys), at the top level and in nested objects whose schema
is a plain object; values that are still intrinsic functions, and schemas built from oneOf/anyOf/allOf,
are left alone. The schema files are read directly (importing cfnlint.schema costs seconds).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

_ROOT = "cfnlint.data.schemas"
NO_VALUE = {"Ref": "AWS::NoValue"}


@cache
def _provider_index(region: str) -> dict[str, str]:
    for name in (region, "us-east-1"):
        try:
            text = resources.files(f"{_ROOT}.providers").joinpath(f"{name}.json").read_text()
        except (FileNotFoundError, ModuleNotFoundError):
            continue
        return json.loads(text)
    return {}


@cache
def resource_schema(resource_type: str, region: str = "us-east-1") -> dict[str, Any] | None:
    """The provider schema of `resource_type` (None for types CloudFormation's registry does not ship)."""
    digest = _provider_index(region).get(resource_type) or _provider_index("us-east-1").get(resource_type)
    if not digest:
        return None
    try:
        return json.loads(resources.files(f"{_ROOT}.resources").joinpath(f"{digest}.json").read_text())
    except (FileNotFoundError, ModuleNotFoundError):
        return None


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref"))


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and isinstance(node["$ref"], str) and node["$ref"].startswith("#/definitions/"):
        node = (schema.get("definitions") or {}).get(node["$ref"].rsplit("/", 1)[1], {})
    return node


def violations(schema: dict[str, Any], node: dict[str, Any], value: Any, path: str = "#") -> list[str]:
    """Everit-style messages (what CloudFormation's handlers print) for keys `value` lacks or must not have."""
    node = _resolve(schema, node)
    if not isinstance(value, dict) or _is_intrinsic(value):
        if isinstance(value, list) and "items" in node:
            items = node["items"] if isinstance(node["items"], dict) else {}
            return [v for i, item in enumerate(value) for v in violations(schema, items, item, f"{path}/{i}")]
        return []
    if any(key in node for key in ("oneOf", "anyOf", "allOf")) or node.get("type") not in (None, "object"):
        return []
    declared = node.get("properties")
    if not isinstance(declared, dict):
        return []
    found: list[str] = []
    present = {key for key, item in value.items() if item != NO_VALUE and item is not None}
    if node.get("additionalProperties") is False:
        patterns = [re.compile(pattern) for pattern in node.get("patternProperties") or {}]
        extra = sorted(
            key
            for key in present
            if key not in declared and not any(pattern.search(key) for pattern in patterns)
        )
        found += [f"{path}: extraneous key [{key}] is not permitted" for key in extra]
    required = node.get("required")
    if isinstance(required, list):
        found += [f"{path}: required key [{key}] not found" for key in required if key not in present]
    for key in sorted(present & set(declared)):
        found += violations(schema, declared[key], value[key], f"{path}/{key}")
    return found


def check_properties(logical_id: str, resource_type: str, properties: Any, region: str) -> str | None:
    """The resource's failure reason if its properties break the type's schema, else None."""
    schema = resource_schema(resource_type, region)
    if schema is None or _is_intrinsic(properties):
        return None
    found = violations(schema, schema, properties if isinstance(properties, dict) else {})
    if not found:
        return None
    message = found[0] if len(found) == 1 else f"[{', '.join(found)}]"
    return f"Properties validation failed for resource {logical_id} with message: {message}"
