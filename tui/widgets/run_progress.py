"""What the engine is doing now, in one line: where the run is ("check 3/9 prompt · variant 4/12
labels (a)", cut short with an ellipsis, never running into the bar), a bar of the whole phase (the
check, or measuring: it never goes back), and what the engine does with the time left ("37/60 ·
ETA 2:10, all 14:05"). The worker posts `ProgressUpdate` messages (toolong style); this widget only
shows the latest one. The words are tui/progress_line.py's, shared with `scoregap diagnose`.

To give the place its room in a narrow terminal, the numbers drop what the rest already says:
the rate, then the percentage (the bar and the sidebar show it); the run's time left goes only
if the place would keep fewer than `PLACE` columns.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Resize
from textual.widgets import ProgressBar, Static

from scoregap.engine.events import ProgressInfo
from scoregap.tui.progress_line import PLACE, SEP, doing, times, where

BAR = 6            # the bar's cells (and one column of margin before it)


class RunProgress(Horizontal):
    DEFAULT_CSS = f"""
    RunProgress {{ height: 1; }}
    RunProgress #stage {{ width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; margin-right: 1; }}
    RunProgress ProgressBar {{ width: auto; }}
    RunProgress ProgressBar Bar {{ width: {BAR}; }}
    RunProgress #numbers {{ width: auto; text-wrap: nowrap; text-overflow: ellipsis; }}
    """

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.info: ProgressInfo | None = None

    def compose(self) -> ComposeResult:
        yield Static("idle", id="stage", markup=False)
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="bar")
        yield Static("", id="numbers", markup=False)

    def show(self, info: ProgressInfo) -> None:
        self.info = info
        fraction = info.outlook.fraction
        place = where(info)
        self.query_one("#stage", Static).update(place)
        self.query_one("#bar", ProgressBar).update(total=1000, progress=int(1000 * fraction))
        self.query_one("#numbers", Static).update(" " + self.numbers(info, len(place)))

    def numbers(self, info: ProgressInfo, place: int) -> str:
        """The fullest text that keeps the run's time left and leaves the whole place its room,
        else the fullest that leaves it `PLACE` columns, else the barest."""
        room = self.content_size.width - BAR - 2
        percent = f"{int(100 * info.outlook.fraction)}%"
        options = [(percent, doing(info, rate=True), times(info)), (percent, doing(info, rate=False), times(info)),
                   (doing(info, rate=False), times(info)), (doing(info, rate=False), times(info, run=False))]
        texts = [SEP.join(p for p in option if p) for option in options]
        if not self.content_size.width:
            return texts[0]
        whole = [t for t in texts[:3] if len(t) <= room - place]             # the run's time left is kept for it
        return (whole or [t for t in texts if len(t) <= room - min(place, PLACE)] or texts[-1:])[0]

    def on_resize(self, event: Resize) -> None:
        if self.info is not None:
            self.show(self.info)

    def idle(self, text: str = "idle") -> None:
        self.info = None
        self.query_one("#stage", Static).update(text)
        self.query_one("#bar", ProgressBar).update(total=1, progress=0)   # not the pulsing bar: no animation
        self.query_one("#numbers", Static).update("")
