"""The ranking: the causes best first, their effects with CIs, the reconciliation, the Shapley
split and the commands that reproduce the reported score. Drawn from the report model
(engine/reports.py `report_model`), the same data the saved reports hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from scoregap.engine.report_formats import closes_text, numbering, runs_lines, score_text, verdict_line
from scoregap.tui.widgets.effect_chart import Effect, EffectChart


def _signed(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.1f}"


class RankingScreen(Screen):
    @dataclass
    class SaveRequested(Message):
        pass

    BINDINGS = [Binding("s", "save", "Save report"), Binding("escape", "back", "Checklist")]

    def __init__(self) -> None:
        super().__init__()
        self.report: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="ranking-body"):
            yield Static("Ranking the causes… (after any queued check)", id="verdict")
            yield Static("", id="ranking-runs", markup=False)
            yield DataTable(id="ranking-table", cursor_type="row")
            yield Static("Effects (points; █ effect, ─ 95% CI, ┆ g: the gap, * significant)",
                         classes="section-title")
            yield EffectChart(id="ranking-effects")
            yield Static("", id="shapley")
            yield Static("", id="reproduce")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("#", "check", "variant", "score", "Δ", "95% CI", "closes", "sig")
        if self.report is not None:
            self.show(self.report)

    def show(self, report: dict[str, Any]) -> None:
        self.report = report
        if not self.is_mounted:
            return
        self.query_one("#verdict", Static).update(Text(verdict_line(report), style="bold"))
        runs = runs_lines(report)
        self.query_one("#ranking-runs", Static).update(
            "What the two runs show:\n" + "\n".join(f"• {line}" for line in runs) if runs else "")
        self.query_one("#ranking-runs", Static).display = bool(runs)
        table = self.query_one(DataTable)
        table.clear()
        effects = []
        n = report["yours"]["n"]
        rows = report["ranking"]
        for label, r in zip(numbering(rows), rows):   # 2a, 2b: equivalent causes, one explanation
            ci = f"[{_signed(r['ci'][0])}, {_signed(r['ci'][1])}]"
            after = f" (after {', '.join(r['after'])})" if r.get("after") else ""   # a later round's cause
            table.add_row(label, r["check"], r["variant"] + after, score_text(r, n), _signed(r["delta"]), ci,
                          closes_text(r), "yes" if r["significant"] else "no")
            lo, hi = (x if x is not None else float("nan") for x in r["ci"])
            effects.append(Effect(f"{r['check']}: {r['variant']}",
                                  r["delta"] if r["delta"] is not None else float("nan"), (lo, hi), r["significant"]))
        if not report["ranking"]:
            table.add_row("", "no check has finished yet", "", "", "", "", "", "")
        self.query_one(EffectChart).show(effects, report["gap"])
        rec = report["reconciliation"]
        shapley = Text()
        if rec and rec["shapley"]:
            shapley.append("Shapley split of the gap: ", style="bold")
            shapley.append(", ".join(f"{k} {_signed(v)}" for k, v in rec["shapley"].items()) + " points.")
        self.query_one("#shapley", Static).update(shapley)
        rep = report["reproduce"]
        text = Text()
        if rec:
            text.append("Reproduce the reported score with lm-evaluation-harness:\n", style="bold")
        else:
            text.append("No fix found yet; your setup with lm-evaluation-harness:\n", style="bold")
        text.append(rep["lm_eval"] + "\n")
        if rep["lm_eval_differs"]:
            text.append("lm-eval cannot express: " + "; ".join(rep["lm_eval_differs"]) + "\n")
        text.append("\nWith scoregap (" + ("the reconciled setup" if rec else "your setup") + "):\n", style="bold")
        text.append(rep["scoregap"])
        self.query_one("#reproduce", Static).update(text)

    def action_save(self) -> None:
        self.post_message(self.SaveRequested())

    def action_back(self) -> None:
        self.app.pop_screen()
