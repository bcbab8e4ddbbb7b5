"""What the engine is doing now: the stage, a bar, done/total, rate and ETA (toolong style: the
worker posts `ProgressUpdate` messages, this widget only shows the latest one)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static


def clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class RunProgress(Horizontal):
    DEFAULT_CSS = """
    RunProgress { height: 1; }
    RunProgress #stage { width: 1fr; }
    RunProgress ProgressBar { width: auto; }
    RunProgress #numbers { width: auto; min-width: 12; }
    """

    def compose(self) -> ComposeResult:
        yield Static("idle", id="stage")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="bar")
        yield Static("", id="numbers")

    def show(self, stage: str, done: int, total: int, rate: float, eta: float, finished: bool = False) -> None:
        self.query_one("#stage", Static).update(stage)
        self.query_one("#bar", ProgressBar).update(total=max(total, 1), progress=done)
        text = f" {done}/{total} {rate:.0f}/s" + ("" if finished else f" ETA {clock(eta)}")
        self.query_one("#numbers", Static).update(text)

    def idle(self, text: str = "idle") -> None:
        self.query_one("#stage", Static).update(text)
        self.query_one("#bar", ProgressBar).update(total=1, progress=0)   # not the pulsing bar: no animation
        self.query_one("#numbers", Static).update("")
