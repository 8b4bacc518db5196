"""Whole-template view shared by the gitops-harness custom checkov checks.

Why a whole-template view: checkov gives a Python resource check only that one resource's
configuration, but most of our rules are relations between resources (the approval stage before
every deploy stage, the deployment group an ECS service is deployed by, the event rule that starts
the pipeline, the union of all notification rules). checkov's YAML graph checks can follow a Ref
edge, but they cannot express ordering inside a list or a union over several resources, and they
lose the edge when the link is an ARN built with Fn::Sub. So each check reads the whole template
the resource came from: checkov stamps every parsed mapping with "__file__" (the path as checkov
opened it, relative to its working directory, which is also ours), and we parse that file once with
checkov's own CloudFormation parser, so the checks see exactly what checkov saw.

This module is loaded by checkov like a check module (it defines no check); its file name is
prefixed because checkov imports check files under their bare file name.
"""

from __future__ import annotations

import os
import re
from typing import Any

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.cloudformation.parser import parse
from checkov.common.models.enums import CheckCategories, CheckResult

GUIDELINE = "docs/policy-checks.md#{anchor}"
_MARKERS = ("__file__", "__startline__", "__endline__")
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
_cache: dict[tuple[str, float], Template | None] = {}


def clean(node: Any) -> Any:
    """Plain dicts/lists without checkov's position markers."""
    if isinstance(node, dict):
        return {str(k): clean(v) for k, v in node.items() if k not in _MARKERS}
    if isinstance(node, list):
        return [clean(v) for v in node]
    return node


class Template:
    def __init__(self, path: str, raw: dict[str, Any]) -> None:
        self.path = path
        body = clean(raw)
        self.resources: dict[str, dict[str, Any]] = {
            k: v for k, v in (body.get("Resources") or {}).items() if isinstance(v, dict)
        }
        self.parameters: dict[str, Any] = body.get("Parameters") or {}

    def of_type(self, *resource_types: str) -> list[tuple[str, dict[str, Any]]]:
        return [(k, v) for k, v in self.resources.items() if v.get("Type") in resource_types]

    def type_of(self, logical_id: str) -> str | None:
        resource = self.resources.get(logical_id)
        return resource.get("Type") if resource else None

    def resolve(self, value: Any) -> Any:
        """A Ref to a parameter becomes its Default (what checkov's own renderer does too)."""
        if isinstance(value, dict) and set(value) == {"Ref"}:
            parameter = self.parameters.get(value["Ref"])
            if isinstance(parameter, dict) and "Default" in parameter:
                return parameter["Default"]
        return value

    def references(self, value: Any) -> set[str]:
        """Logical ids of resources a value points at through Ref, Fn::GetAtt or Fn::Sub."""
        found: set[str] = set()
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "Ref" and isinstance(inner, str):
                    found.add(inner)
                elif key == "Fn::GetAtt":
                    target = inner[0] if isinstance(inner, list) and inner else inner
                    if isinstance(target, str):
                        found.add(target.split(".")[0])
                elif key == "Fn::Sub":
                    text, variables = (
                        (inner[0], inner[1]) if isinstance(inner, list) and len(inner) == 2 else (inner, {})
                    )
                    if isinstance(text, str):
                        names = {m.split(".")[0] for m in _SUB_VARIABLE.findall(text)}
                        found |= names - set(variables if isinstance(variables, dict) else {})
                    found |= self.references(variables)
                else:
                    found |= self.references(inner)
        elif isinstance(value, list):
            for inner in value:
                found |= self.references(inner)
        return {name for name in found if name in self.resources}

    def points_at(self, value: Any, logical_id: str, literal_name: Any = None) -> bool:
        """True when value names the resource: by reference, or as a literal name/ARN ending in its name."""
        if logical_id in self.references(value):
            return True
        value = self.resolve(value)
        name = self.resolve(literal_name)
        return (
            isinstance(value, str)
            and isinstance(name, str)
            and bool(name)
            and (value == name or value.endswith((f":{name}", f"/{name}")))
        )


def properties(resource: dict[str, Any]) -> dict[str, Any]:
    props = resource.get("Properties")
    return props if isinstance(props, dict) else {}


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def pipeline_actions(pipeline: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(stage index, action) for every action of a pipeline, in stage order."""
    found = []
    for index, stage in enumerate(as_list(properties(pipeline).get("Stages"))):
        if isinstance(stage, dict):
            found += [(index, a) for a in as_list(stage.get("Actions")) if isinstance(a, dict)]
    return found


def action_type(action: dict[str, Any]) -> tuple[str, str]:
    type_id = action.get("ActionTypeId") or {}
    return str(type_id.get("Category", "")), str(type_id.get("Provider", ""))


def _file_of(node: Any) -> str | None:
    if isinstance(node, dict):
        if isinstance(node.get("__file__"), str):
            return node["__file__"]
        for inner in node.values():
            found = _file_of(inner)
            if found:
                return found
    elif isinstance(node, list):
        for inner in node:
            found = _file_of(inner)
            if found:
                return found
    return None


def load(path: str) -> Template | None:
    try:
        key = (os.path.abspath(path), os.path.getmtime(path))
    except OSError:
        return None
    if key not in _cache:
        raw, _lines = parse(path)
        _cache[key] = Template(path, raw) if isinstance(raw, dict) else None
    return _cache[key]


class TemplateCheck(BaseResourceCheck):
    """A resource check that judges its resource in the context of the whole template."""

    def __init__(
        self,
        name: str,
        check_id: str,
        anchor: str,
        resource_types: tuple[str, ...],
        category: CheckCategories = CheckCategories.GENERAL_SECURITY,
    ) -> None:
        super().__init__(
            name=name,
            id=check_id,
            categories=(category,),
            supported_resources=resource_types,
            guideline=GUIDELINE.format(anchor=anchor),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        path = _file_of(conf)
        template = load(path) if path else None
        # entity_path is "<file>:<type>:<logical id>", set by checkov just before this call.
        logical_id = self.entity_path.rsplit(":", 1)[-1]
        if template is None or logical_id not in template.resources:
            return CheckResult.UNKNOWN  # cannot judge without the template; checkov reports nothing
        return self.scan_in_template(template, logical_id, template.resources[logical_id])

    def scan_in_template(self, template: Template, logical_id: str, resource: dict[str, Any]) -> CheckResult:
        raise NotImplementedError
