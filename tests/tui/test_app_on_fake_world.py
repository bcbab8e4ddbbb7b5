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
        # The report folder the save dialog offers: beside the work, per session (never a cache folder).
        assert app.default_report_dir() == Path.cwd() / "scoregap-report" / "session"


def test_screens_ask_the_app_with_messages_and_the_pane_shows_your_outputs(tmp_path: Path) -> None:
    asyncio.run(_test_screens_ask_the_app_with_messages_and_the_pane_shows_your_outputs(tmp_path))


def mc_session(tmp_path: Path) -> Path:
    from fakeworld import write_mc_task

    task = write_mc_task(tmp_path / "task", n_docs=160)
    labels = {"name": "labels 1", "when": r"[(\[]?\b1[.)\]] ", "docs": 0.5, "nats": -4.0}
    model = write_fake_model(tmp_path / "model", task, effects=[labels])
    yours = write_setup(tmp_path / "yours.toml", task, **{"prompt.choice_labels": "1", "fewshot.k": 2})
    theirs = write_setup(tmp_path / "reference.toml", task)
    return write_session(tmp_path / "session.toml", model, yours, reported_setup=theirs,
                         checks=("seed", "metric", "fewshot"), cache_dir=tmp_path / "cache")


async def _test_the_progress_line_plans_the_run_and_a_reopened_session_reads_the_cache(tmp_path: Path) -> None:
    """Issue 15, finding 5: the line says which check of how many, which variant, how far the
    check is (never going back) and the time left; a reopened session says it reads the cache."""
    from textual.widgets import Static

    from scoregap.tui.app import make_app
    from scoregap.tui.session_run import ProgressUpdate
    from scoregap.tui.widgets.run_progress import RunProgress

    session = mc_session(tmp_path)
    shown: list[tuple[str, str]] = []
    percents: list[int] = []

    def watch(app) -> None:  # noqa: ANN001 - what the progress line and the sidebar show, as they change
        show = app.checklist.show_progress

        def recorded(info) -> None:  # noqa: ANN001
            show(info)
            line = app.checklist.query_one(RunProgress)
            shown.append((str(line.query_one("#stage", Static).render()),
                          str(line.query_one("#numbers", Static).render())))
            state = app.checklist.states.get("fewshot")
            if state and state.status == "running" and state.percent is not None:
                percents.append(state.percent)

        app.checklist.show_progress = recorded

    app = make_app(session, cache_dir=tmp_path / "cache", autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        watch(app)
        await pilot.press("a")                        # every remaining check: measured first
        await settle(app, pilot)
        assert all(app.checklist.states[c].status in ("done", "skipped") for c in ("seed", "metric", "fewshot"))
    stages = [stage for stage, _ in shown]
    assert "measuring 1/4 · your setup" in stages and "measuring 4/4 · batch-size repeat" in stages
    assert any(s.startswith("check 3/3 fewshot · variant 1/") for s in stages)
    assert percents and percents == sorted(percents)      # the check's percentage never goes back
    assert any(numbers.startswith(" ") and "%" in numbers for _, numbers in shown)

    # Reopened: the finished checks come back from the cache, and the line says so.
    shown.clear()
    seen: list = []
    app = make_app(session, cache_dir=tmp_path / "cache")   # opens the recorded session and resumes it
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        watch(app)
        await settle(app, pilot)
        assert app.session_run.diagnosis.engine.calls.total == 0
        assert all(app.checklist.states[c].status in ("done", "skipped") for c in ("seed", "metric", "fewshot"))
    stages = {m.info.stage for m in seen if isinstance(m, ProgressUpdate)}
    assert stages == {"fingerprinting the model's files", "loading the tokenizer", "reading the cache"}
    assert any("reading the cache" in numbers for _, numbers in shown)
    assert not any("loading the model" in numbers for _, numbers in shown)


def test_the_progress_line_plans_the_run_and_a_reopened_session_reads_the_cache(tmp_path: Path) -> None:
    asyncio.run(_test_the_progress_line_plans_the_run_and_a_reopened_session_reads_the_cache(tmp_path))
