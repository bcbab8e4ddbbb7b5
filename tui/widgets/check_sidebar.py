"""The checklist's sidebar: the nine checks and the state of each, one line apiece.

States are words, not colours, so they read in any terminal: pending, queued, running (run 45% with progress),
+72.5 sig (done: the best variant's effect in points, `sig` when significant), done, skipped,
failed, cancelled; `off` marks a check the session did not ask for (it can still be run).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from scoregap.engine.checks_api import CHECK_IDS


@dataclass(frozen=True)
class CheckState:
    status: str = "pending"      # pending queued running done skipped failed cancelled off
    effect: float | None = None  # the best variant's delta (fraction) when done
    significant: bool = False
    percent: int | None = None   # when running

    def text(self) -> str:
        if self.status == "running":
            return f"run {self.percent}%" if self.percent is not None else "running"
        if self.status == "done" and self.effect is not None and self.effect == self.effect:
            return f"{100 * self.effect:+.1f}" + (" sig" if self.significant else "")
        return self.status


STYLES = {"running": "bold", "done": "", "failed": "bold", "cancelled": "italic", "skipped": "dim",
          "off": "dim", "pending": "", "queued": "italic"}


class CheckSidebar(OptionList):
    DEFAULT_CSS = """
    CheckSidebar { width: 27; height: 1fr; }
    """

    def __init__(self, states: dict[str, CheckState] | None = None, **kwargs) -> None:  # noqa: ANN003
        self.states = dict(states or {c: CheckState() for c in CHECK_IDS})
        super().__init__(*[self._option(c) for c in CHECK_IDS], **kwargs)

    def _option(self, check: str) -> Option:
        state = self.states.get(check, CheckState())
        text = Text(no_wrap=True)
        text.append(f"{check:<13} ")
        text.append(state.text(), style=STYLES.get(state.status, ""))
        return Option(text, id=check)

    def set_state(self, check: str, state: CheckState) -> None:
        if self.states.get(check) == state:
            return
        self.states[check] = state
        self.replace_option_prompt(check, self._option(check).prompt)

    @property
    def selected(self) -> str:
        index = self.highlighted
        return CHECK_IDS[index] if index is not None else CHECK_IDS[0]
