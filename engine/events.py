"""What a diagnosis tells its front end while it runs: the events protocol.

Beside `Progress` (how far a batch of requests got), a running diagnosis reports what it is doing
and what it found, in this order: `measured` (your score and the noise floor), then per check
`check_started`, a `step` and a `variant_done` per variant, `check_finished` (with every check's
findings, significance updated across checks); `concluded` (the report model); `error` when a
check could not run. `progress` carries the request-level progress of the current step. The
headless command line prints them, the app posts them as messages, tests record them.

The check travels as a field (`Step.check`, `check_finished(result)`): nothing is parsed back out
of a display string. `Step.check` is `OPENING` while the model's files are fingerprinted (once per
cache: later openings read the digests back), '' while your setup and the noise floor are
measured, and `CONCLUDING` while the fixes are applied together.

Every `ProgressInfo` says what the engine is doing (`stage`: reading the cache, loading the model,
computing) and carries an `Outlook`: the check's place in the run, how far the phase is (never
going back, unlike one batch's done/total), and the time left in the phase and in the whole run,
estimated from the pace so far (engine/pace.py). A step the cache answers whole computes nothing,
yet still sends one `ProgressInfo` (stage `READING_CACHE`), so a front end always shows what runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from scoregap.engine.checks_api import CheckResult, Finding

OPENING = "open"
MEASURING = ""
CONCLUDING = "conclude"

FINGERPRINTING = "fingerprinting the model's files"
READING_CACHE = "reading the cache"      # a step starts: its prompts are planned, the cache answers what it can
LOADING_TOKENIZER = "loading the tokenizer"   # the first step: it imports the backend's libraries
COMPUTING = "computing"                  # the model answers what the cache lacks (done/total counts these)


LOADING_PREFIX = "loading the "


def loading_model(backend: str) -> str:
    return f"{LOADING_PREFIX}model ({backend})"


def is_loading(stage: str) -> bool:
    """Whether the engine is loading something (a wait that says nothing of the run's pace)."""
    return stage == FINGERPRINTING or stage.startswith(LOADING_PREFIX)


@dataclass(frozen=True)
class Step:
    """One evaluation within a phase: your setup, a repeat, a variant, the fixes together."""

    check: str          # a check id, MEASURING or CONCLUDING
    name: str           # "your setup", "few-shot seed 1235", "labels (a)"
    index: int          # 1-based position among the phase's steps
    total: int          # steps in the phase (known in advance; later rounds add more)
    part: str = ""      # while measuring, which part: "your setup", "seed repeats", "batch-size repeat"


@dataclass(frozen=True)
class Outlook:
    """Where the run stands and what is left of it, from the pace so far (engine/pace.py)."""

    check: int = 0                   # the check's place among the checks the run was asked for (0: none)
    checks: int = 0                  # how many checks the run was asked for
    fraction: float = 0.0            # how far the phase (measuring, one check) is, 0 to 1; never goes back
    phase_eta: float | None = None   # seconds left in the phase; None until there is a pace to go by
    run_eta: float | None = None     # seconds left until every check asked for is done; None: not known


@dataclass(frozen=True)
class ProgressInfo:
    step: Step
    label: str          # the engine's label for the batch of requests ("census_mc: 240 docs")
    done: int
    total: int
    elapsed: float      # seconds since this batch of requests started
    finished: bool = False
    stage: str = COMPUTING               # FINGERPRINTING, READING_CACHE, LOADING_TOKENIZER, loading_model(...), COMPUTING
    outlook: Outlook = field(default_factory=Outlook)

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
