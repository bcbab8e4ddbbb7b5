"""Plain-terminal output for the headless commands: progress on stderr, one line per check.

`StderrProgress` draws one evaluation's progress (`scoregap eval`); `ConsoleEvents` follows a
whole diagnosis through the engine's events protocol (`scoregap diagnose`).

On a terminal, each phase (measuring, every check, the ranking) is one line redrawn in place and
cut to the terminal's width (a line longer than the terminal would wrap, and `\\r` would leave
every wrapped part behind): it names the check and the variant, how far the phase is, and the
time left (tui/progress_line.py). When stderr is not a terminal (a log file, a pipe, a batch
job), nothing is redrawn: one plain line per step, and a line every `HEARTBEAT` seconds while a
long batch computes. Everything else said (your score, each check's result) is wrapped to the
width between words.

A failed check (or a repeat that cannot run) normally lets the others go on. But when the result
cache could not be used (a full disk, a damaged file), every later check would fail the same way,
a noise floor could miss a repeat, and the report would read "no check explained the gap":
`ConsoleEvents(fatal=...)` stops the diagnosis at the next event instead, so the command line
prints that one problem and exits 2.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from scoregap.engine.checks_api import CheckResult, Finding
from scoregap.engine.events import COMPUTING, READING_CACHE, NullEvents, ProgressInfo, Step, Summary
from scoregap.engine.lmeval_export import shell_lines
from scoregap.engine.report_formats import (
    alternatives_lines,
    ci_text,
    closes_text,
    numbering,
    p_text,
    pct,
    runs_lines,
    runs_note,
    score_text,
    signed,
    unexplained_line,
    verdict_line,
)
from scoregap.tui.progress_line import SEP, clock, cut, line, times, where

HEARTBEAT = 60.0
"""Seconds between two lines of one long batch when the output is not a terminal."""

CLEAR = "\r\x1b[K"   # back to the line's start, and erase it


def terminal_width(stream: TextIO) -> int:
    """The columns of the terminal `stream` writes to (80 when it is none)."""
    return shutil.get_terminal_size((80, 24)).columns if stream.isatty() else 80


def wrap(text: str, width: int, indent: str = "  ", more: str = "    ") -> str:
    """A paragraph wrapped between words (a path or a long name is never cut inside)."""
    return "\n".join(textwrap.wrap(text, width=max(width - 1, 20), initial_indent=indent, subsequent_indent=more,
                                   break_long_words=False, break_on_hyphens=False))


class StderrProgress:
    """done/total, rate and ETA of one evaluation, redrawn in place at most ten times a second and
    cut to the terminal's width; a line every `HEARTBEAT` seconds when stderr is not a terminal."""

    def __init__(self, stream: TextIO | None = None, width: int = 24) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.label, self.total, self.done = "", 0, 0
        self.began = self.drawn = 0.0
        self.interactive = self.stream.isatty()

    def stage(self, text: str) -> None:
        self.stream.write((CLEAR if self.interactive else "") + text + ("" if self.interactive else "\n"))
        self.stream.flush()

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
        elapsed = time.perf_counter() - self.began
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = f"  ETA {clock((self.total - self.done) / rate)}" if rate > 0 and self.done < self.total else ""
        filled = int(self.width * self.done / self.total) if self.total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        numbers = f" [{bar}] {self.done}/{self.total}  {rate:.1f}/s  {clock(elapsed)}{eta}"
        room = terminal_width(self.stream) - 1 - len(numbers)
        return cut(self.label, max(room, 8)) + numbers

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.drawn < (0.1 if self.interactive else HEARTBEAT):
            return
        self.drawn = now
        self.stream.write((CLEAR if self.interactive else "") + self.line() + ("" if self.interactive else "\n"))
        self.stream.flush()


class ConsoleEvents(NullEvents):
    """A diagnosis on stderr: one live line per phase on a terminal (a line per step elsewhere)
    unless quiet, and a line for your score, the noise floor and every check.

    `fatal`, if given, is asked after measuring and after every check: an exception it returns
    (the result cache's `failure`) is raised there, which stops the whole diagnosis."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None,
                 fatal: Callable[[], BaseException | None] | None = None, width: int | None = None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live = self.stream.isatty()
        self.width = width or terminal_width(self.stream)
        self.fatal = fatal
        self.shown = False                # a live line is on screen
        self.drawn = 0.0
        self.last: tuple[Step, str] | None = None     # the step and stage last drawn or written
        self.noted = 0.0                  # when the last plain line was written

    def _stop_if_fatal(self) -> None:
        problem = self.fatal() if self.fatal else None
        if problem is not None:
            raise problem

    def say(self, text: str) -> None:
        """A paragraph above the live line (which the next progress redraws)."""
        if self.shown:
            self.stream.write(CLEAR)
            self.shown = False
        print(wrap(text, self.width), file=self.stream, flush=True)

    def error(self, check: str, message: str) -> None:
        self._stop_if_fatal()

    def progress(self, info: ProgressInfo) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        new_step = self.last is None or self.last[0] != info.step
        new_stage = new_step or self.last is None or self.last[1] != info.stage
        self.last = (info.step, info.stage)
        if self.live:
            if new_stage or info.finished or now - self.drawn >= 0.1:
                self.drawn = now
                self.stream.write(CLEAR + line(info, self.width - 1))
                self.stream.flush()
                self.shown = True
            return
        if new_step:
            ahead = times(info)
            self._write(where(info) + (SEP + ahead if ahead else ""), now)
        if new_stage and info.stage not in (READING_CACHE, COMPUTING):
            self._write(f"  {info.stage}", now)
        elif new_stage:
            self.noted = now      # a heartbeat counts from when the computing began
        elif info.stage == COMPUTING and info.total and now - self.noted >= HEARTBEAT:
            self._write(f"  {info.done}/{info.total} requests, {info.rate:.1f}/s", now)

    def _write(self, text: str, now: float) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
        self.noted = now

    def scored(self, yours: float, reported: float, n: int) -> None:
        self.say(f"your score {100 * yours:.1f} (n={n}), reported {100 * reported:.1f}, gap "
                 f"{100 * (reported - yours):+.1f}; measuring the noise floor next")

    def measured(self, summary: Summary) -> None:
        self._stop_if_fatal()
        self.say(f"your score {100 * summary.yours:.1f} (n={summary.n}), reported {100 * summary.reported:.1f}, "
                 f"gap {100 * summary.gap:+.1f}, noise floor ±{100 * summary.noise:.1f}")

    def check_finished(self, result: CheckResult, findings: dict[str, list[Finding]], summary: Summary) -> None:
        best = result.best
        repeats = [f for f in result.findings if f.variant.repeat]
        if best:
            effect = f"best: {best.variant.name} ({100 * best.delta:+.1f} points)"
        elif repeats:   # the seed check: the noise floor's yardstick, never a cause
            effect = "repeats (noise, not causes): " + ", ".join(
                f"{f.variant.name} {100 * f.delta:+.1f}" for f in repeats)
        else:
            effect = textwrap.shorten(result.message, 100, placeholder=" …")
        self.say(f"{result.check:14} {result.status:8} {result.calls:6} calls  {effect}")
        self._stop_if_fatal()

    def concluded(self, report: dict[str, Any]) -> None:
        if self.shown:
            self.stream.write(CLEAR)
            self.shown = False
        self._stop_if_fatal()


def shown_path(path: Path) -> str:
    """A path as the user can use it from here: relative when it is under the current folder."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def report_summary(m: dict[str, Any], written: list[Path], width: int = 80) -> str:
    """What `scoregap diagnose` prints when it is done (stdout), in paragraphs wrapped between
    words to `width`: the verdict, the causes, what stays unexplained, the lm-eval command that
    reproduces the reconciled setup (with the path of its task YAML), and the files written."""
    out = [wrap(verdict_line(m), width, "", "  ")]
    for text in runs_lines(m):
        out.append(wrap(text, width, "- ", "  "))
    out.append(wrap(f"Noise floor: ±{pct(m['noise_floor']['half_width'])} points. {m['noise_floor']['basis']}",
                    width, "", "  "))
    if m.get("outputs"):
        out.append(wrap(f"Your outputs: {m['outputs']['text']}", width, "", "  "))
    for fact in m.get("untested_facts", []):
        out.append(wrap(f"Stated but not testable: {fact['why']}", width, "", "  "))
    causes = [r for r in m["ranking"] if r["cause"]]
    out.append("\nRanked causes:" if causes else "\nNo check explained the gap significantly.")
    n = m["yours"]["n"]
    for label, r in zip(numbering(causes), causes):
        alike = f" (or {' / '.join(r['alike'])})" if r.get("alike") else ""
        after = f" (after {', '.join(r['after'])})" if r.get("after") else ""
        out.append(wrap(f"{label:>3}  {r['check']}: {r['variant']}{alike}{after}{runs_note(r)}", width, "",
                        "       "))
        out.append(wrap(f"{signed(r['delta'])} points {ci_text(r['ci'])}, closes {closes_text(r)}, "
                        f"p {p_text(r['p'])}, score {score_text(r, n)}", width, "       ", "       "))
    for text in alternatives_lines(m):
        out.append(wrap(text.replace("**", ""), width, "", "  "))
    if m.get("unexplained"):
        out.append(wrap(unexplained_line(m), width, "", "  "))
    if m["reconciliation"] and m["reconciliation"]["shapley"]:
        split = ", ".join(f"{k} {signed(v)}" for k, v in m["reconciliation"]["shapley"].items())
        out.append(wrap(f"Shapley split of the gap (points): {split}.", width, "", "  "))
    r = m["reproduce"]
    out.append("")
    out.append(wrap(f"Reproduce in lm-eval (its task YAML: {shown_path(Path(r['lm_eval_task_file']))}):"
                    if r.get("lm_eval_task_file") else "Reproduce in lm-eval:", width, "", "  "))
    out.append(shell_lines(r["lm_eval"], width - 1))
    if r["lm_eval_differs"]:
        out.append(wrap("lm-eval cannot express: " + "; ".join(r["lm_eval_differs"]), width, "", "  "))
    out += ["", "Wrote:"] + [f"  {shown_path(p)}" for p in written]
    return "\n".join(out)
