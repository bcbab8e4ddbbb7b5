"""The new-diagnosis wizard: five short steps that end in a session TOML (DESIGN.md format).

1. the model (a directory or a hub id), checked before moving on;
2. your setup: a benchmark picked from the catalog by name (typing filters the list), a file or
   another bundled preset; optionally another task for it (a task file, a local copy of a hub
   dataset in the hub layout, or hf:owner/name). The setup and its task are checked together
   before moving on: the task is loaded as the session will load it (a hub dataset through
   `datasets`, so offline only from its local cache) and its docs are counted;
3. your score (blank: measure it) and the reported score with its source;
4. what the report states, check by check (blank: unknown);
5. where to save the session, how many docs per variant and which checks.

The file it writes is what `scoregap diagnose` reads, unchanged; a task given in step 2 goes into
a small setup file beside the session that extends your setup. An error is said under the step,
and every answer stays as typed. A file that exists is replaced only after a second press of
"Save and start". What each step checks and the files it writes are in tui/session_draft.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Button, ContentSwitcher, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from scoregap.checks import CHECKS
from scoregap.engine import catalog
from scoregap.engine.checks_api import CHECK_IDS, parse_check_ids
from scoregap.engine.errors import InputError
from scoregap.engine.files import write_atomic
from scoregap.tui.session_draft import (
    Answers,
    CheckedSetup,
    check_setup,
    number,
    parse_limit,
    parse_value,
    replaced,
    session_files,
    setup_with_task,
)

if TYPE_CHECKING:
    from scoregap.engine.cache import Cache
    from scoregap.engine.setup import Setup

STEPS = ("step-model", "step-setup", "step-scores", "step-facts", "step-save")
TITLES = ("1/5 The model", "2/5 Your setup", "3/5 The scores", "4/5 What the report states", "5/5 Save and start")
LIMIT_LABEL = "Docs per variant (0: all{of}; fewer is faster and less precise):"


def _fact_keys() -> dict[str, list[tuple[str, str]]]:
    """Question keys, each once, with (check title, question) pairs that ask about it."""
    keys: dict[str, list[tuple[str, str]]] = {}
    for check in CHECKS:
        for q in check.questions:
            keys.setdefault(q.key, []).append((check.title, q.text))
    return keys


class SetupInput(Input):
    """The setup field: Down moves into the catalog list below it."""

    BINDINGS = [Binding("down", "app.focus_next", "Catalog", show=False)]


class CatalogList(OptionList):
    """The catalog's benchmarks, one line each (name, hub id, metric, default shots), filtered by
    what the setup field holds; Up on the first one goes back to the field."""

    DEFAULT_CSS = """
    CatalogList {
        height: auto;
        max-height: 5;
    }
    """

    def __init__(self, entries: list[catalog.Entry], *, id: str | None = None) -> None:
        super().__init__(compact=True, id=id)
        self.entries = entries
        self.name_width = max((len(e.name) for e in entries), default=0)

    def show(self, query: str) -> None:
        """List the entries matching `query`; hide the list when none does (a file, a preset)."""
        found = catalog.search(query, self.entries)
        self.clear_options()
        self.add_options([Option(Text.assemble((e.name.ljust(self.name_width), "bold"), "  ", e.description),
                                 id=e.name) for e in found])
        self.display = bool(found)

    def on_focus(self) -> None:
        if self.highlighted is None and self.option_count:
            self.highlighted = 0

    def action_cursor_up(self) -> None:
        if not self.highlighted:
            self.screen.focus_previous()
        else:
            super().action_cursor_up()


def _entry_note(entry: catalog.Entry) -> Text:
    """What a catalog pick adds to its line in the list, and what it needs offline."""
    config = f"{entry.config}, " if entry.config else ""
    docs = f", {entry.docs} docs" if entry.docs else ""
    return Text(f"{config}{entry.split} split{docs}. Next reads its docs from the hub (or the local cache); "
                f"offline, give a local copy below.\n", style="italic")


class WizardScreen(Screen):
    @dataclass
    class SessionWritten(Message):
        """The wizard wrote a session file: open it."""

        path: Path

    BINDINGS = [Binding("ctrl+n", "next", "Next"), Binding("escape", "back", "Back")]

    def __init__(self, default_path: Path, cache: Cache) -> None:
        super().__init__()
        self.answers = Answers()
        self.step = 0
        self.default_path = default_path
        self.cache = cache
        self.yours_setup: Setup | None = None
        self.checking = False          # the model or the task is being checked: Next waits for it
        self.replace_ok: list[Path] = []   # existing files the next "Save and start" may replace
        self.benchmarks = catalog.entries()

    def compose(self) -> ComposeResult:
        with Vertical(id="wizard"):
            yield Static(TITLES[0], id="wizard-title")
            yield Static("", id="wizard-task")
            with ContentSwitcher(initial=STEPS[0], id="steps"):
                with VerticalScroll(id="step-model"):
                    yield Static("The model you evaluated: a directory saved with save_pretrained, or a "
                                 "hub id in the local Hugging Face cache.")
                    yield Input(placeholder="e.g. ./my-model or Qwen/Qwen2.5-0.5B-Instruct", id="model")
                    yield Input(placeholder="revision (blank: the cached one)", id="revision")
                with VerticalScroll(id="step-setup"):
                    yield Static("Your evaluation setup: a benchmark from the catalog (type to filter, "
                                 "Down to pick), a setup TOML file, or a preset such as lighteval/mmlu.")
                    names = [e.name for e in self.benchmarks] + [p for e in self.benchmarks for p in e.presets]
                    yield SetupInput(placeholder="a benchmark (arc, mmlu...), a setup file or a preset", id="setup",
                                     suggester=SuggestFromList(names, case_sensitive=False))
                    yield CatalogList(self.benchmarks, id="catalog")
                    yield Static("", id="setup-note")
                    yield Static("The task, if not the setup's own: a task TOML file, a local copy of a hub "
                                 "dataset (a folder in the hub layout), or hf:owner/name.")
                    yield Input(placeholder="blank: the setup's task", id="task")
                with VerticalScroll(id="step-scores"):
                    yield Static("Your score (blank: scoregap measures it) and the reported one. "
                                 "61.9 reads as percent, 0.619 as a fraction.")
                    yield Input(placeholder="your score, or blank", id="yours-score")
                    yield Input(placeholder="the reported score (required)", id="reported-score")
                    yield Input(placeholder="its source, e.g. model card, table 2", id="source")
                    yield Input(placeholder="the reference setup, if known (a preset or file)", id="reported-setup")
                with VerticalScroll(id="step-facts"):
                    yield Static("What does the report state? Type the value (5, false, acc_norm) or leave "
                                 "it blank for unknown. Each answer is tested first.")
                    for key, asked in _fact_keys().items():
                        question = Text(asked[0][0] + ": ", style="bold")
                        question.append(" ".join(q for _, q in asked), style="")
                        yield Static(question, classes="question")
                        yield Input(placeholder=f"{key}: unknown", name=key, classes="fact",
                                    id=f"wfact-{key.replace('.', '-')}")
                with VerticalScroll(id="step-save"):
                    yield Static("Where to save the session:")
                    yield Input(str(self.default_path), id="session-path")
                    yield Static(LIMIT_LABEL.format(of=""), id="limit-label")
                    yield Input("0", id="limit")
                    yield Static(f"Checks (blank: all nine): {', '.join(CHECK_IDS)}")
                    yield Input(placeholder="e.g. template,prompt", id="checks")
            yield Static("", id="wizard-error")
            with Horizontal(classes="buttons"):
                yield Button("Back", id="back")
                yield Button("Next", id="next", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#model", Input).focus()
        self.query_one(CatalogList).show("")

    # -- the catalog -----------------------------------------------------------------------------

    @on(Input.Changed, "#setup")
    def _setup_changed(self, event: Input.Changed) -> None:
        self.query_one(CatalogList).show(event.value)
        entry = self._entry(event.value)
        self.query_one("#setup-note", Static).update(_entry_note(entry) if entry else "")

    @on(OptionList.OptionSelected, "#catalog")
    def _entry_picked(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#setup", Input).value = event.option.id or ""
        self.query_one("#task", Input).focus()

    def _entry(self, name: str) -> catalog.Entry | None:
        return next((e for e in self.benchmarks if e.name == name.strip()), None)

    # -- navigation ------------------------------------------------------------------------------

    def _go(self, step: int) -> None:
        self.step = step
        self.query_one(ContentSwitcher).current = STEPS[step]
        self.query_one("#wizard-title", Static).update(TITLES[step])
        self.query_one("#next", Button).label = "Save and start" if step == len(STEPS) - 1 else "Next"
        self.query_one("#wizard-error", Static).update("")
        self.query_one("#wizard-task").display = step > 1 and self.yours_setup is not None   # the task step 2 loaded
        first = self.query_one(f"#{STEPS[step]}").query(Input).first()
        first.focus()

    def _error(self, text: str) -> None:
        """Say `text` under the step (as written: "[task]" is no markup), keeping the field being
        answered in view above it."""
        self.query_one("#wizard-error", Static).update(Text(text))
        focused = self.focused
        if focused is not None:   # once the message has taken its lines from the step above it
            self.set_timer(0.05, lambda: focused.scroll_visible(animate=False))

    @on(Button.Pressed, "#next")
    def _next_pressed(self) -> None:
        self.action_next()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        """Enter moves to the step's next field; on its last field, to the next step. In the setup
        field, words that leave one benchmark in the list ("mmlu") become its name."""
        if event.input.id == "setup" and not self._entry(event.value) and not Path(event.value).expanduser().exists():
            found = catalog.search(event.value, self.benchmarks)
            if event.value.strip() and len(found) == 1:
                event.input.value = found[0].name
        fields = list(self.query_one(f"#{STEPS[self.step]}").query(Input))
        if event.input in fields and event.input is not fields[-1]:
            fields[fields.index(event.input) + 1].focus()
        else:
            self.action_next()

    def action_back(self) -> None:
        if self.checking:   # the answer it checks is being changed: its result no longer applies
            self.workers.cancel_group(self, "wizard")
            self.checking = False
        if self.step == 0:
            self.app.pop_screen()
        else:
            self._go(self.step - 1)

    def action_next(self) -> None:
        if self.checking:
            return
        value = {i.id: i.value.strip() for i in self.query(Input) if i.id}
        try:
            if self.step == 0:
                if not value["model"]:
                    raise InputError("Give the model: a directory or a hub id.")
                self.answers.model, self.answers.revision = value["model"], value["revision"]
                self._error("Checking the model…")
                self.checking = True
                self.check_model(value["model"], value["revision"])
                return   # the worker moves on when the model resolves
            if self.step == 1:
                yours = setup_with_task(value["setup"], value["task"])
                self._error("Loading the task…" if yours.task.path else
                            f"Loading {yours.task.hf} (from the hub, or its local cache)…")
                self.checking = True
                self.check_task(yours, value["setup"], value["task"])
                return   # the worker moves on when the task loads
            if self.step == 2:
                self._check_scores(value)
            elif self.step == 3:
                self._check_facts()
            else:
                self._save(value)
                return
        except InputError as err:
            self._error(str(err))
            return
        self._go(self.step + 1)

    # -- validation ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="wizard", name="model",
          description="checking the model")
    def check_model(self, name: str, revision: str) -> str:
        from scoregap.engine.model import resolve_model

        return resolve_model(name, revision, self.cache).directory

    @work(thread=True, exclusive=True, exit_on_error=False, group="wizard", name="task",
          description="checking the task")
    def check_task(self, yours: Setup, setup: str, task: str) -> CheckedSetup:
        """Load your task and check your setup against it (session_draft.load_checked_task): a
        setup without a task, a bad row, a hub dataset out of reach is said now, not when the
        session runs."""
        return check_setup(yours, setup, task)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "wizard" or not event.worker.is_finished:
            return
        if event.state == WorkerState.CANCELLED:
            return   # Back was pressed while it ran: a newer check, if any, decides
        self.checking = False
        if event.state == WorkerState.SUCCESS and event.worker.name == "model" and self.step == 0:
            self._go(1)
        elif event.state == WorkerState.SUCCESS and event.worker.name == "task" and self.step == 1:
            self._accept_setup(event.worker.result)
            self._go(2)
        elif event.state == WorkerState.ERROR:
            err = event.worker.error
            self._error(str(err) if isinstance(err, InputError) else f"{type(err).__name__}: {err}")

    def _accept_setup(self, checked: CheckedSetup) -> None:
        self.yours_setup = checked.yours
        self.answers.setup, self.answers.task = checked.setup, checked.task
        self.query_one("#wizard-task", Static).update(checked.summary)
        self.query_one("#limit-label", Static).update(LIMIT_LABEL.format(of=f" {checked.docs}"))
        entry = self._entry(checked.setup)
        if entry is not None and entry.presets:
            self.query_one("#reported-setup", Input).placeholder = (
                f"the reference setup, if known (e.g. {entry.presets[-1]})")

    def _check_scores(self, value: dict[str, str]) -> None:
        from scoregap.engine.presets import load_setup

        if not value["reported-score"]:
            raise InputError("The reported score is required: the number you are trying to reproduce.")
        from scoregap.engine.session import check_score

        self.answers.reported_score = number(value["reported-score"], "The reported score")
        check_score(self.answers.reported_score, "auto", "The reported score")   # finite, on a scale
        self.answers.yours_score = number(value["yours-score"], "Your score") if value["yours-score"] else None
        if self.answers.yours_score is not None:
            check_score(self.answers.yours_score, "auto", "Your score")
        self.answers.source = value["source"]
        if value["reported-setup"]:
            load_setup(value["reported-setup"])
        self.answers.reported_setup = value["reported-setup"]

    def _check_facts(self) -> None:
        known: dict[str, Any] = {}
        for field_ in self.query(".fact").results(Input):
            if field_.value.strip():
                known[field_.name or ""] = parse_value(field_.value)
        if known and self.yours_setup is not None:
            try:
                self.yours_setup.with_values(known, origin="what the report states")
            except InputError as err:
                raise InputError(f"{err}") from None
        self.answers.known = known

    def _save(self, value: dict[str, str]) -> None:
        """Write the session (a file that exists only on a second press) and open it."""
        self.answers.limit = parse_limit(value["limit"])
        self.answers.checks = parse_check_ids(value["checks"].split(","), "Checks")
        if not value["session-path"]:   # said, not silently chosen: the default goes back into the field
            self.query_one("#session-path", Input).value = str(self.default_path)
        path = Path(value["session-path"] or str(self.default_path)).expanduser()
        assert self.yours_setup is not None
        files = session_files(self.answers, self.yours_setup, path.resolve())
        existing = replaced(files)
        if existing and existing != self.replace_ok:
            self.replace_ok = existing
            names = " and ".join(str(f) for f in existing)
            raise InputError(f"{names} already exist{'s' if len(existing) == 1 else ''}. Press Save and start "
                             f"again to replace {'it' if len(existing) == 1 else 'them'}, or change the file name.")
        self.replace_ok = []
        try:
            for file, text in files.items():
                write_atomic(file, text)
        except OSError as err:
            raise InputError(f"Could not write {path}: {err}.") from None
        from scoregap.engine.session import load_session

        try:
            load_session(path)
        except InputError as err:
            raise InputError(f"The session was written but does not load: {err}") from None
        self.app.pop_screen()
        self.app.post_message(self.SessionWritten(path))
