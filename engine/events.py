"""What a diagnosis tells its front end while it runs: the events protocol.

Beside `Progress` (how far a batch of requests got), a running diagnosis reports what it is doing
and what it found, in this order: `measured` (your score and the noise floor), then per check
`check_started`, a `step` and a `variant_done` per variant, `check_finished` (with every check's
findings, significance updated across checks); `concluded` (the report model); `error` when a
check could not run. `progress` carries the request-level progress of the current step. The
headless command line prints them, the app posts them as messages, tests record them.

The check travels as a field (`Step.check`, `check_finished(result)`): nothing is parsed back out
of a display string. `Step.check` is '' while your setup and the noise floor are measured, and
`CONCLUDING` while the fixes are applied together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from scoregap.engine.checks_api import CheckResult, Finding

MEASURING = ""
CONCLUDING = "conclude"


@dataclass(frozen=True)
class Step:
    """One evaluation within a phase: your setup, a repeat, a variant, the fixes together."""

    check: str          # a check id, MEASURING or CONCLUDING
    name: str           # "your setup", "few-shot seed 1235", "labels (a)"
    index: int          # 1-based position among the phase's steps
    total: int          # steps in the phase (known in advance; later rounds add more)


@dataclass(frozen=True)
class ProgressInfo:
    step: Step
    label: str          # the engine's label for the batch of requests ("census_mc: 240 docs")
    done: int
    total: int
    elapsed: float      # seconds since this batch of requests started
    finished: bool = False

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float:
        return (self.total - self.done) / self.rate if self.rate > 0 else 0.0


@dataclass(frozen=True)
class Summary:
    """The headline numbers (fractions), as a front end shows them above everything else."""

    yours: float
    stated: float | None                 # your score as the session states it, if it does
    reported: float
    reported_source: str
    gap: float
    noise: float
    noise_basis: str
    verdict: str                         # "gap" | "within_noise"
    n: int
    top: str = ""                        # the best-explaining cause so far, readable
    outputs: str = ""                    # what your outputs show (stops, truncation, doubled BOS)
    untested: dict[str, str] = field(default_factory=dict)   # stated fact -> why it cannot be tested
    runs: tuple[str, ...] = ()           # what the session's runs show (report_formats.runs_lines)
    noise_measured: bool = True          # False: no repeat moved a doc, the floor is one doc's resolution


class Events(Protocol):
    def scored(self, yours: float, reported: float, n: int) -> None:
        """Your setup's score exists; the noise floor is measured next (`measured` follows)."""

    def measured(self, summary: Summary) -> None: ...

    def check_started(self, check: str) -> None: ...

    def step(self, step: Step) -> None: ...

    def variant_done(self, check: str, finding: Finding) -> None: ...

    def check_finished(self, result: CheckResult, findings: dict[str, list[Finding]], summary: Summary) -> None: ...

    def concluded(self, report: dict[str, Any]) -> None: ...

    def error(self, check: str, message: str) -> None: ...

    def progress(self, info: ProgressInfo) -> None: ...


class NullEvents:
    """Hears everything, says nothing: subclass it and override what you show."""

    def scored(self, yours: float, reported: float, n: int) -> None:
        pass

    def measured(self, summary: Summary) -> None:
        pass

    def check_started(self, check: str) -> None:
        pass

    def step(self, step: Step) -> None:
        pass

    def variant_done(self, check: str, finding: Finding) -> None:
        pass

    def check_finished(self, result: CheckResult, findings: dict[str, list[Finding]], summary: Summary) -> None:
        pass

    def concluded(self, report: dict[str, Any]) -> None:
        pass

    def error(self, check: str, message: str) -> None:
        pass

    def progress(self, info: ProgressInfo) -> None:
        pass
