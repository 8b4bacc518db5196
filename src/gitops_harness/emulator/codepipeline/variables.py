"""#{Namespace.Variable} references in action configuration, resolved when the action starts.

Namespaces: an action's `namespace` (its output variables), `codepipeline` (PipelineExecutionId) and
`variables` (pipeline-level variables of the execution).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"#\{([A-Za-z0-9@\-_]+)\.([A-Za-z0-9@\-_.]+)\}")


class UnresolvedVariable(Exception):
    pass


def resolve(value: str, namespaces: Mapping[str, Mapping[str, str]]) -> str:
    def replace(match: re.Match[str]) -> str:
        namespace, name = match.groups()
        values = namespaces.get(namespace)
        if values is None or name not in values:
            raise UnresolvedVariable(f"Unable to resolve variable #{{{namespace}.{name}}}")
        return values[name]

    return _REFERENCE.sub(replace, value)


def resolve_map(values: Mapping[str, str], namespaces: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    return {key: resolve(value, namespaces) for key, value in values.items()}
