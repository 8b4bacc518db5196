"""The `gitops-harness` command. Each subcommand lives with the code it drives and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from gitops_harness import __version__
from gitops_harness.errors import HarnessError

# Modules that expose register(subparsers) -> None and set `func(args) -> int` on their parser.
COMMAND_MODULES = (
    "gitops_harness.run",
    "gitops_harness.artifacts.command",
    "gitops_harness.policy.command",
    "gitops_harness.emulator.command",
    "gitops_harness.sweep",
)
# The module of each command: only the command being run is imported (the others pull in botocore
# models, cfn-lint and checkov's helpers, about a second that `gitops-harness emulator` should not pay).
MODULE_OF_COMMAND = {
    "run": "gitops_harness.run",
    "validate-artifacts": "gitops_harness.artifacts.command",
    "policy": "gitops_harness.policy.command",
    "emulator": "gitops_harness.emulator.command",
    "sweep": "gitops_harness.sweep",
}


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors as one line (exit 2), like every other error: the usage text is one --help away."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="gitops-harness",
        description="Test and police a GitOps pipeline for Amazon ECS (GitLab -> CodeCommit -> "
        "CodePipeline -> CodeDeploy blue/green).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    chosen = MODULE_OF_COMMAND.get(argv[0]) if argv else None
    for name in [chosen] if chosen in COMMAND_MODULES else COMMAND_MODULES:  # all of them for --help
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except HarnessError as exc:
        print(f"gitops-harness {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"gitops-harness {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
