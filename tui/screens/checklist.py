"""The checklist: the nine checks in a sidebar, the selected one explained and measured beside it.

The screen holds no engine state. The app's worker sends it what happened (`show_summary`,
`check_started`, `variant_done`, `check_finished`, ...) and the screen only draws; so a snapshot
test can drive it with fixed numbers, and the UI stays responsive whatever the engine does.
Keys: r runs the highlighted check, a runs every remaining one, c cancels, t switches the prompt
diff between text and tokens, g opens the ranking, s saves the report. The arrows move between
checks wherever the focus is (the pane scrolls with PgUp/PgDn), so the list never loses them to
a scrolled pane; the focused pane is marked by a heavy border (app.tcss), not by colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Collapsible, Footer, Input, OptionList, Static

from scoregap.checks import get as get_check
from scoregap.engine.checks_api import CHECK_IDS, CheckResult, Finding
from scoregap.engine.events import ProgressInfo, Summary
from scoregap.engine.session import Session
from scoregap.tui.widgets.ablation_table import AblationTable
from scoregap.tui.widgets.check_sidebar import CheckSidebar, CheckState
from scoregap.tui.widgets.effect_chart import Effect, EffectChart
from scoregap.tui.widgets.prompt_diff import PromptDiff, PromptPair
from scoregap.tui.widgets.run_progress import RunProgress


def fact_text(value: Any) -> str:
    """A known fact as the user would type it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        import json

        return json.dumps(list(value))
    return str(value)


def summary_text(s: Summary | None, session: Session, note: str = "",
                 score: tuple[float, int] | None = None, limit: int = 0) -> Text:
    """The header: the reported score, then yours once it exists (`score`: yours and its n, before
    the noise floor is ready), then everything the summary holds. With a limit (docs per variant)
    that cut the task short, n says so: the scores are the first `limit` docs', not the task's."""
    def docs(n: int) -> str:
        return f"n={n}, first {limit} docs" if limit and n >= limit else f"n={n}"

    out = Text()
    if s is None:
        out.append(f"Reported {100 * session.reported_score:.1f}", style="bold")
        if session.reported_source:
            out.append(f" ({session.reported_source})")
        if score is not None:
            yours, n = score
            gap = session.reported_score - yours
            out.append(f" · yours {100 * yours:.1f} ({docs(n)}) · gap {100 * gap:+.1f} pts")
            out.append(" · " + (note or "measuring the noise floor…"))
            return out
        out.append(" · " + (note or (f"measuring your setup on the first {limit} docs…" if limit
                                     else "measuring your setup…")))
        return out
    out.append(f"Reported {100 * s.reported:.1f}", style="bold")
    out.append(f" · yours {100 * s.yours:.1f} ({docs(s.n)}")
    out.append(f", stated {100 * s.stated:.1f})" if s.stated is not None else ")")
    out.append(f" · gap {100 * s.gap:+.1f} pts · noise ±{100 * s.noise:.1f}")
    if not s.noise_measured:   # the resolution of n docs, not a measured spread: say so
        out.append(" (no repeat moved a doc: one doc's worth)")
    if s.verdict == "within_noise":
        out.append(" · verdict: within noise, no cause needed", style="bold")
    else:
        out.append(" · verdict: a real gap", style="bold")
        out.append(f"; top cause so far: {s.top}" if s.top else "; no cause found yet")
    if note:
        out.append(f" · {note}")
    return out


def effects_of(findings: list[Finding]) -> list[Effect]:
    return [Effect(f.variant.name, f.delta, f.ci, f.significant) for f in findings]


OUTPUT_CHECKS = ("generation", "template")   # their pane shows what your stored outputs show


class ChecklistScreen(Screen):
    """The checklist; what the user asks for goes to the app as messages."""

    @dataclass
    class RunRequested(Message):
        checks: tuple[str, ...]

    @dataclass
    class CancelRequested(Message):
        pass

    @dataclass
    class RankingRequested(Message):
        pass

    @dataclass
    class LeaveRequested(Message):
        pass

    @dataclass
    class SaveRequested(Message):
        pass

    @dataclass
    class FactEdited(Message):
        """The user typed what the report states for `key` ('' : unknown); the app answers with
        `fact_saved`."""

        key: str
        text: str

    @dataclass
    class PromptRequested(Message):
        check: str

    BINDINGS = [
        Binding("r", "run_selected", "Run"),
        Binding("a", "run_all", "Run all"),
        Binding("c", "cancel", "Cancel"),
        Binding("t", "toggle_tokens", "Tokens"),
        Binding("g", "ranking", "Ranking"),
        Binding("s", "save", "Save"),
        Binding("escape", "back", "Back"),
        Binding("up", "step_check(-1)", "Previous check", show=False, priority=True),
        Binding("down", "step_check(1)", "Next check", show=False, priority=True),
        Binding("pageup", "scroll_detail(-1)", "Scroll up", show=False, priority=True),
        Binding("pagedown", "scroll_detail(1)", "Scroll down", show=False, priority=True),
    ]

    def __init__(self, session: Session, limit: int) -> None:
        super().__init__()
        self.session = session
        self.limit = limit
        self.summary: Summary | None = None
        self.score: tuple[float, int] | None = None   # yours and its n, before the floor is ready
        self.note = ""
        chosen = set(session.checks)
        self.states: dict[str, CheckState] = {
            c: CheckState("pending" if c in chosen else "off") for c in CHECK_IDS}
        self.findings: dict[str, list[Finding]] = {}
        self.settled: dict[str, bool] = {}
        self.messages: dict[str, str] = {}
        self.pairs: dict[str, PromptPair] = {}
        self.current = session.checks[0] if session.checks else CHECK_IDS[0]

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(summary_text(None, self.session, limit=self.limit), id="summary")
        with Horizontal(id="main"):
            yield CheckSidebar(self.states, id="sidebar")
            with VerticalScroll(id="detail", can_focus=False):   # scrolled by PgUp/PgDn from anywhere
                yield Static("", id="check-title")
                yield Static("", id="check-status")
                with Collapsible(title="What your two runs show (no model calls)", id="runs", collapsed=False):
                    yield Static("", id="runs-text", markup=False)
                with Collapsible(title="Why this matters", id="why", collapsed=True):
                    yield Static("", id="why-text")
                with Collapsible(title="What the report says", id="facts", collapsed=True):
                    yield Vertical(id="questions")
                with Collapsible(title="Your setup vs the reference (t: tokens)", id="diff", collapsed=False):
                    yield PromptDiff(id="prompt-diff")
                with Collapsible(title="Ablations", id="ablations", collapsed=False):
                    yield AblationTable(id="ablation-table")
                    yield EffectChart(id="effects")
        yield RunProgress(id="progress")
        yield Footer(compact=True, show_command_palette=False)   # every key fits 80 columns

    def on_mount(self) -> None:
        sidebar = self.query_one(CheckSidebar)
        sidebar.highlighted = CHECK_IDS.index(self.current)
        sidebar.focus()
        summary = summary_text(self.summary, self.session, self.note, self.score, self.limit)
        self.query_one("#summary", Static).update(summary)
        self._show_runs()
        self.show_check(self.current)

    # -- what the worker reports ---------------------------------------------------------------

    def show_score(self, yours: float, n: int) -> None:
        """Your score, as soon as it exists; the summary replaces it once the floor is measured."""
        self.score = (yours, n)
        if self.is_mounted and self.summary is None:
            self.query_one("#summary", Static).update(
                summary_text(None, self.session, self.note, self.score, self.limit))

    def show_summary(self, summary: Summary | None, note: str = "") -> None:
        self.summary = summary
        self.note = note
        if self.is_mounted:
            self.query_one("#summary", Static).update(
                summary_text(summary, self.session, note, self.score, self.limit))
            self._show_runs()
            self._refresh_chart()
            self._refresh_status()
            for fact in self.query(".fact-error").results(Static):
                why = self._untested(fact.name or "")
                if why:
                    fact.update(why)

    def _show_runs(self) -> None:
        """The runs' evidence, once measured; hidden for a session that names no runs."""
        lines = self.summary.runs if self.summary else ()
        pane = self.query_one("#runs", Collapsible)
        pane.display = bool(lines) or bool(self.session.yours_run and self.session.reported_run)
        text = "\n".join(f"• {line}" for line in lines) if lines else "Shown once your setup is measured."
        if lines and self.session.yours_run and self.session.reported_run:
            text += "\n(g: the ranking; d there lists the docs that differ, each with its two prompts)"
        self.query_one("#runs-text", Static).update(text)

    def set_state(self, check: str, state: CheckState) -> None:
        self.states[check] = state
        if self.is_mounted:
            self.query_one(CheckSidebar).set_state(check, state)
            if check == self.current:
                self._refresh_status()

    def check_queued(self, check: str) -> None:
        self.set_state(check, CheckState("queued"))

    def check_started(self, check: str) -> None:
        self.findings[check] = []
        self.settled[check] = False
        self.messages[check] = ""
        self.set_state(check, CheckState("running"))
        if self.is_mounted:   # the runs' evidence has been read; the check's own results come first now
            self.query_one("#runs", Collapsible).collapsed = True
        if check == self.current:
            self._refresh_findings()

    def variant_done(self, check: str, finding: Finding) -> None:
        self.findings.setdefault(check, []).append(finding)
        if check == self.current and self.is_mounted:
            self.query_one(AblationTable).add(finding)
            self._refresh_chart()

    def check_finished(self, result: CheckResult, findings: dict[str, list[Finding]]) -> None:
        for cid, fs in findings.items():
            self.findings[cid] = fs
            self.settled[cid] = True
        self.messages[result.check] = result.message
        for cid, fs in findings.items():
            state = self.states.get(cid)
            if state and state.status == "done":
                self.set_state(cid, _done_state(fs))
        if result.status == "done":
            self.set_state(result.check, _done_state(result.findings))
        else:
            self.set_state(result.check, CheckState(result.status))
        self.pairs.pop(result.check, None)   # its best variant is now the natural reference
        if self.is_mounted:
            self._refresh_findings()
            if result.check == self.current:
                self.post_message(self.PromptRequested(self.current))

    def check_failed(self, check: str, text: str) -> None:
        self.messages[check] = text
        self.set_state(check, CheckState("failed"))

    def check_cancelled(self, check: str) -> None:
        self.messages[check] = "Every finished batch is cached: running it again resumes there."
        self.set_state(check, CheckState("cancelled"))

    def unqueue(self, checks: list[str]) -> None:
        for c in checks:
            if c in self.states and self.states[c].status == "queued":
                self.set_state(c, CheckState("pending"))

    def show_progress(self, info: ProgressInfo) -> None:
        """The progress line, and the running check's percentage: how far the whole check is
        (variants done), which never goes back as one variant's batch would."""
        if not self.is_mounted:
            return
        self.query_one(RunProgress).show(info)
        state = self.states.get(info.step.check)
        if state and state.status == "running":
            self.set_state(info.step.check, CheckState("running", percent=int(100 * info.outlook.fraction)))

    def show_idle(self, text: str = "idle") -> None:
        if self.is_mounted:
            self.query_one(RunProgress).idle(text)

    def show_pair(self, check: str, pair: PromptPair) -> None:
        self.pairs[check] = pair
        if check == self.current and self.is_mounted:
            self.query_one(PromptDiff).show(pair)

    # -- the selected check ----------------------------------------------------------------------

    @on(OptionList.OptionHighlighted, "#sidebar")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and event.option.id != self.current:
            self.show_check(event.option.id)

    def show_check(self, check_id: str) -> None:
        self.current = check_id
        self.query_one("#detail", VerticalScroll).scroll_home(animate=False)   # a new check reads from its top
        check = get_check(check_id)
        self.query_one("#check-title", Static).update(Text(f"{check.title} ({check_id})", style="bold"))
        self.query_one("#why-text", Static).update(
            Text(check.explanation + "\n\nReading the result: " + check.reading))
        self._refresh_status()
        self._build_questions(check_id)
        self.query_one(PromptDiff).show(self.pairs.get(check_id))
        if check_id not in self.pairs:
            self.post_message(self.PromptRequested(check_id))
        self._refresh_findings()

    def _refresh_status(self) -> None:
        state = self.states[self.current]
        text = {"pending": "Not run yet: press r to run it (a: every remaining check).",
                "off": "Not in this session's checks; r runs it anyway.",
                "queued": "Queued: it runs after the current work.",
                "running": "Running…", "skipped": "Skipped.", "failed": "Failed.",
                "cancelled": "Cancelled.", "done": "Done."}.get(state.status, state.status)
        message = self.messages.get(self.current, "")
        if message:
            text += " " + message
        if self.current in OUTPUT_CHECKS and self.summary and self.summary.outputs:
            text += " Your outputs: " + self.summary.outputs   # counted from them, no model calls
        self.query_one("#check-status", Static).update(Text(text))

    def _refresh_findings(self) -> None:
        findings = self.findings.get(self.current, [])
        self.query_one(AblationTable).show(findings, self.settled.get(self.current, False))
        self._refresh_chart()

    def _refresh_chart(self) -> None:
        if not self.is_mounted:
            return
        gap = self.summary.gap if self.summary else None
        self.query_one(EffectChart).show(effects_of(self.findings.get(self.current, [])), gap)

    def _build_questions(self, check_id: str) -> None:
        """One input per setup key the check asks about (no ids: the old inputs may still be
        on their way out when the new ones mount)."""
        box = self.query_one("#questions", Vertical)
        box.remove_children()
        check = get_check(check_id)
        by_key: dict[str, list[str]] = {}
        for q in check.questions:
            by_key.setdefault(q.key, []).append(q.text)
        widgets = []
        for key, texts in by_key.items():
            widgets.append(Static(" ".join(texts), classes="question"))
            value = self.session.known.get(key)
            widgets.append(Input(fact_text(value), placeholder=f"{key}: unknown (Enter saves)", classes="fact",
                                 name=key))
            widgets.append(Static(self._untested(key), classes="fact-error", name=key))
        box.mount(*widgets)

    def _untested(self, key: str) -> str:
        """Why a fact the report states cannot be tested ('' when it can, or is not stated)."""
        why = self.summary.untested.get(key, "") if self.summary else ""
        return f"Not testable: {why}" if why else ""

    @on(Input.Submitted, ".fact")
    def _fact_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.FactEdited(event.input.name or "", event.value))

    def fact_saved(self, key: str, value: str, error: str) -> None:
        """The app's answer to FactEdited: '' or why the value was refused."""
        for note in self.query(".fact-error").results(Static):
            if note.name == key:
                note.update(error or f"Saved: {key} = {value.strip() or 'unknown'}. Run the check again (r).")

    # -- actions -----------------------------------------------------------------------------------

    def action_run_selected(self) -> None:
        # The sidebar's highlight, not `current`: a key pressed right after an arrow key can run
        # before the highlight message reaches this screen.
        self.post_message(self.RunRequested((self.query_one(CheckSidebar).selected,)))

    def action_run_all(self) -> None:
        todo = tuple(c for c in self.session.checks if self.states[c].status in ("pending", "cancelled", "failed"))
        self.post_message(self.RunRequested(todo))

    def action_cancel(self) -> None:
        self.post_message(self.CancelRequested())

    def action_toggle_tokens(self) -> None:
        diff = self.query_one(PromptDiff)
        diff.tokens = not diff.tokens

    def action_ranking(self) -> None:
        self.post_message(self.RankingRequested())

    def action_save(self) -> None:
        self.post_message(self.SaveRequested())

    def action_step_check(self, step: int) -> None:
        sidebar = self.query_one(CheckSidebar)
        if sidebar.highlighted is None:
            sidebar.highlighted = 0
        else:
            sidebar.highlighted = max(0, min(len(CHECK_IDS) - 1, sidebar.highlighted + step))

    def action_scroll_detail(self, pages: int) -> None:
        detail = self.query_one("#detail", VerticalScroll)
        if pages < 0:
            detail.scroll_page_up(animate=False)
        else:
            detail.scroll_page_down(animate=False)

    def action_back(self) -> None:
        if isinstance(self.focused, Input):    # Esc leaves the input first, the session after
            self.query_one(CheckSidebar).focus()
            return
        self.post_message(self.LeaveRequested())


def _done_state(findings: list[Finding]) -> CheckState:
    """Done, with the best cause's effect; a check of noise-floor repeats (seed) names no effect."""
    causes = [f for f in findings if not f.variant.repeat]
    if not causes:
        return CheckState("done")
    best = max(causes, key=lambda f: f.closes)
    return CheckState("done", best.delta, best.significant)
