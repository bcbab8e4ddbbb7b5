"""The ranking: the causes best first, their effects with CIs, the reconciliation, the Shapley
split and the commands that reproduce the reported score. Drawn from the report model
(engine/reports.py `report_model`), the same data the saved reports hold.

The table keeps its essential columns below `WIDE` cells (#, check, variant, Δ, n, closes, sig);
wider, it adds the score and the 95% CI. `n` is the docs each conclusion rests on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.events import Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from scoregap.engine.report_formats import closes_text, numbering, runs_lines, score_text, sig_text, verdict_line
from scoregap.tui.screens.run_docs import RunDocsScreen
from scoregap.tui.widgets.effect_chart import Effect, EffectChart


def _signed(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.1f}"


ESSENTIAL = ("#", "check", "variant", "Δ", "n", "closes", "sig")
ALL = ("#", "check", "variant", "score", "Δ", "95% CI", "n", "closes", "sig")
WIDE = 100   # cells the full table needs with typical names
RUNS_MARK = {1: " (runs show it)", -1: " (runs: same prompts)"}   # engine/ranking.py::RunsEvidence


def ranking_rows(report: dict[str, Any]) -> list[dict[str, str]]:
    """The ranking's cells, every column, one dict per row."""
    rows = report["ranking"]
    n = report["yours"]["n"]
    out = []
    for label, r in zip(numbering(rows), rows):   # 2a, 2b: equivalent causes, one explanation
        after = f" (after {', '.join(r['after'])})" if r.get("after") else ""   # a later round's cause
        after += RUNS_MARK.get(r.get("runs_show", 0), "")
        out.append({"#": label, "check": r["check"], "variant": r["variant"] + after, "score": score_text(r, n),
                    "Δ": _signed(r["delta"]), "95% CI": f"[{_signed(r['ci'][0])}, {_signed(r['ci'][1])}]",
                    "n": str(r["n"]), "closes": closes_text(r), "sig": sig_text(r["significant"], r.get("screened"))})
    return out


class RankingScreen(Screen):
    @dataclass
    class SaveRequested(Message):
        pass

    BINDINGS = [Binding("s", "save", "Save report"), Binding("d", "docs", "Doc by doc"),
                Binding("escape", "back", "Checklist")]

    def __init__(self) -> None:
        super().__init__()
        self.report: dict[str, Any] | None = None
        self._columns: tuple[str, ...] = ()

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
        self._draw_table(self.size.width)
        if self.report is not None:
            self.show(self.report)

    def on_resize(self, event: Resize) -> None:
        self._draw_table(event.size.width)

    def _draw_table(self, width: int) -> None:
        """The table with the columns `width` cells hold (all of them before the first layout)."""
        columns = ALL if width >= WIDE or width == 0 else ESSENTIAL
        if columns == self._columns:
            return
        self._columns = columns
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_columns(*columns)
        if self.report is not None:
            self._fill_table(self.report)

    def _fill_table(self, report: dict[str, Any]) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for cells in ranking_rows(report):
            table.add_row(*(cells[c] for c in self._columns))
        if not report["ranking"]:
            table.add_row("", "no check has finished yet", *([""] * (len(self._columns) - 2)))

    def show(self, report: dict[str, Any]) -> None:
        self.report = report
        if not self.is_mounted:
            return
        self.query_one("#verdict", Static).update(Text(verdict_line(report), style="bold"))
        runs = runs_lines(report)
        self.query_one("#ranking-runs", Static).update(
            "What the two runs show:\n" + "\n".join(f"• {line}" for line in runs) if runs else "")
        self.query_one("#ranking-runs", Static).display = bool(runs)
        self._fill_table(report)
        effects = []
        for r in report["ranking"]:
            lo, hi = (x if x is not None else float("nan") for x in r["ci"])
            effects.append(Effect(f"{r['check']}: {r['variant']}",
                                  r["delta"] if r["delta"] is not None else float("nan"), (lo, hi), r["significant"]))
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

    def action_docs(self) -> None:
        """The two runs doc by doc, when the session compared two logged runs."""
        comparison = ((self.report or {}).get("runs") or {}).get("comparison") or {}
        if not comparison.get("docs"):
            why = ("their docs agree in outcome and prompt" if comparison else
                   "the session compares no two logged runs (scoregap import ... --reported-run)")
            self.notify(f"Nothing to list doc by doc: {why}.")
            return
        self.app.push_screen(RunDocsScreen(comparison))

    def action_back(self) -> None:
        self.app.pop_screen()
