"""Dockerfile variable substitution and word splitting (the rules of BuildKit's shell lexer, not a shell).

Supported: `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?msg}`,
single quotes (literal), double quotes (expansion, `\\"` `\\$` `\\\\` escapes), backslash escapes outside
quotes. Unset variables expand to the empty string, as in Docker.
"""

from __future__ import annotations

from collections.abc import Mapping

_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


class SubstitutionError(ValueError):
    pass


def expand(text: str, env: Mapping[str, str]) -> str:
    """One word: variables substituted, quotes and escapes removed, whitespace kept."""
    words = _process(text, env, split=False)
    return words[0] if words else ""


def split_words(text: str, env: Mapping[str, str] | None) -> list[str]:
    """Words split on unquoted whitespace; with env None no substitution happens (quotes still removed)."""
    return _process(text, env, split=True)


def _process(text: str, env: Mapping[str, str] | None, split: bool) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    has_word = False
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise SubstitutionError(
                    f"unexpected end of statement while looking for matching single-quote in {text!r}"
                )
            current.append(text[i + 1 : end])
            has_word = True
            i = end + 1
        elif ch == '"':
            i, chunk = _double_quoted(text, i + 1, env)
            current.append(chunk)
            has_word = True
        elif ch == "\\":
            if i + 1 < n:
                current.append(text[i + 1])
                has_word = True
            i += 2
        elif ch == "$" and env is not None:
            i, value = _variable(text, i + 1, env)
            current.append(value)
            has_word = True
        elif split and ch.isspace():
            if has_word:
                words.append("".join(current))
            current, has_word = [], False
            i += 1
        else:
            current.append(ch)
            has_word = True
            i += 1
    if has_word or (not split and not words):
        words.append("".join(current))
    return words


def _double_quoted(text: str, i: int, env: Mapping[str, str] | None) -> tuple[int, str]:
    out: list[str] = []
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            return i + 1, "".join(out)
        if ch == "\\" and i + 1 < n and text[i + 1] in '"$\\':
            out.append(text[i + 1])
            i += 2
        elif ch == "$" and env is not None:
            i, value = _variable(text, i + 1, env)
            out.append(value)
        else:
            out.append(ch)
            i += 1
    raise SubstitutionError(
        f"unexpected end of statement while looking for matching double-quote in {text!r}"
    )


def _variable(text: str, i: int, env: Mapping[str, str]) -> tuple[int, str]:
    """Expand the variable whose name starts at text[i] (just after `$`); return (next index, value)."""
    n = len(text)
    if i < n and text[i] == "{":
        end = _closing_brace(text, i + 1)
        body = text[i + 1 : end]
        name_end = 0
        while name_end < len(body) and body[name_end] in _NAME_CHARS:
            name_end += 1
        name, rest = body[:name_end], body[name_end:]
        if not name:
            raise SubstitutionError(f"missing variable name in ${{{body}}}")
        return end + 1, _modifier(name, rest, env)
    start = i
    while i < n and text[i] in _NAME_CHARS:
        i += 1
    if i == start:
        return i, "$"  # a lone `$` stays literal, as in Docker
    return i, env.get(text[start:i], "")


def _closing_brace(text: str, i: int) -> int:
    depth = 1
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise SubstitutionError(f"missing '}}' in {text!r}")


def _modifier(name: str, rest: str, env: Mapping[str, str]) -> str:
    value = env.get(name)
    if not rest:
        return value or ""
    for op in (":-", ":+", ":?", "-", "+", "?"):
        if rest.startswith(op):
            word = expand(rest[len(op) :], env)
            unset_or_empty = not value if op.startswith(":") else value is None
            if op.endswith("-"):
                return word if unset_or_empty else (value or "")
            if op.endswith("+"):
                return "" if unset_or_empty else word
            if unset_or_empty:
                raise SubstitutionError(f"{name}: {word or 'is not allowed to be unset'}")
            return value or ""
    raise SubstitutionError(f"unsupported modifier ({rest[:2]}) in substitution ${{{name}{rest}}}")
