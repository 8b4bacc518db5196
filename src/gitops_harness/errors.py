"""Errors a person can act on, and the exit codes every command documents.

Exit codes (README "Exit codes"):
  0  everything checked passed
  1  checks ran and found errors (or failed assertions)
  2  the input could not be read: missing file, broken JSON/YAML, bad config, bad usage
  3  a tool the command needs could not be set up or run (checkov install, emulator start)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2
EXIT_TOOL_FAILURE = 3


class HarnessError(Exception):
    """Base class: the message is one line a person can act on; no traceback is shown."""

    exit_code = EXIT_TOOL_FAILURE


class InputError(HarnessError):
    """The input (a file, the config, an argument) is missing or cannot be parsed."""

    exit_code = EXIT_BAD_INPUT


class ToolError(HarnessError):
    """An external tool (checkov, cfn-lint, the emulator) could not be set up or run."""

    exit_code = EXIT_TOOL_FAILURE
