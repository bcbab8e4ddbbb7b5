"""Two logged runs, doc by doc: the docs whose outcome or prompt differs (flips first), and the
highlighted doc's two prompts diffed with visible whitespace. Drawn from the report model's
`runs.comparison` (engine/run_comparison.py `doc_rows`); no model is called."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from scoregap.engine.report_formats import DOC_COLUMNS, doc_cells, doc_lines_intro, prompt_diff

DIFF_LINES = 60


class RunDocsScreen(Screen):
    BINDINGS = [Binding("escape", "back", "Ranking")]

    def __init__(self, comparison: dict[str, Any]) -> None:
        super().__init__()
        self.comparison = comparison

    def compose(self) -> ComposeResult:
        yield Static(doc_lines_intro(self.comparison) + " ↑↓ pick a doc; its two prompts are diffed below "
                     "(␣ space, ↵ newline, ⟨answer⟩).", id="docs-intro", markup=False)
        yield DataTable(id="docs-table", cursor_type="row")
        with VerticalScroll(id="docs-diff-body"):
            yield Static("", id="docs-diff", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*DOC_COLUMNS)
        for row in self.comparison["docs"]:
            cells = doc_cells(row)
            table.add_row(*(cells[c] for c in DOC_COLUMNS))
        self.show_doc(0)
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_doc(event.cursor_row)

    def show_doc(self, index: int) -> None:
        rows = self.comparison["docs"]
        if not 0 <= index < len(rows):
            return
        row = rows[index]
        cells = doc_cells(row)
        diff = prompt_diff(row["yours"], row["reported"], "yours", "reported")[:DIFF_LINES]
        head = f"Doc {cells['doc']}: {cells['outcome']}; prompts {cells['prompts']}."
        self.query_one("#docs-diff", Static).update(head + "\n" + ("\n".join(diff) if diff else "(identical prompts)"))

    def action_back(self) -> None:
        self.app.pop_screen()
