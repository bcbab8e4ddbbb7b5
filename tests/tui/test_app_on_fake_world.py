"""The app on the fake backend: fast Pilot tests of how screens and the app talk (messages, not
calls) and of what the checklist shows from the engine (your outputs, the noise floor)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakeworld import write_fake_model, write_qa_task, write_session, write_setup
from pilot import highlight, settle


def qa_session(tmp_path: Path) -> Path:
    task = write_qa_task(tmp_path / "task", n_docs=40)
    model = write_fake_model(tmp_path / "model", task, output="{answer}\n\nQuestion: one more", chat_template=True)
    yours = write_setup(tmp_path / "yours.toml", task, **{"chat.apply_template": True, "loading.add_bos_token": "true"})
    return write_session(tmp_path / "session.toml", model, yours, reported_score=0.9, checks=("generation",),
                         cache_dir=tmp_path / "cache")


async def _test_screens_ask_the_app_with_messages_and_the_pane_shows_your_outputs(tmp_path: Path) -> None:
    from textual.widgets import Static

    from scoregap.tui.app import make_app
    from scoregap.tui.screens.checklist import ChecklistScreen, summary_text

    from scoregap.tui.session_run import Measured, Scored

    seen: list = []
    app = make_app(qa_session(tmp_path), cache_dir=tmp_path / "cache")
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(app, pilot)
        assert app.checklist.summary is not None
        # Your score reached the screen before the noise floor did, and the header said what was next.
        kinds = [type(m) for m in seen]
        assert kinds.index(Scored) < kinds.index(Measured)
        scored = next(m for m in seen if isinstance(m, Scored))
        waiting = summary_text(None, app.checklist.session, score=(scored.yours, scored.n)).plain
        assert f"yours {100 * scored.yours:.1f} (n=40)" in waiting and "measuring the noise floor" in waiting
        await highlight(app, pilot, "generation")
        await pilot.press("r")
        await settle(app, pilot)
        assert any(isinstance(m, ChecklistScreen.RunRequested) and m.checks == ("generation",) for m in seen)
        assert any(isinstance(m, ChecklistScreen.PromptRequested) for m in seen)
        assert app.checklist.states["generation"].status == "done"
        status = str(app.screen.query_one("#check-status", Static).render())
        assert "100.0% of generations stopped at a stop sequence" in status
        assert "40 of 40 inputs began with a doubled BOS token" in status
        diff = app.checklist.pairs.get("generation")
        assert diff is not None and diff.yours.startswith("<s><|user|>")   # the engine's model input
        await pilot.press("g")
        await settle(app, pilot)
        assert app.report is not None and app.report["outputs"]["doubled_bos"] == 40


def test_screens_ask_the_app_with_messages_and_the_pane_shows_your_outputs(tmp_path: Path) -> None:
    asyncio.run(_test_screens_ask_the_app_with_messages_and_the_pane_shows_your_outputs(tmp_path))
