"""The table of a check's variants: Δ vs yours, the docs it rests on, the share of the gap closed,
significance; the score and the CI where there is room.

Rows are added as the variants finish (`add`) and replaced when the check's significance is
settled (`show`). Numbers are points (percentages of the metric's scale). `n` is the docs a
conclusion rests on: a variant settled on a screening subset says so in `sig` ("noise": inside
the noise floor, "away": surely not a cause), so a 60-doc result never passes for a full one.

Below `WIDE` cells the table keeps the essential columns (variant, Δ, n, closes, sig) and gives
the variant's name what is left; wider, it adds the score and the 95% CI.
"""

from __future__ import annotations

from textual.events import Resize
from textual.widgets import DataTable

from scoregap.engine.checks_api import Finding
from scoregap.engine.report_formats import closes_text, sig_text

ESSENTIAL = ("variant", "Δ", "n", "closes", "sig")
ALL = ("variant", "score", "Δ", "95% CI", "n", "closes", "sig")
WIDE = 78            # cells the full table needs with a typical variant name
MIN_NAME = 12        # the variant column never gets narrower than this


def _pts(x: float) -> str:
    return f"{100 * x:.1f}" if x == x else "—"


def _signed(x: float) -> str:
    return f"{100 * x:+.1f}" if x == x else "—"


def cells_of(f: Finding, settled: bool = True) -> dict[str, str]:
    name = f.variant.name + (" (known)" if f.variant.known else "")
    sig = sig_text(f.significant, f.screened, settled)
    closes = closes_text({"closes": f.closes if f.closes == f.closes else None, "round": f.round})
    return {"variant": name, "score": _pts(f.score), "Δ": _signed(f.delta),
            "95% CI": f"[{_signed(f.ci[0])}, {_signed(f.ci[1])}]", "n": str(f.n), "closes": closes, "sig": sig}


def row_of(f: Finding, settled: bool = True, columns: tuple[str, ...] = ALL) -> tuple[str, ...]:
    cells = cells_of(f, settled)
    return tuple(cells[c] for c in columns)


class AblationTable(DataTable):
    DEFAULT_CSS = """
    AblationTable { height: auto; max-height: 14; }
    """

    can_focus = False   # a table to read: the arrows belong to the checklist

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.columns_shown: tuple[str, ...] = ()
        self._layout_key: tuple = ()
        self._rows: list[tuple[Finding, bool]] = []

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.zebra_stripes = False
        self._layout(self.size.width or WIDE)

    def on_resize(self, event: Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        """Choose the columns for `width` cells and draw the rows again."""
        columns = ALL if width >= WIDE else ESSENTIAL
        name_width = None if columns == ALL else max(MIN_NAME, width - 30)   # Δ 6, n 4, closes 7, sig 5, padding
        key = columns + ((name_width,) if name_width else ())
        if key == self._layout_key:
            return
        self._layout_key = key
        self.columns_shown = columns
        self.clear(columns=True)
        for c in columns:
            self.add_column(c, key=c, width=name_width if c == "variant" else None)
        for finding, settled in self._rows:
            self.add_row(*self._row(finding, settled))

    def show(self, findings: list[Finding], settled: bool = True) -> None:
        self._rows = [(f, settled) for f in findings]
        self.clear()
        for f in findings:
            self.add_row(*self._row(f, settled))

    def add(self, finding: Finding) -> None:
        self._rows.append((finding, False))
        self.add_row(*self._row(finding, False))

    def _row(self, finding: Finding, settled: bool) -> tuple[str, ...]:
        """The row in the columns shown; a name longer than its column ends in "…"."""
        cells = list(row_of(finding, settled, self.columns_shown or ALL))
        width = self._layout_key[-1] if self.columns_shown == ESSENTIAL else 0
        if width and len(cells[0]) > width:
            cells[0] = cells[0][:width - 1] + "…"
        return tuple(cells)
