"""Check a document against a botocore input shape: botocore's own ParamValidator for required fields,
unknown fields, types and minimums, plus what that validator skips (enum members, true/false given for a
number). The service models are loaded once per process: loading one costs ~100 ms, checking ~1 ms.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.model import Shape
from botocore.validate import ParamValidator

from gitops_harness.artifacts.documents import Path_, json_path


@dataclass(frozen=True)
class ShapeProblem:
    kind: str  # unknown-field | missing-field | wrong-type | below-minimum | not-in-enum
    location: str  # JSON path relative to the checked value ('' is the value itself)
    message: str


@functools.cache
def input_shape(service: str, operation: str) -> Shape:
    session = botocore.session.get_session()
    return session.get_service_model(service).operation_model(operation).input_shape


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    for kind, name in (
        (dict, "an object"),
        (list, "an array"),
        (str, "a string"),
        (int, "an integer"),
        (float, "a number"),
    ):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


_EXPECTED = {
    "str": "a string",
    "int": "an integer",
    "bool": "true/false",
    "dict": "an object",
    "list": "an array",
    "tuple": "an array",
    "float": "a number",
    "Decimal": "a number",
}


def _expected(valid_types: list[str]) -> str:
    names = []
    for text in valid_types:
        short = text.split("'")[1].rsplit(".", 1)[-1] if "'" in text else text
        name = _EXPECTED.get(short, short)
        if name not in names:
            names.append(name)
    return " or ".join(names)


def _join(name: str, child: str) -> str:
    name = name.lstrip(".")
    return f"{name}.{child}" if name else child


def _botocore_problems(value: Any, shape: Shape, operation: str) -> Iterator[ShapeProblem]:
    report = ParamValidator().validate(value, shape)
    # ValidationErrors keeps structured entries (reason, name, details) in _errors; its public
    # generate_report() only offers them joined into prose, which would lose the locations.
    for reason, name, details in getattr(report, "_errors", []):
        if reason == "unknown field":
            param = details["unknown_param"]
            close = difflib.get_close_matches(str(param), details["valid_names"], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else "; remove it"
            yield ShapeProblem(
                "unknown-field",
                _join(name, str(param)),
                f"unknown field '{param}': {operation} does not accept it{hint}",
            )
        elif reason == "missing required field":
            field = details["required_name"]
            yield ShapeProblem("missing-field", _join(name, field), f"missing required field '{field}'")
        elif reason == "invalid type":
            yield ShapeProblem(
                "wrong-type",
                name.lstrip("."),
                f"{json_type(details['param'])} given where {operation} expects "
                f"{_expected(details['valid_types'])}",
            )
        elif reason in ("invalid range", "invalid length"):
            what = "length" if reason == "invalid length" else "value"
            yield ShapeProblem(
                "below-minimum", name.lstrip("."), f"{what} is below the minimum of {details['min_allowed']}"
            )
        else:
            yield ShapeProblem("wrong-type", name.lstrip("."), f"{reason}")


def _walk_extra(value: Any, shape: Shape, path: Path_) -> Iterator[ShapeProblem]:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for key, child in value.items():
            if key in shape.members:
                yield from _walk_extra(child, shape.members[key], (*path, key))
    elif kind == "list" and isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk_extra(child, shape.member, (*path, index))
    elif kind == "map" and isinstance(value, dict):
        for key, child in value.items():
            yield from _walk_extra(child, shape.value, (*path, key))
    elif kind == "string" and isinstance(value, str) and getattr(shape, "enum", None):
        if value not in shape.enum:
            allowed = ", ".join(shape.enum)
            close = difflib.get_close_matches(value, shape.enum, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            yield ShapeProblem("not-in-enum", json_path(path), f"'{value}' is not one of: {allowed}{hint}")
    elif kind in ("integer", "long", "float", "double") and isinstance(value, bool):
        # bool is an int in Python, so botocore lets true/false through where AWS wants a number.
        yield ShapeProblem("wrong-type", json_path(path), "true/false given where a number is expected")


def check_against_shape(value: Any, service: str, operation: str) -> list[ShapeProblem]:
    shape = input_shape(service, operation)
    problems = list(_botocore_problems(value, shape, operation))
    problems.extend(_walk_extra(value, shape, ()))
    return problems
