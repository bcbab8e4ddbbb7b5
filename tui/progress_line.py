"""What a running diagnosis is doing, in words both front ends show: where it is, what the engine
is doing, and the time left.

`where`: "check 3/9 prompt · variant 4/12 labels (a)", "measuring 2/4 · few-shot seed repeats",
"measuring 4/4 · batch-size repeat", "ranking · the fixes together". `doing`: "reading the cache", "loading the
model (transformers)", "37/60 4.9/s". `times`: "ETA 2:10, all 14:05" (the phase, then every check
asked for; only what the pace can estimate). `line` fits them and a bar of the phase into a width:
the place is cut short with an ellipsis, never run into what follows. The app's progress line
(widgets/run_progress.py) and `scoregap diagnose` (console.py) both use them.
"""

from __future__ import annotations

from scoregap.engine.events import COMPUTING, CONCLUDING, MEASURING, OPENING, ProgressInfo

SEP = " · "
ELLIPSIS = "…"
PLACE = 40         # columns the place is given before the bar, then the run's time left, give way


def clock(seconds: float) -> str:
    """"0:42", "12:05", "1:02:03": minutes and seconds, hours only when there are any."""
    seconds = int(max(seconds, 0) + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def phase_name(info: ProgressInfo) -> str:
    """The phase alone: "measuring", "check 3/9 prompt", "ranking"."""
    step, o = info.step, info.outlook
    if step.check == MEASURING:
        return "measuring"
    if step.check == CONCLUDING:
        return "ranking"
    if step.check == OPENING:
        return "opening"
    return f"check {o.check}/{o.checks} {step.check}" if o.check else step.check


def where(info: ProgressInfo) -> str:
    step = info.step
    count = f"{step.index}/{step.total}"
    if step.check == MEASURING:   # the part says what is measured; each repeat's name is in the report
        return f"measuring {count}{SEP}{step.part or step.name}"
    if step.check == CONCLUDING:
        return SEP.join(["ranking", step.name] + ([count] if step.total > 1 else []))
    if step.check == OPENING:
        return step.name
    return SEP.join([phase_name(info), f"variant {count} {step.name}"])


def doing(info: ProgressInfo, rate: bool = True) -> str:
    if info.stage != COMPUTING:
        return info.stage
    text = f"{info.done}/{info.total}"
    return text + (f" {info.rate:.1f}/s" if rate and info.rate > 0 and not info.finished else "")


def times(info: ProgressInfo, run: bool = True) -> str:
    o = info.outlook
    parts = []
    if o.phase_eta is not None:
        parts.append(f"ETA {clock(o.phase_eta)}")
    if run and o.run_eta is not None and o.checks > 1:
        parts.append(f"all {clock(o.run_eta)}")
    return ", ".join(parts)


def cut(text: str, width: int) -> str:
    """`text` in at most `width` columns, an ellipsis marking what was left out."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + ELLIPSIS if width > 0 else ""


def bar(fraction: float, width: int) -> str:
    filled = int(width * min(max(fraction, 0.0), 1.0))
    return "#" * filled + "-" * (width - filled)


def line(info: ProgressInfo, width: int) -> str:
    """One line of at most `width` columns: the place, how far the phase is (a bar and a
    percentage), what the engine does, the time left. The place is shown whole if dropping the
    rate, then the bar, makes room for it; else it keeps at least `PLACE` columns, the run's time
    left going too if need be, and is cut short with an ellipsis."""
    place = where(info)
    percent = f"{int(100 * info.outlook.fraction)}%"
    options = []
    for rate, run, with_bar in ((True, True, True), (False, True, True), (False, True, False), (False, False, False)):
        head = f" [{bar(info.outlook.fraction, 10)}] {percent:>4} " if with_bar else SEP + percent + SEP
        right = SEP.join(p for p in (doing(info, rate), times(info, run)) if p)
        options.append((head, right, width - len(head) - len(right)))
    whole = [o for o in options[:3] if o[2] >= len(place)]            # the run's time left is kept for it
    head, right, room = (whole or [o for o in options if o[2] >= min(len(place), PLACE)] or options[-1:])[0]
    if room <= 0:
        return cut(right, width)
    return cut(place, room).ljust(room) + head + right
