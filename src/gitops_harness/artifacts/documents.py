"""Read the artifact files (JSON or YAML) into plain Python values, keeping where each value came from.

Findings point into a document with a JSON path (``containerDefinitions[0].image``) and, for YAML,
with the line the value sits on. Anything that cannot be parsed is an InputError naming file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from gitops_harness.errors import InputError

Path_ = tuple[str | int, ...]


def json_path(path: Path_) -> str:
    """Render ("containerDefinitions", 0, "image") as containerDefinitions[0].image."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


@dataclass
class Document:
    name: str  # shown in findings: the path as the user gave it, or the artifact member name
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)  # YAML only: path -> 1-based line
    duplicate_keys: list[tuple[Path_, str]] = field(default_factory=list)  # (path, location)

    def where(self, path: Path_) -> str:
        """'line N' for YAML values whose line is known (nearest enclosing value otherwise), else a JSON path."""
        if self.lines:
            for end in range(len(path), -1, -1):
                line = self.lines.get(path[:end])
                if line is not None:
                    return f"line {line}"
        return json_path(path)

    def get(self, *path: str | int) -> Any:
        """The value at path, or None when any step is missing or of the wrong kind."""
        node = self.data
        for part in path:
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    return None
            elif not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _decode(name: str, raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{name}:{line}: cannot parse: not UTF-8 text; save the file as UTF-8") from None


class _DupTrackingDict(dict):
    """A JSON object that remembers keys given more than once (json keeps only the last)."""

    duplicates: list[str]


def _pairs_hook(pairs: list[tuple[str, Any]], tracked_any: list[bool]) -> dict:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj  # the common case stays a plain dict: a 100,000-object file parses at json's speed
    tracked_any.append(True)
    tracked = _DupTrackingDict()
    tracked.duplicates = []
    for key, value in pairs:
        if key in tracked:
            tracked.duplicates.append(key)
        tracked[key] = value
    return tracked


def _json_duplicates(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, str]]:
    if isinstance(node, dict):
        for key in getattr(node, "duplicates", ()):
            yield (*path, key), json_path((*path, key))
        for key, value in node.items():
            yield from _json_duplicates(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _json_duplicates(value, (*path, index))


def parse_json(name: str, raw: bytes | str) -> Document:
    text = _decode(name, raw)
    try:
        tracked_any: list[bool] = []
        data = json.loads(text, object_pairs_hook=lambda pairs: _pairs_hook(pairs, tracked_any))
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{exc.lineno}: cannot parse JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise InputError(f"{name}:1: cannot parse JSON: nested too deeply") from None
    duplicates = list(_json_duplicates(data)) if tracked_any else []  # walk only when there are some
    return Document(name, data, duplicate_keys=duplicates)


# libyaml when available: the pure-Python parser costs milliseconds per small file.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader without implicit timestamps: artifact values are strings, never dates."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int], dups: list[tuple[Path_, str]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = key_node.value
            child = (*path, key)
            if key in seen:
                dups.append((child, f"line {key_node.start_mark.line + 1}"))
            seen.add(key)
            lines.setdefault(child, key_node.start_mark.line + 1)
            _yaml_lines(value_node, child, lines, dups)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines.setdefault(child, item.start_mark.line + 1)
            _yaml_lines(item, child, lines, dups)


# YAML aliases let a few hundred bytes stand for billions of values (a "billion laughs"): refuse a
# document that expands past this many nodes, as cfn-lint does for templates (it allows 250,000).
MAX_EXPANDED_NODES = 100_000


def _expanded_size(root: yaml.Node, name: str) -> None:
    """Raise InputError when the document, with every alias expanded, has more than MAX_EXPANDED_NODES
    nodes. Counted per distinct node with memoisation, so the count itself never expands anything."""
    sizes: dict[int, int] = {}
    order: list[yaml.Node] = []
    stack, seen = [root], set()
    while stack:  # post-order without recursion: nesting depth is the attacker's choice too
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        if isinstance(node, yaml.MappingNode):
            stack += [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    for node in reversed(order):
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        total = 1 + sum(sizes.get(id(child), 1) for child in children)
        sizes[id(node)] = total
        if total > MAX_EXPANDED_NODES:
            raise InputError(
                f"{name}:{node.start_mark.line + 1}: cannot parse YAML: aliases expand to more than "
                f"{MAX_EXPANDED_NODES:,} values; write the values out instead of nesting aliases"
            )


def parse_yaml(name: str, raw: bytes | str) -> Document:
    text = _decode(name, raw)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the reader rejects control characters already here
        node = loader.get_single_node()
        if node is not None:
            _expanded_size(node, name)
        data = loader.construct_document(node) if node is not None else None
        lines: dict[Path_, int] = {}
        dups: list[tuple[Path_, str]] = []
        if node is not None:
            lines[()] = node.start_mark.line + 1
            _yaml_lines(node, (), lines, dups)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise InputError(
            f"{name}:{line}: cannot parse YAML: {_one_line(exc.problem or exc.context or exc)}"
        ) from None
    except yaml.YAMLError as exc:  # ReaderError: control characters and the like
        raise InputError(f"{name}:1: cannot parse YAML: {_one_line(exc)}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a constructor rejected an explicitly tagged value
        raise InputError(f"{name}:1: cannot parse YAML: {_one_line(exc)}") from None
    except RecursionError:
        raise InputError(f"{name}:1: cannot parse YAML: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    return Document(name, data, lines=lines, duplicate_keys=dups)


def parse_json_or_yaml(name: str, raw: bytes | str) -> Document:
    """appspec files may be YAML or JSON; JSON keeps JSON paths as locations."""
    text = _decode(name, raw)
    if text.lstrip()[:1] in ("{", "["):
        return parse_json(name, text)
    return parse_yaml(name, text)
