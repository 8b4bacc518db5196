"""The `gitops-harness` command. Each subcommand lives with the code it drives and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys

from gitops_harness import __version__
from gitops_harness.errors import HarnessError

# Modules that expose register(subparsers) -> None and set `func(args) -> int` on their parser.
COMMAND_MODULES = (
    "gitops_harness.run",
    "gitops_harness.artifacts.command",
    "gitops_harness.policy.command",
    "gitops_harness.emulator.command",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gitops-harness",
        description="Test and police a GitOps pipeline for Amazon ECS (GitLab -> CodeCommit -> "
        "CodePipeline -> CodeDeploy blue/green).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
