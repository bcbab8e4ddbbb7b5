"""Plain-terminal output for the headless commands: progress on stderr, one line per check.

`StderrProgress` draws one evaluation's progress (`scoregap eval`); `ConsoleEvents` follows a
whole diagnosis through the engine's events protocol (`scoregap diagnose`).

A failed check (or a repeat that cannot run) normally lets the others go on. But when the result
cache could not be used (a full disk, a damaged file), every later check would fail the same way,
a noise floor could miss a repeat, and the report would read "no check explained the gap":
`ConsoleEvents(fatal=...)` stops the diagnosis at the next event instead, so the command line
prints that one problem and exits 2.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from scoregap.engine.checks_api import CheckResult, Finding
from scoregap.engine.events import (
    CONCLUDING,
    MEASURING,
    NullEvents,
    ProgressInfo,
    Step,
    Summary,
)


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def progress_line(label: str, done: int, total: int, elapsed: float, width: int = 24) -> str:
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 else 0.0
    filled = int(width * done / total) if total else width
    bar = "#" * filled + "-" * (width - filled)
    return f"{label} [{bar}] {done}/{total}  {rate:.1f} req/s  elapsed {_clock(elapsed)}  ETA {_clock(eta)}"


class StderrProgress:
    """done/total, rate and ETA, redrawn in place at most ten times a second."""

    def __init__(self, stream: TextIO | None = None, width: int = 24) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.label, self.total, self.done = "", 0, 0
        self.began = self.drawn = 0.0
        self.interactive = self.stream.isatty()

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.began = time.perf_counter()
        self.drawn = 0.0
        self._draw(force=True)

    def advance(self, n: int) -> None:
        self.done += n
        self._draw()

    def finish(self) -> None:
        self._draw(force=True)
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def cancelled(self) -> bool:
        return False

    def line(self) -> str:
        return progress_line(self.label, self.done, self.total, time.perf_counter() - self.began, self.width)

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.drawn < (0.1 if self.interactive else 5.0):
            return
        self.drawn = now
        self.stream.write(("\r" if self.interactive else "") + self.line() + ("" if self.interactive else "\n"))
        self.stream.flush()


def step_label(step: Step) -> str:
    phase = {MEASURING: "measuring", CONCLUDING: "ranking"}.get(step.check, step.check)
    return f"{phase} {step.index}/{step.total}: {step.name}"


class ConsoleEvents(NullEvents):
    """A diagnosis on stderr: a progress line per step (unless quiet), a line per check.

    `fatal`, if given, is asked after measuring and after every check: an exception it returns
    (the result cache's `failure`) is raised there, which stops the whole diagnosis."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None,
                 fatal: Callable[[], BaseException | None] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.bar = None if quiet else StderrProgress(self.stream)
        self.fatal = fatal

    def _stop_if_fatal(self) -> None:
        problem = self.fatal() if self.fatal else None
        if problem is not None:
            raise problem

    def error(self, check: str, message: str) -> None:
        self._stop_if_fatal()

    def progress(self, info: ProgressInfo) -> None:
        if self.bar is None:
            return
        if info.done == 0 and not info.finished:
            self.bar.start(f"{step_label(info.step)} ({info.label})", info.total)
        elif info.finished:
            self.bar.done = info.done
            self.bar.finish()
        else:
            self.bar.advance(info.done - self.bar.done)

    def scored(self, yours: float, reported: float, n: int) -> None:
        print(f"  your score {100 * yours:.1f} (n={n}), reported {100 * reported:.1f}, gap "
              f"{100 * (reported - yours):+.1f}; measuring the noise floor next", file=self.stream)

    def measured(self, summary: Summary) -> None:
        self._stop_if_fatal()
        print(f"  your score {100 * summary.yours:.1f} (n={summary.n}), reported {100 * summary.reported:.1f}, "
              f"gap {100 * summary.gap:+.1f}, noise floor ±{100 * summary.noise:.1f}", file=self.stream)

    def check_finished(self, result: CheckResult, findings: dict[str, list[Finding]], summary: Summary) -> None:
        best = result.best
        effect = f"best: {best.variant.name} ({100 * best.delta:+.1f} points)" if best else result.message[:80]
        print(f"  {result.check:14} {result.status:8} {result.calls:6} calls  {effect}", file=self.stream)
        self._stop_if_fatal()

    def concluded(self, report: dict[str, Any]) -> None:
        self._stop_if_fatal()
