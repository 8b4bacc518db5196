"""`.dockerignore` matching with the rules of moby/patternmatcher.

Patterns are cleaned paths relative to the context root (a leading `/` is dropped); `*` and `?` do not
cross `/`, `**` crosses any number of directories, `!pattern` re-includes, the last matching pattern wins,
and a pattern that matches a directory also excludes everything below it.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class _Pattern:
    text: str
    exclusion: bool  # a `!pattern`: matching paths are kept
    regex: re.Pattern[str]
    depth: int  # number of path components, for the parent-directory rule


class IgnoreMatcher:
    def __init__(self, patterns: list[str]) -> None:
        self._patterns = [_compile(p) for p in patterns]
        self.has_exclusions = any(p.exclusion for p in self._patterns)

    @classmethod
    def from_context(cls, context: Path) -> IgnoreMatcher:
        path = context / ".dockerignore"
        if not path.is_file():
            return cls([])
        return cls(read_patterns(path.read_text(encoding="utf-8")))

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def ignored(self, relpath: str) -> bool:
        """Whether a context path (posix, relative to the root) is left out of the build context."""
        parts = relpath.split("/")
        result = False
        for pattern in self._patterns:
            matched = bool(pattern.regex.match(relpath))
            if not matched and pattern.depth < len(parts):
                # A pattern naming a directory also covers what is inside it.
                matched = bool(pattern.regex.match("/".join(parts[: pattern.depth])))
            if matched:
                result = not pattern.exclusion
        return result


def read_patterns(text: str) -> list[str]:
    patterns: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        line = posixpath.normpath(line)
        if len(line) > 1 and line.startswith("/"):
            line = line.lstrip("/")
        patterns.append(("!" if exclusion else "") + line)
    return patterns


def _compile(pattern: str) -> _Pattern:
    exclusion = pattern.startswith("!")
    text = pattern[1:] if exclusion else pattern
    return _Pattern(text, exclusion, re.compile(_translate(text)), len(text.split("/")))


def _translate(pattern: str) -> str:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if pattern.startswith("**", i):
                i += 2
                if i < n and pattern[i] == "/":
                    out.append("(?:.*/)?")  # `**/` also matches zero directories
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("^"):
                    body = "!" + body[1:]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return "".join(out)
