"""Your rendered prompt beside the reference's, with visible whitespace, or token by token.

Text view: lines aligned by difflib, whitespace made visible (␣ space, → tab, ↵ newline: the
engine's `visible`), a marker column saying how each row differs (`~` changed, `-` only yours,
`+` only the reference), so the difference reads without colour too.

Token view: the model input as token ids and token strings, aligned the same way, so a doubled
BOS or a space merged into " A" shows up as a changed row.

Narrower than `SIDE_BY_SIDE` cells (80 columns with the keys panel open), the two sides stack:
each differing row as a `-` line (yours) over a `+` line (the reference), as a unified diff
does, so neither side is squeezed into a few letters per line.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from scoregap.engine.report_formats import visible


@dataclass(frozen=True)
class PromptPair:
    yours_name: str
    reference_name: str
    yours: str
    reference: str
    yours_tokens: tuple[tuple[int, str], ...] = ()
    reference_tokens: tuple[tuple[int, str], ...] = ()
    note: str = ""                     # shown above the diff (what the reference is)


def aligned(a: list[str], b: list[str], key_a: list | None = None, key_b: list | None = None):  # noqa: ANN201
    """Rows (marker, left, right) of two sequences aligned by difflib."""
    matcher = difflib.SequenceMatcher(a=key_a or a, b=key_b or b, autojunk=False)
    rows: list[tuple[str, str, str]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows += [(" ", a[i], b[j]) for i, j in zip(range(i1, i2), range(j1, j2))]
            continue
        left, right = a[i1:i2], b[j1:j2]
        for k in range(max(len(left), len(right))):
            l = left[k] if k < len(left) else ""
            r = right[k] if k < len(right) else ""
            rows.append(("~" if k < len(left) and k < len(right) else ("-" if k < len(left) else "+"), l, r))
    return rows


CONTEXT = 2   # identical rows kept around each difference
SIDE_BY_SIDE = 56   # cells below which the two sides stack


def collapse(rows: list[tuple[str, str, str]], context: int = CONTEXT) -> list[tuple[str, str, str]]:
    """Long runs of identical rows shrink to `context` rows each side of a difference and one
    `⋯ N identical` row, so a long few-shot prompt does not push the differences off screen."""
    out: list[tuple[str, str, str]] = []
    i = 0
    while i < len(rows):
        if rows[i][0] != " ":
            out.append(rows[i])
            i += 1
            continue
        j = i
        while j < len(rows) and rows[j][0] == " ":
            j += 1
        run = rows[i:j]
        keep_head = context if i > 0 else 0
        keep_tail = context if j < len(rows) else 0
        if len(run) > keep_head + keep_tail + 1:
            hidden = len(run) - keep_head - keep_tail
            note = f"⋯ {hidden} identical"
            out += run[:keep_head] + [("⋯", note, note)] + (run[len(run) - keep_tail:] if keep_tail else [])
        else:
            out += run
        i = j
    return out


def token_cell(token_id: int, text: str) -> str:
    """`  319 ␣A`: the id, then the token's text with its whitespace visible, on one line."""
    return f"{token_id:>6} {visible(text).replace(chr(10), '')}"


class PromptDiff(Static):
    DEFAULT_CSS = """
    PromptDiff { height: auto; }
    """

    pair: reactive[PromptPair | None] = reactive(None, layout=True)
    tokens: reactive[bool] = reactive(False, layout=True)

    def show(self, pair: PromptPair | None) -> None:
        self.pair = pair

    def watch_pair(self) -> None:
        self.update(self._render_pair())

    def watch_tokens(self) -> None:
        self.update(self._render_pair())

    def on_resize(self) -> None:
        stacked = self._stacked()
        if stacked != getattr(self, "_was_stacked", stacked):
            self.update(self._render_pair())
        self._was_stacked = stacked

    def _stacked(self) -> bool:
        return 0 < self.size.width < SIDE_BY_SIDE

    def _render_pair(self) -> Table | Text:
        p = self.pair
        if p is None:
            return Text("The prompts appear once your setup is measured.", style="dim")
        stacked = self._stacked()
        table = Table(box=None, expand=True, pad_edge=False, show_edge=False, padding=(0, 1),
                      show_header=not stacked)
        table.add_column("", width=1, no_wrap=True)
        table.add_column(p.yours_name, ratio=1, overflow="fold")
        if not stacked:
            table.add_column(p.reference_name, ratio=1, overflow="fold")
        if self.tokens:
            a = [token_cell(i, s) for i, s in p.yours_tokens]
            b = [token_cell(i, s) for i, s in p.reference_tokens]
            rows = aligned(a, b, [i for i, _ in p.yours_tokens], [i for i, _ in p.reference_tokens])
        else:
            rows = aligned(visible(p.yours).splitlines(), visible(p.reference).splitlines())
        changed = sum(marker != " " for marker, _, _ in rows)
        for marker, left, right in (collapse(rows) if changed else rows):
            if marker == "⋯":
                cells = [Text(left, style="dim italic")] + ([] if stacked else [Text(right, style="dim italic")])
                table.add_row("", *cells)
            elif stacked:
                if marker == " ":
                    table.add_row(" ", Text(left))
                    continue
                if left:
                    table.add_row("-", Text(left, style="bold reverse"))
                if right:
                    table.add_row("+", Text(right, style="bold reverse"))
            else:
                style = "" if marker == " " else "bold reverse"
                table.add_row(marker, Text(left, style=style if left else ""), Text(right, style=style if right else ""))
        header = p.note + ("  " if p.note else "")
        if stacked:
            header += f"- {p.yours_name}, + {p.reference_name}. "
        if self.tokens:
            header += f"Tokens: {len(p.yours_tokens)} vs {len(p.reference_tokens)}; {changed} rows differ."
        else:
            header += ("Identical prompts." if changed == 0 else "1 line differs." if changed == 1
                       else f"{changed} lines differ.")
        grid = Table.grid(expand=True)
        grid.add_row(Text(header, style="italic"))
        grid.add_row(table)
        return grid
