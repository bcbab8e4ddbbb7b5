"""The bridge between the engine's `DiagnosisRun` and the app: messages and the work queue.

The engine runs in one thread worker at a time (the `engine` group): everything that touches the
model — measuring your setup, a check, the conclusions — is an item in a `SessionRun` queue that
the worker drains in order. So the engine never runs two things at once, and the UI thread only
ever reads values the worker sent it in messages.

`AppEvents` implements the engine's events protocol by posting these messages (thread-safe;
a flood of progress collapses into the latest one). The check travels in every message as a
field; the `c` key calls `SessionRun.cancel()`, which stops the engine between two batches with
every finished batch cached.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from textual.message import Message

from scoregap.engine.checks_api import CheckResult, Finding
from scoregap.engine.events import NullEvents, ProgressInfo, Step, Summary
from scoregap.engine.run import DiagnosisRun
from scoregap.engine.session import Session

CONCLUDE = "__conclude__"


# -- messages (small dataclasses; posted from the worker thread) --------------------------------


@dataclass
class ProgressUpdate(Message):
    info: ProgressInfo

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ProgressUpdate)


@dataclass
class StepStarted(Message):
    step: Step


@dataclass
class Scored(Message):
    """Your setup's score exists; the noise floor is still being measured."""

    yours: float
    n: int


@dataclass
class Measured(Message):
    """Your setup is measured: the numbers the checklist's header shows."""

    summary: Summary


@dataclass
class CheckStarted(Message):
    check: str


@dataclass
class VariantDone(Message):
    check: str
    finding: Finding


@dataclass
class CheckFinished(Message):
    result: CheckResult
    findings: dict[str, list[Finding]]     # every check's findings, significance updated (Holm)
    summary: Summary


@dataclass
class WorkFailed(Message):
    """Something could not run: the model did not load, a check raised. `check` is '' for measuring."""

    check: str
    title: str
    text: str


@dataclass
class RunCancelled(Message):
    check: str            # '' when measuring was cancelled


@dataclass
class Concluded(Message):
    report: dict[str, Any]                 # engine.reports.report_model(...)


@dataclass
class RunIdle(Message):
    """The queue is empty: nothing runs."""


class AppEvents(NullEvents):
    """The engine's events, as messages to the app."""

    def __init__(self, post: Callable[[Message], Any]) -> None:
        self.post = post

    def progress(self, info: ProgressInfo) -> None:
        self.post(ProgressUpdate(info))

    def step(self, step: Step) -> None:
        self.post(StepStarted(step))

    def scored(self, yours: float, reported: float, n: int) -> None:
        self.post(Scored(yours, n))

    def measured(self, summary: Summary) -> None:
        self.post(Measured(summary))

    def check_started(self, check: str) -> None:
        self.post(CheckStarted(check))

    def variant_done(self, check: str, finding: Finding) -> None:
        self.post(VariantDone(check, finding))

    def check_finished(self, result: CheckResult, findings: dict[str, list[Finding]], summary: Summary) -> None:
        self.post(CheckFinished(result, findings, summary))

    def error(self, check: str, message: str) -> None:
        self.post(WorkFailed(check, f"The {check} check failed", message))

    def concluded(self, report: dict[str, Any]) -> None:
        self.post(Concluded(report))


@dataclass
class SessionRun:
    """One open session: the engine's run (once opened), the work queue and the cancel flag."""

    session: Session
    limit: int
    diagnosis: DiagnosisRun | None = None
    fingerprint: str = ""                  # the session file's hash when it was opened (tui/state.py)
    queue: deque[str] = field(default_factory=deque)
    cancelled: threading.Event = field(default_factory=threading.Event)
    running: str = ""                      # the item being worked on ('' idle; 'measure' first)
    finished: list[str] = field(default_factory=list)   # check ids done or skipped, for resume
    batch: list[str] = field(default_factory=list)      # checks taken from the queue since it was last empty
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: str) -> bool:
        """Queue a check (or CONCLUDE); False if it is already queued or running."""
        with self.lock:
            if item in self.queue or item == self.running:
                return False
            self.queue.append(item)
            return True

    def next(self) -> str | None:
        with self.lock:
            self.running = self.queue.popleft() if self.queue else ""
            if not self.running:
                self.batch = []
            elif self.running != CONCLUDE:
                self.batch.append(self.running)
            return self.running or None

    def planned(self) -> list[str]:
        """The checks of this run of the queue, in order: those done, the one running, those
        waiting ("check 3/5" and the time left in all five)."""
        with self.lock:
            return self.batch + [c for c in self.queue if c != CONCLUDE and c not in self.batch]

    def clear(self) -> list[str]:
        with self.lock:
            dropped = list(self.queue)
            self.queue.clear()
            self.batch = []
            return dropped

    def cancel(self) -> list[str]:
        """Stop the work in flight after its batch and drop the queue; the dropped items."""
        self.cancelled.set()
        if self.diagnosis is not None:
            self.diagnosis.cancel()
        return self.clear()

    def set_known(self, known: dict[str, Any]) -> None:
        from dataclasses import replace

        self.session = replace(self.session, known=known)
        if self.diagnosis is not None:
            self.diagnosis.set_known(known)

    @property
    def busy(self) -> bool:
        return bool(self.running or self.queue)
