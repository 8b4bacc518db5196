"""`gitops-harness validate-artifacts DIR [--template T] [--strict] [--format text|json]`."""

from __future__ import annotations

import argparse

from gitops_harness.artifacts.validate import validate_directory
from gitops_harness.errors import EXIT_FINDINGS, EXIT_OK
from gitops_harness.findings import Severity, count, render_json, render_text


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate-artifacts",
        help="check taskdef.json, appspec and imageDetail.json (optionally against the pipeline template)",
        description="Validate the files a CodeDeployToECS action reads. Exit 0: no errors; 1: errors (or "
        "warnings with --strict); 2: unreadable input. Rules: docs/artifact-rules.md.",
    )
    parser.add_argument(
        "directory", metavar="DIR", help="source or build-output directory with the artifacts"
    )
    parser.add_argument(
        "--template", metavar="T", help="pipeline CloudFormation template to cross-check against"
    )
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    findings = validate_directory(args.directory, args.template)
    print(render_json(findings) if args.format == "json" else render_text(findings))
    failing = count(findings, Severity.ERROR) + (count(findings, Severity.WARNING) if args.strict else 0)
    return EXIT_FINDINGS if failing else EXIT_OK
