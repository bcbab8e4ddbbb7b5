"""The start screen's "Import a run": two lm-eval outputs become a session the app opens, with
what the two runs show in the checklist; an error keeps every answer, and an existing session is
replaced only on a second press. The runs are small hand-written lm-eval outputs (no model runs
until the session is measured, which this test does not do)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lmeval_outputs import write_run


async def press_import(pilot) -> None:
    """Click Import as a person would: a Button ignores clicks while its 0.2 s "pressed" effect
    still shows, and on a loaded machine the previous answer can come back sooner than that."""
    button = pilot.app.screen.query_one("#do-import")
    for _ in range(100):
        if not button.has_class("-active"):
            break
        await pilot.pause(0.05)
    await pilot.click("#do-import")


async def imported(pilot, result, before: str) -> str:
    """Press Import and wait for the worker's answer to replace `before` (a worker still pending
    is not running yet, so waiting for running workers alone can return too early)."""
    await press_import(pilot)
    for _ in range(600):
        await pilot.pause(0.05)
        shown = str(result.render())
        if shown != before and shown != "Reading the runs…":
            return shown
    raise AssertionError(f"the import never answered (still: {shown[:80]})")


async def _import_two_runs(tmp_path: Path) -> None:
    from textual.widgets import Input, Static

    from scoregap.tui.app import make_app
    from scoregap.tui.screens.checklist import ChecklistScreen
    from scoregap.tui.screens.import_run import ImportScreen

    yours, theirs = write_run(tmp_path / "a"), write_run(tmp_path / "b", shots=5)
    out = tmp_path / "imported.toml"
    app = make_app(cache_dir=tmp_path / "cache", autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i")
        assert isinstance(app.screen, ImportScreen)
        screen = app.screen
        result = screen.query_one("#import-result", Static)
        screen.query_one("#yours-run", Input).value = str(tmp_path / "nowhere")
        screen.query_one("#reported", Input).value = str(theirs)
        screen.query_one("#import-out", Input).value = str(out)
        assert "no such file or folder" in await imported(pilot, result, str(result.render()))
        assert screen.query_one("#reported", Input).value == str(theirs)       # answers kept
        screen.query_one("#yours-run", Input).value = str(yours)
        shown = await imported(pilot, result, str(result.render()))
        assert "3/3 prompts identical" in shown and "fewshot.k): yours 0, reported 5" in shown
        assert out.is_file()
        before = out.read_text()
        await press_import(pilot)                          # the file exists now: asks first
        await pilot.pause()
        assert "exists. Press Import again" in str(result.render()) and out.read_text() == before
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, ChecklistScreen)
        assert app.screen.query_one("#runs").display          # the runs' pane, filled once measured


def test_two_runs_become_a_session_the_app_opens(tmp_path: Path) -> None:
    asyncio.run(_import_two_runs(tmp_path))
