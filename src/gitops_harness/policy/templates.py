"""Which files the policy gate checks: the CloudFormation templates named on the command line or
found in the directories named there."""

from __future__ import annotations

from pathlib import Path

from gitops_harness.cfn_template import load_template
from gitops_harness.errors import InputError

TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".template")


def discover_templates(paths: list[str]) -> list[Path]:
    """Templates under the given files/directories, each parsed once so a broken one stops us early."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            candidates = [path]
        elif path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TEMPLATE_SUFFIXES)
        else:
            raise InputError(f"{raw}: no such file or directory")
        for candidate in candidates:
            if path.is_dir() and not _looks_like_template(candidate):
                continue  # parameter files and other YAML next to the templates
            load_template(candidate)  # InputError with file:line when broken
            found.append(candidate)
    if not found:
        raise InputError(
            f"{', '.join(paths)}: no CloudFormation templates found (files with a Resources section)"
        )
    return sorted(set(found))


def _looks_like_template(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    return "Resources" in head and (
        "AWSTemplateFormatVersion" in head or "\nResources:" in head or '"Resources"' in head
    )
