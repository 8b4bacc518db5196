"""Read CloudFormation templates the way CloudFormation does: short-form intrinsics (!Ref, !Sub, ...)
become their long forms, and every mapping keeps its line for error messages.

cfn-lint's decoder does exactly this and is already a dependency, so we reuse it instead of
writing YAML constructors for every intrinsic tag. Around it: the checks CloudFormation makes first
(size, UTF-8, known tags, duplicate keys, a Resources mapping), so every broken template gives one
line, file:line. `precheck` makes the cheap ones without importing cfn-lint (about 1.5 s), so the
policy gate can start checkov before it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from gitops_harness.errors import InputError

# CloudFormation's own limit for a template body (from S3; inline bodies are limited to 51,200 bytes).
MAX_TEMPLATE_BYTES = 1_048_576
# The short forms CloudFormation's YAML accepts (Fn::<name> for all but Ref and Condition).
SHORT_FORM_TAGS = frozenset(
    "!" + name
    for name in [
        "Ref",
        "Condition",
        "Base64",
        "Cidr",
        "FindInMap",
        "GetAtt",
        "GetAZs",
        "ImportValue",
        "Join",
        "Select",
        "Split",
        "Sub",
        "Transform",
        "And",
        "Equals",
        "If",
        "Not",
        "Or",
        "ToJsonString",
        "Length",
    ]
)
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"
_YAML_CORE_TAGS = frozenset(
    ("str", "int", "float", "bool", "null", "map", "seq", "binary", "timestamp", "merge")
)
_YAML_LOCATION = re.compile(r'\s*in "<[^>]*>", line \d+, column \d+')


class TemplateError(InputError):
    """A template that cannot be read; `line` is where (1 when the whole file is at fault)."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        super().__init__(f"{path}:{line}: cannot parse template: {reason}")


def precheck(path: str | Path) -> str:
    """The checks that need no cfn-lint: the file exists, fits CloudFormation's size limit, is UTF-8,
    and (when it is YAML) has no unknown tag and no duplicate key. Returns the text."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: template not found")
    if not path.is_file():
        raise TemplateError(path, 1, "not a file")
    try:
        size = path.stat().st_size
        if size > MAX_TEMPLATE_BYTES:
            raise TemplateError(
                path,
                1,
                f"{size:,} bytes; CloudFormation accepts templates of at most {MAX_TEMPLATE_BYTES:,} bytes",
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise TemplateError(path, 1, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TemplateError(path, line, "not UTF-8 text; save the file as UTF-8") from None
    _check_yaml_nodes(path, text)
    return text


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse a template file; raise TemplateError (an InputError) with file:line and the reason."""
    path = Path(path)
    precheck(path)
    from cfnlint.decode import decode  # importing cfn-lint costs ~1.5 s: only when a template is read

    template, matches = decode(str(path))
    if matches:
        duplicates = [m for m in matches if str(m.message).startswith("Duplicate found")]
        first = max(duplicates, key=lambda m: m.linenumber) if duplicates else matches[0]
        reason = _one_line(first.message, path)
        if first in duplicates:  # cfn-lint: "Duplicate found 'A' (line 4)"
            reason = f"duplicate key {reason.split('found ', 1)[1].split(' (line')[0]}; keep one"
        raise TemplateError(path, max(int(first.linenumber or 1), 1), reason)
    if not isinstance(template, dict):
        kind = "empty" if template is None else f"a {_kind(template)}"
        raise TemplateError(path, 1, f"the top level is {kind}; a template is a mapping with Resources")
    if not isinstance(template.get("Resources"), dict):
        found = template.get("Resources")
        line = line_of(template) or 1
        why = "no Resources section" if found is None else f"Resources is a {_kind(found)}, not a mapping"
        raise TemplateError(path, line, f"{why}; a CloudFormation template needs a Resources mapping")
    return template


def _kind(value: Any) -> str:
    name = type(value).__name__.removesuffix("_node")  # cfn-lint's dict_node, list_node, str_node
    return {"dict": "mapping", "str": "string", "int": "number", "float": "number", "bool": "boolean"}.get(
        name, name
    )


def _one_line(message: object, path: Path) -> str:
    # The file is named once, at the start of the line: not again inside cfn-lint's wording.
    text = (
        _YAML_LOCATION.sub("", str(message)).replace("{filename}", "the file").replace(str(path), "the file")
    )
    return " ".join(text.split())


def _refuse_unless_json(path: Path, text: str, yaml_error: yaml.YAMLError) -> None:
    """A file neither YAML nor JSON can read is broken: say where YAML stopped, as cfn-lint would."""
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        mark = getattr(yaml_error, "problem_mark", None) or getattr(yaml_error, "context_mark", None)
        problem = getattr(yaml_error, "problem", None) or str(yaml_error)
        line = mark.line + 1 if mark is not None else 1
        raise TemplateError(path, line, _one_line(problem, path)) from None


class _NodeLoader(getattr(yaml, "CBaseLoader", yaml.BaseLoader)):  # type: ignore[misc]
    """Composes nodes with their explicit tags; every other node gets the plain default tag at once."""

    _DEFAULT_TAGS = {
        yaml.ScalarNode: yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG,
        yaml.SequenceNode: yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
        yaml.MappingNode: yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    }

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        return self._DEFAULT_TAGS[kind]


_NULLS = ("", "~", "null", "Null", "NULL")  # YAML 1.1's plain nulls (the base loader leaves them untagged)


def _check_yaml_nodes(path: Path, text: str) -> None:
    """Unknown tags (`!Bogus`: a crash in checkov) and duplicate keys, from the YAML node graph."""
    # The base loader: nodes only, no tag constructed, and no implicit tag resolution (a regex per
    # plain scalar, seconds for a 200,000-item list); explicit tags (!Bogus) are kept all the same.
    try:
        root = yaml.compose(text, Loader=_NodeLoader)
    except RecursionError:
        raise TemplateError(path, 1, "nested too deeply") from None
    except yaml.YAMLError as exc:
        _refuse_unless_json(path, text, exc)  # JSON that YAML cannot read (tabs) is still a template
        return
    if not isinstance(root, yaml.MappingNode):
        kind = "empty" if root is None else "a list" if isinstance(root, yaml.SequenceNode) else "a value"
        raise TemplateError(path, 1, f"the top level is {kind}; a template is a mapping with Resources")
    resources = [v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "Resources"]
    if not resources or not isinstance(resources[-1], yaml.MappingNode):
        found = resources[-1] if resources else None
        null = found is None or (
            isinstance(found, yaml.ScalarNode)
            and (found.tag.endswith(":null") or (not found.style and found.value in _NULLS))
        )
        kind = "a list" if isinstance(found, yaml.SequenceNode) else "a value, not a mapping"
        why = "no Resources section" if null else f"Resources is {kind}"
        line = found.start_mark.line + 1 if found is not None else 1
        raise TemplateError(path, line, f"{why}; a CloudFormation template needs a Resources mapping")
    stack, seen = [root] if root is not None else [], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:  # an alias: its node was checked where it was defined
            continue
        seen.add(id(node))
        tag = node.tag or ""
        if (tag.startswith("!") and tag not in SHORT_FORM_TAGS) or (
            tag.startswith(_YAML_TAG_PREFIX) and tag.removeprefix(_YAML_TAG_PREFIX) not in _YAML_CORE_TAGS
        ):
            raise TemplateError(
                path,
                node.start_mark.line + 1,
                f"unknown tag {tag.replace(_YAML_TAG_PREFIX, '!!')}; CloudFormation knows only its short "
                "forms (!Ref, !Sub, !GetAtt, ...)",
            )
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise TemplateError(
                        path, key.start_mark.line + 1, "a key that is a list or mapping; keys are names"
                    )
                if key.value in keys:
                    raise TemplateError(
                        path, key.start_mark.line + 1, f"duplicate key '{key.value}'; keep one"
                    )
                keys.add(key.value)
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


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
