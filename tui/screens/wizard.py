"""The new-diagnosis wizard: five short steps that end in a session TOML (DESIGN.md format).

1. the model (a directory or a hub id), checked before moving on;
2. your setup: a benchmark picked from the catalog by name (typing filters the list), a file or
   another bundled preset; optionally another task for it (a task file, a local copy of a hub
   dataset in the hub layout, checked by loading it, or hf:owner/name);
3. your score (blank: measure it) and the reported score with its source;
4. what the report states, check by check (blank: unknown);
5. where to save the session, how many docs per variant and which checks.

The file it writes is what `scoregap diagnose` reads, unchanged; a task given in step 2 goes into
a small setup file beside the session that extends your setup. A catalog benchmark needs only the
model, its name and the reported score; its docs are read from the hub when the session runs, so
the wizard says how to give a local copy instead of loading the hub here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
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

if TYPE_CHECKING:
    from scoregap.engine.cache import Cache
    from scoregap.engine.setup import Setup

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

STEPS = ("step-model", "step-setup", "step-scores", "step-facts", "step-save")
TITLES = ("1/5 The model", "2/5 Your setup", "3/5 The scores", "4/5 What the report states", "5/5 Save and start")


def parse_value(text: str) -> Any:
    """What the user typed, as a TOML value when it reads as one (5, false, ["\\n"]), else text."""
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


@dataclass
class Answers:
    model: str = ""
    revision: str = ""
    setup: str = ""                      # as the user named it (path or preset)
    task: str = ""                       # '' | a task file | a folder in the hub layout | hf:owner/name
    yours_score: float | None = None
    reported_score: float = 0.0
    source: str = ""
    reported_setup: str = ""
    known: dict[str, Any] = field(default_factory=dict)
    limit: int = 0
    checks: tuple[str, ...] = ()


HEADER = "# A scoregap session, written by the wizard. Run it headless: scoregap diagnose THIS_FILE\n"


def session_files(a: Answers, yours: Setup, session_path: Path) -> dict[Path, str]:
    """The session file's text (and, when a task was given, the small setup file beside it
    that extends your setup with that task), by path."""
    import tomli_w

    from scoregap.engine.checks_api import CHECK_IDS
    from scoregap.engine.session import Session, check_score

    files: dict[Path, str] = {}
    setup_ref = a.setup
    if Path(a.setup).expanduser().is_file():
        setup_ref = str(Path(a.setup).expanduser().resolve())
    if a.task:
        setup_file = session_path.with_name(session_path.stem + "-setup.toml")
        task: dict[str, Any]
        if a.task.startswith("hf:"):
            task = {"path": "", "hf": a.task[3:]}
        elif Path(a.task).expanduser().is_dir():
            task = {"path": "", "hf": str(Path(a.task).expanduser().resolve())}
        else:
            task = {"path": str(Path(a.task).expanduser().resolve()), "hf": ""}
        files[setup_file] = tomli_w.dumps({"extends": setup_ref, "task": task})
        setup_ref = str(setup_file)
    model = a.model
    if Path(model).expanduser().is_dir():
        model = str(Path(model).expanduser().resolve())
    reported, scale = check_score(a.reported_score, "auto", "The reported score")
    session = Session(
        path=str(session_path), model=model, revision=a.revision, yours=yours,
        yours_score=None if a.yours_score is None else check_score(a.yours_score, "auto", "Your score")[0],
        reported_score=reported, reported_raw=a.reported_score, reported_scale=scale, reported_source=a.source,
        reported_setup=a.reported_setup, known=dict(a.known), checks=a.checks or CHECK_IDS, limit=a.limit,
        yours_setup=setup_ref,
    )
    files[session_path] = HEADER + session.to_toml()
    return files


def _fact_keys() -> dict[str, list[tuple[str, str]]]:
    """Question keys, each once, with (check title, question) pairs that ask about it."""
    keys: dict[str, list[tuple[str, str]]] = {}
    for check in CHECKS:
        for q in check.questions:
            keys.setdefault(q.key, []).append((check.title, q.text))
    return keys


def _number(text: str, what: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise InputError(f"{what} must be a number, such as 61.9 or 0.619.") from None


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
    return Text(f"{config}{entry.split} split{docs}. Its docs are read from the hub (or the local cache) "
                f"when the session runs; offline, give a local copy below.\n", style="italic")


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
        self.benchmarks = catalog.entries()

    def compose(self) -> ComposeResult:
        with Vertical(id="wizard"):
            yield Static(TITLES[0], id="wizard-title")
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
                    yield Static("Docs per variant (0: all; fewer is faster and less precise):")
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
        first = self.query_one(f"#{STEPS[step]}").query(Input).first()
        first.focus()

    def _error(self, text: str) -> None:
        self.query_one("#wizard-error", Static).update(text)

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
                yours = self._setup_with_task(value["setup"], value["task"])
                if value["task"] and not value["task"].startswith("hf:"):
                    self._error("Checking the task…")
                    self.checking = True
                    self.check_task(yours, value["setup"], value["task"])
                    return   # the worker moves on when the task loads
                self._accept_setup(yours, value["setup"], value["task"])
            elif self.step == 2:
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
    def check_task(self, yours: Setup, setup: str, task: str) -> tuple[Setup, str, str]:
        """Load the task the user gave (a file, or a local copy of a hub dataset): a bad row, a
        missing config or a folder `datasets` cannot read is said now, not when the session runs."""
        from scoregap.engine.tasks import load_task

        try:
            load_task(yours.task)
        except InputError as err:
            folder = Path(task).expanduser()
            if folder.is_dir():
                from scoregap.engine.hub_layout import layout
                from scoregap.engine.presets import load_setup

                if layout(folder) is None:
                    hf = load_setup(setup).task.hf
                    raise InputError(f"{err} {folder} is read as a local copy of a hub dataset: give a snapshot "
                                     f"of the dataset repository, whose README.md lists its configs (hf download "
                                     f"{hf} --repo-type dataset --local-dir {folder}).") from None
            raise
        return yours, setup, task

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "wizard" or not event.worker.is_finished:
            return
        self.checking = False
        if event.state == WorkerState.SUCCESS and event.worker.name == "model" and self.step == 0:
            self._go(1)
        elif event.state == WorkerState.SUCCESS and event.worker.name == "task" and self.step == 1:
            self._accept_setup(*event.worker.result)
            self._go(2)
        elif event.state == WorkerState.ERROR:
            err = event.worker.error
            self._error(str(err) if isinstance(err, InputError) else f"{type(err).__name__}: {err}")

    def _setup_with_task(self, setup: str, task: str) -> Setup:
        """Your setup as named, with the task the user gave instead of its own (not loaded yet)."""
        from scoregap.engine.presets import load_setup

        if not setup:
            raise InputError("Name your setup: a benchmark from the catalog such as lm-eval/mmlu, a setup "
                             "file, or a preset.")
        yours = load_setup(setup)
        if not task:
            return yours
        if task.startswith("hf:"):
            return yours.with_values({"task.path": "", "task.hf": task[3:]}, origin="the wizard")
        path = Path(task).expanduser()
        if path.is_dir():
            if not yours.task.hf:
                raise InputError(f'Task "{task}" is a folder, read as a local copy of a hub dataset, but '
                                 f"{setup} has no hub task (task.hf) for it to replace. Give a task TOML file.")
            return yours.with_values({"task.path": "", "task.hf": str(path.resolve())}, origin="the wizard")
        if not path.is_file():
            raise InputError(f'Task "{task}": no such file or folder. Give a task TOML file, a local copy of a '
                             f"hub dataset (a folder in the hub layout), or hf:owner/name.")
        return yours.with_values({"task.path": str(path.resolve()), "task.hf": ""}, origin="the wizard")

    def _accept_setup(self, yours: Setup, setup: str, task: str) -> None:
        self.yours_setup = yours
        self.answers.setup, self.answers.task = setup, task
        entry = self._entry(setup)
        if entry is not None and entry.presets:
            self.query_one("#reported-setup", Input).placeholder = (
                f"the reference setup, if known (e.g. {entry.presets[-1]})")

    def _check_scores(self, value: dict[str, str]) -> None:
        from scoregap.engine.presets import load_setup

        if not value["reported-score"]:
            raise InputError("The reported score is required: the number you are trying to reproduce.")
        from scoregap.engine.session import check_score

        self.answers.reported_score = _number(value["reported-score"], "The reported score")
        check_score(self.answers.reported_score, "auto", "The reported score")   # finite, on a scale
        self.answers.yours_score = _number(value["yours-score"], "Your score") if value["yours-score"] else None
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
        try:
            limit = int(value["limit"] or "0")
            if limit < 0:
                raise ValueError
        except ValueError:
            self._error("Docs per variant: 0 (all) or a positive whole number.")
            return
        try:
            checks = parse_check_ids(value["checks"].split(","), "Checks")
        except InputError as err:
            self._error(str(err))
            return
        self.answers.limit, self.answers.checks = limit, checks
        path = Path(value["session-path"] or str(self.default_path)).expanduser()
        assert self.yours_setup is not None
        try:
            for file, text in session_files(self.answers, self.yours_setup, path.resolve()).items():
                write_atomic(file, text)
        except OSError as err:
            self._error(f"Could not write {path}: {err}.")
            return
        from scoregap.engine.session import load_session

        try:
            load_session(path)
        except InputError as err:
            self._error(f"The session was written but does not load: {err}")
            return
        self.app.pop_screen()
        self.app.post_message(self.SessionWritten(path))
