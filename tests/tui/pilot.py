"""Pilot helpers shared by the app's tests (not a test module)."""

from __future__ import annotations


async def settle(app, pilot) -> None:  # noqa: ANN001
    """Wait until the engine is idle and every worker and message is done. A worker cancelled
    on the way (an exclusive one replaced by a newer one, as the prompt pane's render is) is not
    a failure: the loop waits for what replaced it."""
    from textual.worker import WorkerCancelled

    for _ in range(2000):
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:
            pass
        await pilot.pause()
        if not app._driving and not any(w.is_running for w in app.workers):
            return
    raise AssertionError("the app never became idle")


async def highlight(app, pilot, check: str) -> None:  # noqa: ANN001
    """Select a check in the checklist's sidebar."""
    from scoregap.engine.checks_api import CHECK_IDS
    from scoregap.tui.widgets.check_sidebar import CheckSidebar

    app.screen.query_one(CheckSidebar).highlighted = CHECK_IDS.index(check)
    await pilot.pause()


def screen_text(app) -> str:  # noqa: ANN001
    """The screen as plain text, one line per terminal row: what a user sees, without colour."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())
