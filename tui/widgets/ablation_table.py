"""The table of a check's variants: score, Δ vs yours, CI, share of the gap closed, significance.

Rows are added as the variants finish (`add`) and replaced when the check's significance is
settled (`show`). Numbers are points (percentages of the metric's scale).
"""

from __future__ import annotations

from textual.widgets import DataTable

from scoregap.engine.checks_api import Finding
from scoregap.engine.report_formats import closes_text

COLUMNS = ("variant", "score", "Δ", "95% CI", "closes", "sig")


def _pts(x: float) -> str:
    return f"{100 * x:.1f}" if x == x else "—"


def _signed(x: float) -> str:
    return f"{100 * x:+.1f}" if x == x else "—"


def row_of(f: Finding, settled: bool = True) -> tuple[str, ...]:
    name = f.variant.name + (" (known)" if f.variant.known else "")
    ci = f"[{_signed(f.ci[0])}, {_signed(f.ci[1])}]"
    screened = f.screened
    if screened:                # settled on the screening subset
        sig = "noise" if screened == "inside the noise floor" else "away"
    elif not settled:
        sig = "…"
    else:
        sig = "yes" if f.significant else "no"
    score = _pts(f.score) + (f" n={f.n}" if f.screened else "")   # a screening subset's score
    closes = closes_text({"closes": f.closes if f.closes == f.closes else None, "round": f.round})
    return (name, score, _signed(f.delta), ci, closes, sig)


class AblationTable(DataTable):
    DEFAULT_CSS = """
    AblationTable { height: auto; max-height: 14; }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = False
        self.add_columns(*COLUMNS)

    def show(self, findings: list[Finding], settled: bool = True) -> None:
        self.clear()
        for f in findings:
            self.add_row(*row_of(f, settled))

    def add(self, finding: Finding) -> None:
        self.add_row(*row_of(finding, settled=False))
