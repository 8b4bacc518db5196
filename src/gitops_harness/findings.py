"""One shape for everything a check reports, whoever ran the check (artifact rules, cfn-lint, checkov)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"  # the deployment would fail, deploy the wrong thing, or break policy
    WARNING = "warning"  # best practice; fails only under --strict


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    location: str  # JSON path ("containerDefinitions[0].image"), "line 12", or a resource logical id
    rule_id: str
    severity: Severity
    message: str
    source: str = "gitops-harness"  # which tool produced it: gitops-harness, cfn-lint, checkov

    def to_dict(self) -> dict:
        d = asdict(self)
        d["severity"] = self.severity.value
        return d

    def one_line(self) -> str:
        return f"{self.file}:{self.location}: {self.severity.value} {self.rule_id}: {self.message}"


def count(findings: Iterable[Finding], severity: Severity) -> int:
    return sum(1 for f in findings if f.severity is severity)


def render_text(findings: list[Finding]) -> str:
    lines = [f.one_line() for f in sorted(findings)]
    errors, warnings = count(findings, Severity.ERROR), count(findings, Severity.WARNING)
    lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)


def render_json(findings: list[Finding]) -> str:
    return json.dumps(
        {
            "findings": [f.to_dict() for f in sorted(findings)],
            "errors": count(findings, Severity.ERROR),
            "warnings": count(findings, Severity.WARNING),
        },
        indent=2,
    )
