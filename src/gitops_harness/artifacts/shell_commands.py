"""Buildspec commands as simple commands (argv, redirections, assignments), parsed with a real shell parser.

bashlex (a port of bash's own grammar) parses each command; what it cannot parse (`[[ ]]`, `$(( ))`,
arrays, `case`) falls back to shlex tokens split at control operators, marked `exact=False` so rules that
need the whole picture can stay quiet instead of guessing. Commands inside `$(...)` and backquotes are
simple commands too: they run.
"""

from __future__ import annotations

import functools
import posixpath
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import bashlex
import bashlex.errors

_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
_DECLARE = ("export", "declare", "local", "readonly", "typeset")
_CONTROL = {";", "&&", "||", "|", "&", "(", ")", "\n", ";;", "|&"}
MAX_COMMAND = 64 * 1024
# AWS CLI global options that take a value (`aws --region eu-west-1 ecr get-login`).
_AWS_VALUE_OPTIONS = frozenset(
    {"--region", "--profile", "--endpoint-url", "--output", "--query", "--color", "--ca-bundle"}
    | {"--cli-read-timeout", "--cli-connect-timeout", "--cli-binary-format"}
)
# Words that run the rest of the line as the command (`sudo docker push x`).
_WRAPPERS = frozenset({"sudo", "time", "nohup", "exec", "command"})
_REDIRECT_OPS = {">", ">>", ">|", "&>", "&>>", "<", "<<", "<<<", "<>"}


@dataclass(frozen=True)
class SimpleCommand:
    words: tuple[str, ...]  # argv with quotes removed; parameter references kept as written ($X, ${X})
    redirects: tuple[tuple[str, str], ...] = ()  # (operator, target word or here-document text)
    assignments: tuple[tuple[str, str], ...] = ()  # NAME=value, also after export/declare
    exact: bool = True  # False when the shell parser failed and a tokenizer read the text

    def __post_init__(self) -> None:
        words = self.words
        while len(words) > 1 and words[0] in _WRAPPERS:
            words = words[1:]
        object.__setattr__(self, "words", words)

    @property
    def name(self) -> str:
        return posixpath.basename(self.words[0]) if self.words else ""

    def args(self) -> tuple[str, ...]:
        return self.words[1:]

    def is_(self, *prefix: str) -> bool:
        """Whether argv starts with `prefix`; for `aws`, global options (`--region x`) are skipped."""
        words = list(self.words)
        if self.name == "aws":
            kept: list[str] = []
            skip = False
            for w in words:
                if skip:
                    skip = False
                elif w.startswith("--"):
                    skip = w in _AWS_VALUE_OPTIONS
                else:
                    kept.append(w)
            words = kept
        return tuple(words[: len(prefix)]) == prefix


@dataclass
class ParsedCommand:
    source: str
    commands: list[SimpleCommand] = field(default_factory=list)
    exact: bool = True


# A command with none of these is one simple command whose words shlex splits exactly as bash does
# (quotes removed, $X kept): it skips bashlex's pure-Python LALR parser, ten times slower.
_OPERATORS = re.compile(r"[|&;<>()`\n#*?\[\]~!\\]|\$\(")


@functools.lru_cache(maxsize=4096)
def parse_command(source: str) -> ParsedCommand:
    """Parse one buildspec command (which may span lines); never raises. Cached: the result is shared,
    do not change it."""
    if len(source) > MAX_COMMAND:
        return ParsedCommand(source, [], exact=False)  # not a command a person wrote: not analysed
    if not _OPERATORS.search(source):
        try:
            words = shlex.split(source)
        except ValueError:
            words = None
        if words is not None:
            command = _from_tokens(words)
            return ParsedCommand(source, [SimpleCommand(command.words, (), command.assignments)])
    try:
        trees = bashlex.parse(source)
    except (bashlex.errors.ParsingError, NotImplementedError, IndexError, AttributeError, TypeError):
        fallback = [c for line in source.splitlines() for c in _fallback(line)]
        return ParsedCommand(source, fallback, exact=False)
    except RecursionError:
        return ParsedCommand(source, [], exact=False)
    out: list[SimpleCommand] = []
    for tree in trees:
        _walk(tree, out)
    return ParsedCommand(source, out)


def _walk(node: Any, out: list[SimpleCommand]) -> None:
    kind = getattr(node, "kind", None)
    if kind == "command":
        out.append(_simple(node, out))
        return
    if kind == "commandsubstitution" or kind == "processsubstitution":
        _walk(node.command, out)
        return
    for attr in ("parts", "list"):
        children = getattr(node, attr, None)
        if isinstance(children, list):
            for child in children:
                _walk(child, out)


def _nested(node: Any, out: list[SimpleCommand]) -> None:
    """Commands inside $(...) of a word or assignment."""
    for part in getattr(node, "parts", None) or []:
        if getattr(part, "kind", None) in ("commandsubstitution", "processsubstitution"):
            _walk(part.command, out)
        else:
            _nested(part, out)


def _simple(node: Any, out: list[SimpleCommand]) -> SimpleCommand:
    words: list[str] = []
    redirects: list[tuple[str, str]] = []
    assignments: list[tuple[str, str]] = []
    inner: list[SimpleCommand] = []
    for part in node.parts:
        kind = getattr(part, "kind", None)
        if kind == "assignment" and not words:
            match = _ASSIGNMENT.match(part.word)
            if match:
                assignments.append((match[1], match[2]))
            _nested(part, inner)
        elif kind in ("word", "assignment"):
            words.append(part.word)
            _nested(part, inner)
        elif kind == "redirect":
            heredoc = getattr(part, "heredoc", None)
            target = getattr(part, "output", None)
            if heredoc is not None:
                text = heredoc.value.rsplit("\n", 1)[0] if "\n" in heredoc.value else heredoc.value
                redirects.append((part.type, text))
            elif target is not None and hasattr(target, "word"):
                redirects.append((part.type, target.word))
                _nested(target, inner)
    if words and words[0] in _DECLARE:
        for word in words[1:]:
            match = _ASSIGNMENT.match(word)
            if match:
                assignments.append((match[1], match[2]))
    out.extend(inner)  # $(...) runs before the command that uses its output
    return SimpleCommand(tuple(words), tuple(redirects), tuple(assignments))


def _fallback(source: str) -> Iterator[SimpleCommand]:
    lexer = shlex.shlex(source, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes
        tokens = source.split()
    current: list[str] = []
    for token in [*tokens, ";"]:
        if token in _CONTROL:
            if current:
                yield _from_tokens(current)
            current = []
        else:
            current.append(token)


def _from_tokens(tokens: list[str]) -> SimpleCommand:
    words: list[str] = []
    redirects: list[tuple[str, str]] = []
    assignments: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in _REDIRECT_OPS and i + 1 < len(tokens):
            redirects.append((token, tokens[i + 1]))
            i += 2
            continue
        match = _ASSIGNMENT.match(token)
        if match and (not words or words[0] in _DECLARE):
            assignments.append((match[1], match[2]))
            if words:
                words.append(token)
        else:
            words.append(token)
        i += 1
    return SimpleCommand(tuple(words), tuple(redirects), tuple(assignments), exact=False)


# --- values -------------------------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


MAX_EXPANDED = 8192  # X="$X$X" repeated must not grow a value without bound


def expand(text: str, env: Mapping[str, str], depth: int = 4) -> str:
    """Replace $NAME and ${NAME} whose value is known; unknown references and ${X:-y} forms stay as written."""
    for _ in range(depth):
        changed = _REFERENCE.sub(lambda m: env.get(m[1] or m[2], m[0]), text)
        if changed == text or len(changed) > MAX_EXPANDED:
            break
        text = changed
    return text


def unresolved(text: str) -> bool:
    return "$" in text or "`" in text


def normal_reference(text: str) -> str:
    """${X} and $X written either way compare equal."""
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", r"$\1", text)
