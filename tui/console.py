"""Plain-terminal output for the headless commands: a progress bar on stderr."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


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
        elapsed = time.perf_counter() - self.began
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        filled = int(self.width * self.done / self.total) if self.total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        return (f"{self.label} [{bar}] {self.done}/{self.total}  {rate:.1f} req/s  "
                f"elapsed {_clock(elapsed)}  ETA {_clock(eta)}")

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.drawn < (0.1 if self.interactive else 5.0):
            return
        self.drawn = now
        if self.interactive:
            self.stream.write("\r" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
