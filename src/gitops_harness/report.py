"""What `gitops-harness run` prints: one verdict per assertion, read in one glance, with where to
look when something failed. Later stages add the pipeline run's timeline to the same report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Verdict:
    area: str  # "policy", "artifacts", "mirror", "approval", ...
    assertion: str  # what must hold, phrased as a claim
    passed: bool
    detail: str = ""  # the numbers behind the verdict, or the first reason it failed
    where_to_look: str = ""  # a file, a report, a console link: the next place a person opens
    skipped: bool = False  # the target cannot check it (detail says why): neither passed nor failed


@dataclass(frozen=True)
class TimelineEntry:
    stage: str
    action: str
    status: str
    start: datetime | None
    end: datetime | None


@dataclass
class RunReport:
    title: str
    verdicts: list[Verdict] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # what was not checked and why, when it is no verdict

    @property
    def passed(self) -> bool:
        checked = [v for v in self.verdicts if not v.skipped]
        return bool(checked) and all(v.passed for v in checked)

    def summary(self) -> str:
        """What `run --quiet` prints: one line per failed verdict (where to look), then the outcome line."""
        lines = []
        for v in self.verdicts:
            if not v.passed and not v.skipped:
                look = f"; look at: {v.where_to_look}" if v.where_to_look else ""
                lines.append(f"FAIL  {v.area}  {v.assertion}{look}")
        return "\n".join([*lines, self._outcome()])

    def _outcome(self) -> str:
        skipped = sum(v.skipped for v in self.verdicts)
        failed = sum(not v.passed and not v.skipped for v in self.verdicts)
        passed = len(self.verdicts) - failed - skipped
        outcome = "PASSED" if self.passed else "FAILED"
        return f"{outcome}: {passed} passed, {failed} failed, {skipped} skipped in {self.seconds:.1f}s"

    def render(self) -> str:
        lines = [self.title, "=" * len(self.title)]
        if self.timeline:
            lines += ["", "Timeline"]
            for t in self.timeline:
                start = t.start.strftime("%H:%M:%S") if t.start else "-"
                took = f"{(t.end - t.start).total_seconds():.1f}s" if t.start and t.end else "-"
                lines.append(f"  {start}  {t.stage:<10} {t.action:<24} {t.status:<11} {took}")
        width = max((len(v.area) for v in self.verdicts), default=0)
        lines += ["", "Verdicts"]
        for v in self.verdicts:
            mark = "SKIP" if v.skipped else "PASS" if v.passed else "FAIL"
            detail = f"  ({v.detail})" if v.detail else ""
            lines.append(f"  {mark}  {v.area:<{width}}  {v.assertion}{detail}")
            if not v.passed and v.where_to_look:
                lines.append(f"        {'':<{width}}  look at: {v.where_to_look}")
        if self.notes:
            lines += ["", "Notes", *(f"  - {note}" for note in self.notes)]
        lines += ["", self._outcome()]
        return "\n".join(lines)
