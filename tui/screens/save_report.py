"""Save the report: a folder and the formats (the app writes the files `scoregap diagnose` writes,
./scoregap-report/<session> unless the user types another folder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from scoregap.engine.reports import FORMATS


@dataclass(frozen=True)
class SaveRequest:
    directory: Path
    formats: tuple[str, ...]


class SaveReportScreen(ModalScreen[SaveRequest | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Save the report", classes="dialog-title")
            yield Static("Folder (report.md, report.html, report.json go here, and the lm-eval task YAML in "
                         "lm-eval-task/):")
            yield Input(str(self.directory), id="directory")
            with Horizontal(classes="formats"):
                for name in FORMATS:
                    yield Checkbox(name, value=True, id=f"format-{name}")
            yield Static("", id="save-error")
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        text = self.query_one("#directory", Input).value.strip()
        formats = tuple(n for n in FORMATS if self.query_one(f"#format-{n}", Checkbox).value)
        if not text:
            self.query_one("#save-error", Static).update("Give a folder.")
            return
        if not formats:
            self.query_one("#save-error", Static).update("Choose at least one format.")
            return
        self.dismiss(SaveRequest(Path(text).expanduser(), formats))

    def action_cancel(self) -> None:
        self.dismiss(None)
