"""`gitops-harness validate-artifacts DIR [--template T] [--build] [--strict] [--format text|json]`."""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import replace
from pathlib import Path

from gitops_harness.artifacts.validate import relevant_names, validate_directory
from gitops_harness.cfn_template import load_template
from gitops_harness.errors import EXIT_FINDINGS, EXIT_OK, InputError
from gitops_harness.exports import CheckPass, junit_xml
from gitops_harness.findings import Finding, Severity, render_json, render_text


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate-artifacts",
        help="check taskdef.json, appspec and imageDetail.json (optionally against the pipeline template)",
        description="Validate the files a CodeDeployToECS action reads and the buildspec that writes them. "
        "Exit 0: no errors; 1: errors (or warnings with --strict); 2: unreadable input; 3: --build could not "
        "start the embedded AWS or its tools. Rules: docs/artifact-rules.md.",
    )
    parser.add_argument(
        "directory", metavar="DIR", help="source or build-output directory with the artifacts"
    )
    parser.add_argument(
        "--template", metavar="T", help="pipeline CloudFormation template to cross-check against"
    )
    parser.add_argument(
        "--build",
        action="store_true",
        help="also run the buildspec on the embedded CodeBuild and validate the artifact it exports",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="--build: a variable the CodeBuild project's environment sets (repeatable)",
    )
    parser.add_argument(
        "--build-timeout", type=float, default=600.0, metavar="S", help="--build: seconds to wait (600)"
    )
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument(
        "--junit",
        type=Path,
        metavar="FILE",
        help="also write a JUnit XML report (for GitLab's artifacts:reports:junit)",
    )
    parser.set_defaults(func=run)


def _variables(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InputError(f"--env {pair}: expected NAME=VALUE")
        out[name] = value
    return out


def run(args: argparse.Namespace) -> int:
    findings = validate_directory(args.directory, args.template)
    build = None
    if args.build:
        from gitops_harness.artifacts.build_run import run_build

        build = run_build(
            args.directory,
            load_template(args.template) if args.template else None,
            template_name=str(args.template),
            env=_variables(args.env),
            timeout_s=args.build_timeout,
        )
        findings = sorted(set(findings) | set(build.findings))
    failing = [f for f in findings if f.severity is Severity.ERROR or args.strict]
    if args.junit:  # first: a report that cannot be written is the one answer, not a second one
        write_junit(args.junit, Path(args.directory), args.template, findings, strict=args.strict)
    if build is not None and args.format == "json":
        print(json.dumps({**json.loads(render_json(findings)), "build": build.to_dict()}, indent=2))
    elif build is not None:
        print(build.render_text())
        print(render_text(findings))
    else:
        print(render_json(findings) if args.format == "json" else render_text(findings))
    return EXIT_FINDINGS if failing else EXIT_OK


def _artifact_case(source: str, rule_id: str, file: str, location: str) -> tuple[str, str]:
    """One JUnit test case per artifact file, whatever rules it fails: its id never changes."""
    return source, file


def write_junit(
    path: Path, directory: Path, template: str | None, findings: list[Finding], *, strict: bool = False
) -> None:
    """One test case per artifact file: it fails with each error (and warning with --strict) in it,
    lists the other warnings, else passes."""
    names = relevant_names(load_template(template) if template else None)
    passes = [
        CheckPass(source="validate-artifacts", rule_id="artifact", file=str(directory / name), location=name)
        for name in names
        if (directory / name).is_file()
    ]
    findings = [replace(f, source="validate-artifacts") for f in findings]
    xml = junit_xml(findings, passes, case_key=_artifact_case, warnings_fail=strict)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(xml, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the JUnit report: {exc.strerror}") from None
