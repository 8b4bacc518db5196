"""Read CloudFormation templates the way CloudFormation does: short-form intrinsics (!Ref, !Sub, ...)
become their long forms, and every mapping keeps its line for error messages.

cfn-lint's decoder does exactly this and is already a dependency, so we reuse it instead of
writing YAML constructors for every intrinsic tag.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

from gitops_harness.errors import InputError


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse a template file; raise InputError with file:line and the reason if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: template not found")
    template, matches = decode(str(path))
    if template is None or matches:
        reason = matches[0].message if matches else "not a template"
        line = matches[0].linenumber if matches else 1
        raise InputError(f"{path}:{line}: cannot parse template: {reason}")
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise InputError(f"{path}:1: not a CloudFormation template (no Resources mapping)")
    return template


def line_of(node: Any) -> int | None:
    """1-based line of a decoded mapping or list, when the decoder recorded it."""
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def resources_of_type(template: dict[str, Any], resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, resource) for every resource of one type, in template order."""
    for logical_id, resource in template.get("Resources", {}).items():
        if isinstance(resource, dict) and resource.get("Type") == resource_type:
            yield logical_id, resource


def properties(resource: dict[str, Any]) -> dict[str, Any]:
    props = resource.get("Properties")
    return props if isinstance(props, dict) else {}
