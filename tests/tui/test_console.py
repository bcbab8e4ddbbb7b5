"""Headless output that fits a terminal (issue 15, finding 6): `scoregap diagnose` draws one line
per phase cut to the terminal's width and naming the check and the variant, writes plain lines
when its output is not a terminal."""

from __future__ import annotations

import io

from scoregap.engine.events import COMPUTING, READING_CACHE, Outlook, ProgressInfo, Step
from scoregap.tui.console import CLEAR, ConsoleEvents

LONG = "choices as (A) with the description moved into the system prompt, twice over"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def info(index: int, done: int, stage: str = COMPUTING, name: str = LONG) -> ProgressInfo:
    return ProgressInfo(Step("prompt", name, index, 12), "census_mc: 240 docs", done, 240, 10.0, done == 240,
                        stage, Outlook(5, 9, (index - 1 + done / 240) / 12, 130.0, 845.0))


def test_on_a_terminal_each_phase_is_one_line_redrawn_within_the_width() -> None:
    screen = Terminal()
    events = ConsoleEvents(stream=screen, width=80)
    for index in (3, 4):
        events.progress(info(index, 0, READING_CACHE))
        for done in range(0, 241, 24):
            events.progress(info(index, done))
    text = screen.getvalue()
    assert "\n" not in text                                  # redrawn in place, never a new line
    drawn = [d for d in text.split(CLEAR) if d]
    assert drawn and all(len(d) <= 79 for d in drawn)        # never wraps at 80 columns
    assert all(d.startswith("check 5/9 prompt · variant ") for d in drawn)
    assert drawn[-1].endswith("· 33% · 240/240 · ETA 2:10, all 14:05")   # the long name is cut instead
    events.progress(info(5, 0, name="labels (a)"))
    assert screen.getvalue().endswith(CLEAR + "check 5/9 prompt · variant 5/12 labels (a)  · 33% · 0/240 · "
                                      "ETA 2:10, all 14:05")   # the bar gives way to the place
    text = screen.getvalue()
    events.say("your score 50.0 (n=60), reported 96.2, gap +46.2, noise floor ±9.9, and words enough to wrap "
               "a second line")
    said = screen.getvalue()[len(text):]
    assert said.startswith(CLEAR) and all(len(line) <= 79 for line in said[len(CLEAR):].splitlines())


def test_without_a_terminal_each_step_is_one_plain_line() -> None:
    log = io.StringIO()
    events = ConsoleEvents(stream=log, width=80)
    for index in (3, 4):
        events.progress(info(index, 0, READING_CACHE))
        for done in range(0, 241, 24):
            events.progress(info(index, done))
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and CLEAR not in log.getvalue()
    assert lines == [f"check 5/9 prompt · variant {i}/12 {LONG} · ETA 2:10, all 14:05" for i in (3, 4)]
