"""Import a run: an lm-eval or lighteval output you already have becomes a session.

The same import as `scoregap import` (engine/run_import.py): your run's folder, the reported one
(another run's folder, or the number), where to write the session. It shows what was rebuilt,
what no setup key can say, whether the logged prompts render identically, and what the two runs
show side by side; then Enter opens the session. Answers stay after an error, and an existing
session file is replaced only after a second, explicit press.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Static
from textual.worker import Worker, WorkerState

from scoregap.engine.errors import InputError

if TYPE_CHECKING:
    from scoregap.engine.cache import Cache


FIELDS = (
    ("yours-run", "Your run", "its output folder (lm-eval --output_path) or a results_*.json"),
    ("reported", "Reported", "the number (61.9), or the reported run's output folder"),
    ("import-task", "Task", "blank: the run's only task"),
    ("import-setup", "Your setup", "blank: rebuilt from the run (name one if its prompt is Python)"),
    ("import-out", "Session file", ""),
)
HELP = ("Both tools write a results JSON; with lm-eval --log_samples (or lighteval's details) the import also "
        "checks the rebuilt setup against every logged prompt, and compares two runs doc by doc without "
        "running the model.")


class ImportScreen(Screen):
    @dataclass
    class SessionImported(Message):
        """The import wrote a session file: open it."""

        path: Path

    BINDINGS = [Binding("escape", "back", "Back"), Binding("ctrl+o", "open", "Open the session")]

    def __init__(self, default_path: Path, cache: Cache) -> None:
        super().__init__()
        self.default_path = default_path
        self.cache = cache
        self.written: Path | None = None
        self.replace_ok: Path | None = None     # the existing file a second press may replace

    def compose(self) -> ComposeResult:
        with Vertical(id="import"):
            yield Static("Import a run: an lm-eval or lighteval output you already have", classes="dialog-title")
            for field_id, label, placeholder in FIELDS:
                with Horizontal(classes="import-field"):
                    yield Static(label, classes="import-label")
                    yield Input(str(self.default_path) if field_id == "import-out" else "",
                                placeholder=placeholder, id=field_id)
            with Horizontal(id="import-buttons"):
                yield Button("Import", id="do-import", variant="primary")
                yield Button("Open the session", id="open-session", disabled=True)
            with VerticalScroll(id="import-log"):
                yield Static(HELP, id="import-result", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#yours-run", Input).focus()

    def _value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()

    @on(Input.Submitted)
    @on(Button.Pressed, "#do-import")
    def _import(self) -> None:
        yours, reported, out = self._value("yours-run"), self._value("reported"), self._value("import-out")
        if not yours or not reported:
            self._show("Give your run's folder and the reported number (or the reported run's folder).")
            return
        if not out:   # said, not silently chosen: the default path goes back into the field
            self.query_one("#import-out", Input).value = str(self.default_path)
        target = Path(out or self.default_path).expanduser()
        force = self.replace_ok == target
        if target.exists() and not force:
            self.replace_ok = target
            self._show(f"{target} exists. Press Import again to replace it, or change the file name.")
            return
        self._show("Reading the runs…")
        self.run_import(Path(yours).expanduser(), reported, self._value("import-task"), self._value("import-setup"),
                        target, force)

    @work(thread=True, exclusive=True, exit_on_error=False, group="import", description="importing a run")
    def run_import(self, yours: Path, reported: str, task: str, setup: str, out: Path, force: bool) -> Any:
        from scoregap.engine.run_import import detect_tool, import_session
        from scoregap.tui.import_cli import import_text

        score = _number(reported)
        imported = import_session(
            detect_tool(yours), yours, out, task=task, force=force, cache=self.cache, setup=setup,
            reported_score=score, reported_run=None if score is not None else Path(reported).expanduser())
        return imported.session, import_text(imported)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "import" or not event.worker.is_finished:
            return
        if event.state == WorkerState.SUCCESS:
            self.written, text = event.worker.result
            self.replace_ok = None
            self._show(text + "\n\nPress Ctrl+O (or the button) to open the session.")
            button = self.query_one("#open-session", Button)
            button.disabled = False
            button.focus()
        elif event.state == WorkerState.ERROR:
            err = event.worker.error
            self._show(str(err) if isinstance(err, InputError) else f"{type(err).__name__}: {err}")

    def _show(self, text: str) -> None:
        self.query_one("#import-result", Static).update(text)
        self.query_one("#import-log", VerticalScroll).scroll_home(animate=False)

    @on(Button.Pressed, "#open-session")
    def action_open(self) -> None:
        if self.written is not None:
            self.post_message(self.SessionImported(self.written))

    def action_back(self) -> None:
        if self.focused is not None and isinstance(self.focused, Input):
            self.set_focus(None)
            return
        self.dismiss()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
