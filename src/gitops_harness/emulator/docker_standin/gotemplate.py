"""The subset of Go's text/template that buildspecs pass to `docker inspect --format`.

Supported: literal text; actions `{{ ... }}` (with `{{-`/`-}}` trimming); `.` and field chains
(`.Config.Env`, `.RepoDigests`); string and integer literals; parentheses; pipelines into a final
function (`{{.Config | json}}`); the functions `index` (lists and maps, several keys), `json`, `join`,
`len`, `lower`, `upper`, `println`, `printf` with %s/%d/%v. Values print as Go does: lists `[a b]`,
maps `map[k:v]`, a missing map key `<no value>`, nil `<nil>`. Anything else is a template error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from gitops_harness.emulator.docker_standin.errors import DockerError

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<num>-?\d+)|(?P<field>\.[\w.]*)|(?P<ident>[A-Za-z_]\w*)|(?P<punct>[()|]))'
)


class _Missing:
    """A map key that is not there: Go prints `<no value>`."""


MISSING = _Missing()


def render(template: str, data: Any) -> str:
    pieces: list[str] = []
    pos = 0
    for match in _ACTION.finditer(template):
        literal = template[pos : match.start()]
        if match.group(1):
            literal = literal.rstrip()
        pieces.append(literal)
        pieces.append(_format(_evaluate(match.group(2), data, match.start())))
        pos = match.end()
        if match.group(3):
            rest = template[pos:]
            pos += len(rest) - len(rest.lstrip())
    tail = template[pos:]
    if "{{" in tail:
        raise DockerError(f"template parsing error: template: :1: unclosed action in {template!r}")
    pieces.append(tail)
    return "".join(pieces)


def _tokens(text: str, offset: int) -> list[tuple[str, str]]:
    out = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise DockerError(f"template parsing error: template: :1: unexpected {text[pos:]!r} in command")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _evaluate(action: str, data: Any, offset: int) -> Any:
    tokens = _tokens(action, offset)
    value, rest = _pipeline(tokens, data, action)
    if rest:
        raise DockerError(
            f"template parsing error: template: :1: unexpected {rest[0][1]!r} in {{{{{action}}}}}"
        )
    return value


def _pipeline(tokens: list[tuple[str, str]], data: Any, action: str) -> tuple[Any, list[tuple[str, str]]]:
    value, tokens = _command(tokens, data, action, None)
    while tokens and tokens[0] == ("punct", "|"):
        value, tokens = _command(tokens[1:], data, action, value)
    return value, tokens


def _command(
    tokens: list[tuple[str, str]], data: Any, action: str, piped: Any
) -> tuple[Any, list[tuple[str, str]]]:
    if not tokens:
        raise DockerError(
            f"template parsing error: template: :1: missing value for command in {{{{{action}}}}}"
        )
    kind, text = tokens[0]
    if kind == "ident":
        if text not in FUNCTIONS:
            raise DockerError(f'template parsing error: template: :1: function "{text}" not defined')
        args: list[Any] = []
        tokens = tokens[1:]
        while tokens and tokens[0] not in (("punct", "|"), ("punct", ")")):
            arg, tokens = _operand(tokens, data, action)
            args.append(arg)
        if piped is not None:
            args.append(piped)
        try:
            return FUNCTIONS[text](*args), tokens
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            raise DockerError(
                f'template: :1: executing "" at <{action.strip()}>: error calling {text}: {exc}'
            ) from None
    if piped is not None:
        raise DockerError(
            f'template: :1: executing "" at <{action.strip()}>: can\'t give argument to non-function {text}'
        )
    return _operand(tokens, data, action)


def _operand(tokens: list[tuple[str, str]], data: Any, action: str) -> tuple[Any, list[tuple[str, str]]]:
    kind, text = tokens[0]
    rest = tokens[1:]
    if kind == "str":
        return json.loads(text), rest
    if kind == "raw":
        return text[1:-1], rest
    if kind == "num":
        return int(text), rest
    if kind == "field":
        return _field(data, text, action), rest
    if (kind, text) == ("punct", "("):
        value, rest = _pipeline(rest, data, action)
        if not rest or rest[0] != ("punct", ")"):
            raise DockerError(
                f"template parsing error: template: :1: unclosed left paren in {{{{{action}}}}}"
            )
        return value, rest[1:]
    if kind == "ident":
        value, rest = _command(tokens, data, action, None)
        return value, rest
    raise DockerError(f"template parsing error: template: :1: unexpected {text!r} in {{{{{action}}}}}")


def _field(data: Any, chain: str, action: str) -> Any:
    value = data
    for name in [n for n in chain.split(".") if n]:
        if isinstance(value, dict):
            value = value.get(name, MISSING)
        elif value is None or value is MISSING:
            raise DockerError(
                f'template: :1: executing "" at <{chain}>: nil pointer evaluating interface {{}}.{name}'
            )
        else:
            raise DockerError(f'template: :1: executing "" at <{chain}>: can\'t evaluate field {name}')
    return value


def _index(collection: Any, *keys: Any) -> Any:
    value = collection
    for key in keys:
        if isinstance(value, list):
            if not isinstance(key, int) or not 0 <= key < len(value):
                raise IndexError(f"index out of range: {key}")
            value = value[key]
        elif isinstance(value, dict):
            value = value.get(key, MISSING)
        elif value is None or value is MISSING:
            raise IndexError("index of untyped nil")
        else:
            raise TypeError(f"can't index item of type {type(value).__name__}")
    return value


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)
    return re.sub(r"%[svd%]", lambda m: "%" if m.group() == "%%" else _format(next(values, MISSING)), fmt)


def _format(value: Any) -> str:
    if value is MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_format(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_format(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "index": _index,
    # docker's `json` does not escape HTML and drops the encoder's trailing newline.
    "json": lambda v: json.dumps(None if v is MISSING else v, separators=(",", ":"), ensure_ascii=False),
    "join": lambda items, sep: sep.join(_format(i) for i in items),
    "len": lambda v: len(v),
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "println": lambda *a: " ".join(_format(v) for v in a) + "\n",
    "printf": _printf,
}
