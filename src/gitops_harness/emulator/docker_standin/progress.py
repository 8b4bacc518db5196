"""BuildKit's `--progress=plain` output: numbered vertices, their log lines, DONE with elapsed seconds."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TextIO


class PlainProgress:
    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream  # None: quiet (`docker build -q`)
        self._counter = 0
        if stream is not None:
            stream.write('#0 building with "default" instance using gitops-harness stand-in driver\n\n')

    @contextlib.contextmanager
    def vertex(self, name: str) -> Iterator[_Vertex]:
        self._counter += 1
        vertex = _Vertex(self._counter, self._stream)
        vertex.emit(name)
        started = time.monotonic()
        yield vertex
        vertex.emit(f"DONE {time.monotonic() - started:.1f}s")
        if self._stream is not None:
            self._stream.write("\n")
            self._stream.flush()

    def warn(self, message: str) -> None:
        if self._stream is not None:
            self._stream.write(f"{message}\n")


class _Vertex:
    def __init__(self, number: int, stream: TextIO | None) -> None:
        self.number = number
        self._stream = stream

    def emit(self, text: str) -> None:
        if self._stream is not None:
            self._stream.write(f"#{self.number} {text}\n")


def human_bytes(size: int) -> str:
    """Sizes as docker prints them (decimal units, 3 significant digits)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.3g}{unit}"
        value /= 1000
    return f"{size}B"
