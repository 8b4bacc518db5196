"""The one error type the stand-in raises: a message printed on one line, like docker's, and an exit code."""

from __future__ import annotations

# docker's own codes: 1 for a failed command, 125 for bad flags/usage (the docker CLI's cobra convention).
EXIT_FAILED = 1
EXIT_USAGE = 125


class DockerError(Exception):
    """A failure reported to the build as docker would: one line on stderr, non-zero exit, no traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class BuildError(DockerError):
    """A failed `docker build`; BuildKit prefixes these with `ERROR: failed to solve:`."""

    def __init__(self, message: str) -> None:
        super().__init__(f"ERROR: failed to solve: {message}")


class DockerfileParseError(BuildError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"dockerfile parse error on line {line}: {message}")
        self.line = line
