"""Finding the way through the checklist at 80x24 (issue 15, finding 3): the list of checks has
focus on entry and the arrows move between checks wherever the focus is; the focused pane is
marked by its border, not by colour alone; a newly selected check opens at the top of its pane;
Esc in an input leaves the input; leaving while work runs asks first."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakeworld import write_fake_model, write_mc_task, write_session, write_setup
from pilot import settle


def mc_session(tmp_path: Path) -> Path:
    task = write_mc_task(tmp_path / "task", n_docs=40)
    model = write_fake_model(tmp_path / "model", task)
    yours = write_setup(tmp_path / "yours.toml", task)
    return write_session(tmp_path / "session.toml", model, yours, reported_score=0.9, checks=("metric", "prompt"),
                         cache_dir=tmp_path / "cache")


async def _test_arrows_move_between_checks_wherever_the_focus_is(tmp_path: Path) -> None:
    from textual.containers import VerticalScroll
    from textual.widgets import Input

    from scoregap.engine.checks_api import CHECK_IDS
    from scoregap.tui.app import make_app
    from scoregap.tui.widgets.check_sidebar import CheckSidebar

    app = make_app(mc_session(tmp_path), cache_dir=tmp_path / "cache")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.checklist
        sidebar = screen.query_one(CheckSidebar)
        assert app.focused is sidebar, f"focus on entry: {app.focused!r}"
        start = sidebar.highlighted
        await pilot.press("down")
        await pilot.pause()
        assert sidebar.highlighted == start + 1 and screen.current == CHECK_IDS[start + 1]
        # The page keys scroll the pane, even from the list (whose own page keys would jump checks).
        await pilot.press("pagedown")
        await pilot.pause()
        assert screen.current == CHECK_IDS[start + 1]

        # From inside the detail pane, the arrows still move between checks ...
        detail = screen.query_one("#detail", VerticalScroll)
        fact = screen.query(Input).first()
        fact.focus()
        await pilot.pause()
        await pilot.press("down")
        await pilot.pause()
        assert screen.current == CHECK_IDS[start + 2]
        # ... and the pane scrolls with the page keys.
        await pilot.press("pagedown")
        await pilot.pause()
        assert detail.scroll_y > 0, "pagedown scrolls the detail pane"
        # A newly selected check opens at the top of its pane, not mid-paragraph.
        await pilot.press("up")
        await pilot.pause()
        assert screen.current == CHECK_IDS[start + 1]
        assert detail.scroll_y == 0


async def _test_the_focused_pane_is_marked_without_colour(tmp_path: Path) -> None:
    from textual.widgets import Input

    from scoregap.tui.app import make_app
    from scoregap.tui.widgets.check_sidebar import CheckSidebar

    app = make_app(mc_session(tmp_path), cache_dir=tmp_path / "cache")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.checklist
        sidebar = screen.query_one(CheckSidebar)
        detail = screen.query_one("#detail")
        assert sidebar.styles.border_right[0] == "heavy" and detail.styles.border_left[0] in ("", "none")
        screen.query(Input).first().focus()
        await pilot.pause()
        assert sidebar.styles.border_right[0] != "heavy" and detail.styles.border_left[0] == "heavy"


async def _test_escape_in_an_input_leaves_the_input_not_the_session(tmp_path: Path) -> None:
    from textual.widgets import Input

    from scoregap.tui.app import make_app
    from scoregap.tui.screens.checklist import ChecklistScreen
    from scoregap.tui.widgets.check_sidebar import CheckSidebar

    app = make_app(mc_session(tmp_path), cache_dir=tmp_path / "cache")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.checklist
        screen.query(Input).first().focus()
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ChecklistScreen)
        assert isinstance(app.focused, CheckSidebar)


async def _test_leaving_while_work_runs_asks_first(tmp_path: Path) -> None:
    from scoregap.tui.app import make_app
    from scoregap.tui.screens.checklist import ChecklistScreen
    from scoregap.tui.screens.confirm_quit import ConfirmLeaveScreen
    from scoregap.tui.screens.start import StartScreen

    app = make_app(mc_session(tmp_path), cache_dir=tmp_path / "cache")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        run = app.session_run
        run.running = "prompt"          # as a check in flight would
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmLeaveScreen)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ChecklistScreen)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert run.cancelled.is_set()   # the run in flight was told to stop
        run.running = ""
        await settle(app, pilot)
        assert isinstance(app.screen, StartScreen)


def test_arrows_move_between_checks_wherever_the_focus_is(tmp_path: Path) -> None:
    asyncio.run(_test_arrows_move_between_checks_wherever_the_focus_is(tmp_path))


def test_the_focused_pane_is_marked_without_colour(tmp_path: Path) -> None:
    asyncio.run(_test_the_focused_pane_is_marked_without_colour(tmp_path))


def test_escape_in_an_input_leaves_the_input_not_the_session(tmp_path: Path) -> None:
    asyncio.run(_test_escape_in_an_input_leaves_the_input_not_the_session(tmp_path))


def test_leaving_while_work_runs_asks_first(tmp_path: Path) -> None:
    asyncio.run(_test_leaving_while_work_runs_asks_first(tmp_path))
