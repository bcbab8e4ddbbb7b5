"""Quitting or leaving a session while the engine works: ask first. Finished batches are cached
either way."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class _Confirm(ModalScreen[bool]):
    """A yes/no question about stopping `running` (y or n; Esc stays)."""

    QUESTION = ""
    CONSEQUENCE = ""
    YES = ""
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "Stay")]

    def __init__(self, running: str) -> None:
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.QUESTION, classes="dialog-title")
            yield Static(f"{self.running} is still running. {self.CONSEQUENCE}")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.YES} (y)", id="yes", variant="error")
                yield Button("Stay (n)", id="no", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ConfirmQuitScreen(_Confirm):
    QUESTION = "Quit while a check runs?"
    CONSEQUENCE = ("Quitting stops it; every finished batch is in the cache and the session can be "
                   "resumed with `scoregap`.")
    YES = "Quit"


class ConfirmLeaveScreen(_Confirm):
    """Leaving the checklist for the start screen: leaving cancels the work in flight."""

    QUESTION = "Leave this session while a check runs?"
    CONSEQUENCE = ("Leaving cancels it after the batch in flight; every finished batch is cached, and "
                   "opening the session again resumes there.")
    YES = "Leave"
