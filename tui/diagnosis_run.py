"""The bridge between the engine's diagnosis and the app: messages, progress and the work queue.

The engine runs in one thread worker at a time (the `engine` group): everything that touches the
model — measuring your setup, a check, the conclusions — is an item in a `SessionRun` queue that the
worker drains in order. So the engine never runs two things at once, and the UI thread only ever
reads values the worker sent it in messages (never the diagnosis itself while it changes).

`AppProgress` implements the engine's `Progress` protocol by posting `ProgressUpdate` messages
(thread-safe; a flood collapses into the latest one) and answers `cancelled()` from a flag the
`c` key sets, so a cancelled check stops between batches with every finished batch cached.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from textual.message import Message

from scoregap.engine.checks_api import CheckResult, Finding
from scoregap.engine.diagnosis import Diagnosis, is_cause
from scoregap.engine.session import Session

CONCLUDE = "__conclude__"


# -- messages (small dataclasses; posted from the worker thread) --------------------------------


@dataclass
class ProgressUpdate(Message):
    stage: str            # what is running: "measuring your setup", "template: chat template off"
    label: str            # the engine's label for the batch of requests
    done: int
    total: int
    elapsed: float        # seconds since this batch of requests started
    finished: bool = False

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ProgressUpdate)

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float:
        return (self.total - self.done) / self.rate if self.rate > 0 else 0.0


@dataclass
class Measured(Message):
    """Your setup is measured: the numbers the checklist's header shows."""

    summary: "Summary"
    model_directory: str


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
    summary: "Summary"


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


# -- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """The header of the checklist, as plain numbers (fractions)."""

    yours: float
    stated: float | None
    reported: float
    reported_source: str
    gap: float
    noise: float
    verdict: str                          # "gap" | "within_noise"
    n: int
    top: str = ""                         # the best-explaining cause so far, readable

    @classmethod
    def of(cls, d: Diagnosis) -> "Summary":
        top = ""
        for f in d.ranking:
            if is_cause(f):
                top = f"{f.variant.check}: {f.variant.name} ({100 * f.delta:+.1f})"
                break
        assert d.yours is not None and d.noise is not None
        return cls(d.yours_score, d.session.yours_score, d.session.reported_score, d.session.reported_source,
                   d.gap, d.noise.half_width, d.verdict, d.yours.result.n, top)


class AppProgress:
    """The engine's `Progress`, as messages to the app."""

    def __init__(self, post: Callable[[Message], Any], cancel: threading.Event, interval: float = 0.1) -> None:
        self.post = post
        self.cancel = cancel
        self.interval = interval
        self.stage = ""
        self.label, self.done, self.total = "", 0, 0
        self.began = self.sent = 0.0

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.began = time.perf_counter()
        self._send(force=True)

    def advance(self, n: int) -> None:
        self.done += n
        self._send()

    def finish(self) -> None:
        self._send(force=True, finished=True)

    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def _send(self, force: bool = False, finished: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.sent < self.interval:
            return
        self.sent = now
        self.post(ProgressUpdate(self.stage, self.label, self.done, self.total, now - self.began, finished))


@dataclass
class SessionRun:
    """One open session: the diagnosis (once measured), the work queue and the cancel flag."""

    session: Session
    limit: int
    diagnosis: Diagnosis | None = None
    model_directory: str = ""
    queue: deque[str] = field(default_factory=deque)
    cancel: threading.Event = field(default_factory=threading.Event)
    running: str = ""                      # the item being worked on ('' idle; 'measure' first)
    finished: list[str] = field(default_factory=list)   # check ids done or skipped, for resume
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
            return self.running or None

    def clear(self) -> list[str]:
        with self.lock:
            dropped = list(self.queue)
            self.queue.clear()
            return dropped

    @property
    def busy(self) -> bool:
        return bool(self.running or self.queue)
