"""Which files the policy gate checks: the CloudFormation templates named on the command line or
found in the directories named there.

A template that cannot be parsed is not a reason to stop: it becomes a finding (file:line) and the
others are still checked. Only a path that does not exist, or holds nothing that could be a template,
is unreadable input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from gitops_harness.cfn_template import TemplateError, load_template, precheck
from gitops_harness.errors import InputError

TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".template")
# A top-level key only templates have, YAML (at column 0, line 1 included) or JSON.
_TEMPLATE_MARK = re.compile(
    rb'(?m)^(?:Resources|AWSTemplateFormatVersion)\s*:|"(?:Resources|AWSTemplateFormatVersion)"\s*:'
)


@dataclass
class TemplateSet:
    templates: list[Path] = field(default_factory=list)  # parsed: the tools check these
    broken: list[TemplateError] = field(default_factory=list)  # could be templates, cannot be parsed
    skipped: list[Path] = field(default_factory=list)  # in a named folder, not templates

    @property
    def checked(self) -> list[Path]:
        return sorted({*self.templates, *(b.path for b in self.broken)})


def discover_templates(paths: list[str], *, parse: bool = True) -> TemplateSet:
    """Templates under the given files/directories, each checked once (broken ones collected, not
    raised). With parse=False only the checks that need no cfn-lint run (`finish_parsing` does the rest)."""
    found = TemplateSet()
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            candidates = [path]  # named on purpose: a template, or a finding saying why not
        elif path.is_dir():
            candidates = []
            for candidate in sorted(p for p in path.rglob("*") if p.is_file()):
                if candidate.suffix in TEMPLATE_SUFFIXES and _looks_like_template(candidate):
                    candidates.append(candidate)
                elif candidate.suffix in TEMPLATE_SUFFIXES:
                    found.skipped.append(candidate)  # parameter files and other YAML next to templates
        else:
            raise InputError(f"{raw}: no such file or directory")
        for candidate in candidates:
            try:
                precheck(candidate)
            except TemplateError as broken:
                found.broken.append(broken)
            else:
                found.templates.append(candidate)
    found.templates = sorted(set(found.templates))
    found.skipped = sorted(set(found.skipped))
    if not found.templates and not found.broken:
        skipped = f" (skipped, not templates: {', '.join(map(str, found.skipped))})" if found.skipped else ""
        raise InputError(
            f"{', '.join(paths)}: no CloudFormation templates found (files with a Resources section){skipped}"
        )
    return finish_parsing(found) if parse else _sorted(found)


def finish_parsing(found: TemplateSet) -> TemplateSet:
    """Parse the templates that passed the prechecks; the ones that fail move to `broken`."""
    parsed = TemplateSet(skipped=found.skipped, broken=list(found.broken))
    for template in found.templates:
        try:
            load_template(template)
        except TemplateError as broken:
            parsed.broken.append(broken)
        else:
            parsed.templates.append(template)
    return _sorted(parsed)


def _sorted(found: TemplateSet) -> TemplateSet:
    found.broken = sorted({str(b.path): b for b in found.broken}.values(), key=lambda b: str(b.path))
    return found


def _looks_like_template(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(2 * 1024 * 1024)  # enough to find the mark; an oversized file is judged later
    except OSError:
        return True  # load_template reports why it cannot be read
    return _TEMPLATE_MARK.search(head) is not None
