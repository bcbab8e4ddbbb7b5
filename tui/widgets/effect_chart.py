"""A small bar chart of effects with their confidence intervals, drawn with block characters.

One row per variant: the bar runs from 0 to the effect (█), the 95% CI around it (─), the zero
line (│) and the gap to close (┆) are columns of their own, so the chart reads the same in a
plain `linux` console without colour. A `*` marks a significant effect. Redrawn on resize.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


@dataclass(frozen=True)
class Effect:
    label: str
    delta: float                     # fraction; drawn in points
    ci: tuple[float, float]
    significant: bool = False


def _finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")


class EffectChart(Widget):
    DEFAULT_CSS = """
    EffectChart { height: auto; min-height: 1; }
    """

    effects: reactive[tuple[Effect, ...]] = reactive((), layout=True)
    gap: reactive[float | None] = reactive(None)

    def show(self, effects: list[Effect] | tuple[Effect, ...], gap: float | None) -> None:
        self.effects = tuple(effects)
        self.gap = gap

    def get_content_height(self, container, viewport, width: int) -> int:  # noqa: ANN001
        return max(len(self.effects), 1) + (1 if self.effects else 0)

    def render(self) -> Text:
        if not self.effects:
            return Text("No effects yet.", style="dim")
        width = max(self.size.width, 30)
        label_w = min(18, max(len(e.label) for e in self.effects))
        value_w = 8
        plot_w = max(width - label_w - value_w - 3, 10)
        values = [abs(x) for e in self.effects for x in (e.delta, *e.ci) if _finite(x)]
        if self.gap is not None and _finite(self.gap):
            values.append(abs(self.gap))
        scale = max(values, default=0.0) or 1.0
        half = (plot_w - 1) // 2

        def col(x: float) -> int:
            return half + round(max(-1.0, min(1.0, x / scale)) * half)

        zero = col(0.0)
        gap_col = col(self.gap) if self.gap is not None and _finite(self.gap) else None
        out = Text(no_wrap=True, overflow="ellipsis")
        for e in self.effects:
            cells = [" "] * plot_w
            if all(_finite(x) for x in e.ci):
                for i in range(col(e.ci[0]), col(e.ci[1]) + 1):
                    cells[i] = "─"
            if gap_col is not None:
                cells[gap_col] = "┆"
            cells[zero] = "│"
            if _finite(e.delta):
                lo, hi = sorted((zero, col(e.delta)))
                for i in range(lo, hi + 1):
                    if i != zero or lo == hi:
                        cells[i] = "█"
            label = e.label if len(e.label) <= label_w else e.label[: label_w - 1] + "…"
            out.append(f"{label:<{label_w}} ")
            out.append("".join(cells), style="bold" if e.significant else "dim")
            value = f"{100 * e.delta:+.1f}{'*' if e.significant else ' '}" if _finite(e.delta) else "—"
            out.append(f" {value:>{value_w}}\n")
        axis = [" "] * plot_w
        axis[zero] = "0"
        if gap_col is not None:
            axis[gap_col] = "g"
        out.append(" " * (label_w + 1) + "".join(axis) + f" {'pts':>{value_w}}", style="dim")
        return out
