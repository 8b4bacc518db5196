"""What one policy tool reported: its failures as Findings, and the checks that passed or were suppressed."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitops_harness.exports import CheckPass, RuleHelp, ToolInfo
from gitops_harness.findings import Finding, Severity


@dataclass
class ToolOutcome:
    tool: str  # checkov, cfn-lint, gitops-harness (our own suppression rule)
    findings: list[Finding] = field(default_factory=list)
    passes: list[CheckPass] = field(default_factory=list)  # suppressed ones carry suppressed_because
    rules: dict[str, RuleHelp] = field(default_factory=dict)
    version: str = "unknown"
    information_uri: str = ""

    def info(self) -> ToolInfo:
        return ToolInfo(self.tool, self.version, self.information_uri, self.rules)

    @property
    def failed(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.WARNING)

    @property
    def suppressed(self) -> int:
        return sum(1 for p in self.passes if p.suppressed_because is not None)

    @property
    def passed(self) -> int:
        return len(self.passes) - self.suppressed


def resource_location(logical_id: str, start: int | None, end: int | None = None) -> str:
    """The Finding.location convention for template resources, read back by exports.line_range."""
    if start is None:
        return logical_id
    if end is None or end == start:
        return f"{logical_id} (line {start})"
    return f"{logical_id} (lines {start}-{end})"
