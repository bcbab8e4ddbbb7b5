"""The start screen: a new diagnosis, an imported run, a saved session, the recent ones (to resume) and
the demos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from scoregap.engine.checks_api import CHECK_IDS
from scoregap.profiles import Scenario
from scoregap.tui.state import SessionRecord

INTRO = ("Your score differs from the reported one? scoregap runs the checklist of what moves "
         "scores, one ablation at a time on your model, and ranks the causes.")


class StartScreen(Screen):
    @dataclass
    class OpenRequested(Message):
        """Open this session file (a recent one, a demo, or a typed path)."""

        path: Path

    @dataclass
    class WizardRequested(Message):
        pass

    @dataclass
    class ImportRequested(Message):
        """Import an lm-eval or lighteval run as a session."""

    BINDINGS = [Binding("n", "new", "New diagnosis"), Binding("o", "open", "Open session"),
                Binding("i", "import_run", "Import a run"), Binding("d", "demo", "Demos")]

    def __init__(self, recent: list[SessionRecord], demos: list[Scenario]) -> None:
        super().__init__()
        self.recent = recent
        self.demos = demos

    def compose(self) -> ComposeResult:
        with Vertical(id="start"):
            yield Static(Text("scoregap", style="bold"), id="start-title")
            yield Static(INTRO, id="intro")
            yield OptionList(*self._options(), id="start-menu")
            yield Input(placeholder="path/to/session.toml, then Enter", id="open-path")
        yield Footer()

    def _options(self) -> list[Option | None]:
        options: list[Option | None] = [
            Option("New diagnosis: the wizard (n)", id="new"),
            Option("Import a run: lm-eval or lighteval output (i)", id="import"),
            Option("Open a session file (o)", id="open"),
        ]
        if self.recent:
            options += [None, Option(Text("Recent sessions (resume)", style="bold"), id="h-recent", disabled=True)]
            for i, r in enumerate(self.recent):
                label = Text(f"  {r.name:<22} ", no_wrap=True, overflow="ellipsis")
                label.append(f"{len(r.finished)}/{len(CHECK_IDS)} checks done", style="italic")
                if r.limit:
                    label.append(f", {r.limit} docs")
                options.append(Option(label, id=f"recent:{i}"))
        if self.demos:
            options += [None, Option(Text("Demo scenarios (a tiny trained model)", style="bold"), id="h-demo",
                                     disabled=True)]
            for demo in self.demos:
                label = Text(f"  {demo.name:<18} ", no_wrap=True, overflow="ellipsis")
                label.append(demo.story, style="italic")
                options.append(Option(label, id=f"demo:{demo.name}"))
        return options

    def on_mount(self) -> None:
        self.query_one("#start-menu", OptionList).focus()

    def show_recent(self, recent: list[SessionRecord]) -> None:
        """Back from a session: list it (and its progress) among the recent ones."""
        self.recent = recent
        menu = self.query_one("#start-menu", OptionList)
        highlighted = menu.highlighted
        menu.set_options(self._options())
        menu.highlighted = highlighted
        menu.focus()

    @on(OptionList.OptionSelected, "#start-menu")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        choice = event.option.id or ""
        if choice == "new":
            self.action_new()
        elif choice == "open":
            self.action_open()
        elif choice == "import":
            self.action_import_run()
        elif choice.startswith("recent:"):
            self.post_message(self.OpenRequested(Path(self.recent[int(choice.split(":")[1])].path)))
        elif choice.startswith("demo:"):
            name = choice.split(":", 1)[1]
            self.post_message(self.OpenRequested(next(s.path for s in self.demos if s.name == name)))

    @on(Input.Submitted, "#open-path")
    def _open_path(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.post_message(self.OpenRequested(Path(event.value.strip()).expanduser()))

    def action_new(self) -> None:
        self.post_message(self.WizardRequested())

    def action_import_run(self) -> None:
        self.post_message(self.ImportRequested())

    def action_open(self) -> None:
        self.query_one("#open-path", Input).focus()

    def action_demo(self) -> None:
        menu = self.query_one("#start-menu", OptionList)
        menu.focus()
        for i, option in enumerate(menu.options):
            if (option.id or "").startswith("demo:"):
                menu.highlighted = i
                break
