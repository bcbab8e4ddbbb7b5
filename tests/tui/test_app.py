"""The terminal app driven by Pilot on the demo world's real trained model and real engine:
wizard → checklist → two checks → ranking → saved report (matching a headless diagnosis), a
cancelled check that leaves the app usable and the cache intact, and a resumed session that
recomputes nothing.

One result cache is shared by every test here (and small limits keep each run short), so later
tests find most requests already answered.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from pilot import highlight, settle

from scoregap.profiles import PROFILES_DIR, scenarios

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not scenarios(), reason="the demo world (profiles/demo) is not generated"),
]

LIMIT = 24
CHECKS = ("seed", "metric")            # checklist order; nearly free once your setup is measured
SCENARIO = PROFILES_DIR / "demo" / "sessions" / "chat-template.toml"
SIZE = (80, 24)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tui-cache")


async def type_into(pilot, selector: str, text: str) -> None:  # noqa: ANN001
    from textual.widgets import Input

    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = text
    await pilot.pause()


def ranking_rows(rows: list[dict]) -> list[tuple]:
    return [(r["check"], r["variant"], round(r["delta"], 6), r["significant"]) for r in rows]


async def _test_wizard_checklist_ranking_report_match_the_headless_run(shared_cache: Path, tmp_path: Path) -> None:
    from scoregap.checks import CHECKS as ALL_CHECKS
    from scoregap.engine.run import DiagnosisRun
    from scoregap.engine.session import load_session
    from scoregap.tui.app import make_app
    from scoregap.tui.screens.checklist import ChecklistScreen
    from scoregap.tui.screens.ranking import RankingScreen
    from scoregap.tui.screens.save_report import SaveReportScreen
    from scoregap.tui.screens.wizard import WizardScreen

    session_file = tmp_path / "my-session.toml"
    report_dir = tmp_path / "report"
    app = make_app(cache_dir=shared_cache, report_dir=report_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, WizardScreen)
        # 1: a bad model path is refused in place, then the real one is accepted.
        await type_into(pilot, "#model", str(tmp_path / "no-such-model"))
        await pilot.press("ctrl+n")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.step == 0 and "does not exist" in str(app.screen.query_one("#wizard-error").render())
        await type_into(pilot, "#model", str(PROFILES_DIR / "demo" / "model"))
        await pilot.press("ctrl+n")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.step == 1
        # 2: your setup; 3: the scores; 4: what the report states; 5: save.
        await type_into(pilot, "#setup", str(PROFILES_DIR / "demo" / "setups" / "chat-template.toml"))
        await pilot.press("ctrl+n")
        await app.workers.wait_for_complete()          # the task is loaded and checked with the setup
        await pilot.pause()
        assert app.screen.step == 2
        await type_into(pilot, "#reported-score", "96.25")
        await type_into(pilot, "#source", "census model card, table 1")
        await type_into(pilot, "#reported-setup", "demo/reference_mc")
        await pilot.press("ctrl+n")
        assert app.screen.step == 3
        await type_into(pilot, "#wfact-chat-apply_template", "false")
        await pilot.press("ctrl+n")
        assert app.screen.step == 4
        await type_into(pilot, "#session-path", str(session_file))
        await type_into(pilot, "#limit", str(LIMIT))
        await type_into(pilot, "#checks", ",".join(CHECKS))
        await pilot.press("enter")  # Enter on the last field: the next step
        await pilot.pause()
        assert isinstance(app.screen, ChecklistScreen)

        # The file the wizard wrote is a session the headless command reads unchanged.
        session = load_session(session_file)
        assert session.reported_raw == 96.25 and session.reported_source == "census model card, table 1"
        assert session.known == {"chat.apply_template": False}
        assert session.checks == CHECKS and session.limit == LIMIT
        assert session.reported_setup == "demo/reference_mc"

        await settle(app, pilot)                       # your setup measured
        assert app.checklist.summary is not None
        for check in CHECKS:                           # the second is queued behind the first
            await highlight(app, pilot, check)
            await pilot.press("r")
        await settle(app, pilot)
        states = app.checklist.states
        assert all(states[c].status == "done" for c in CHECKS), states

        await pilot.press("g")
        await settle(app, pilot)
        assert isinstance(app.screen, RankingScreen) and app.report is not None
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SaveReportScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, SaveReportScreen)

    for name in ("report.md", "report.html", "report.json"):
        assert (report_dir / name).is_file()
    saved = json.loads((report_dir / "report.json").read_text())
    assert set(saved["checks"]) == set(CHECKS)

    headless = DiagnosisRun.open(session, cache=shared_cache, checks=ALL_CHECKS, limit=LIMIT)
    expected = headless.run_all()
    assert headless.engine.calls.total == 0            # everything was cached by the app
    assert ranking_rows(saved["ranking"]) == ranking_rows(expected["ranking"])
    assert saved["gap"] == expected["gap"] and saved["verdict"] == expected["verdict"]
    assert saved["reconciliation"] == expected["reconciliation"]


async def _test_cancelling_a_check_leaves_the_app_usable_and_the_cache_intact(shared_cache: Path, hold) -> None:
    from scoregap.tui.app import make_app
    from scoregap.tui.screens.confirm_quit import ConfirmQuitScreen

    app = make_app(SCENARIO, cache_dir=shared_cache, limit=LIMIT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await highlight(app, pilot, "prompt")          # many variants: still running when cancelled
        started = []

        def on_progress(info) -> None:  # noqa: ANN001 - a ProgressInfo
            if info.step.check == "prompt":
                started.append(info)

        app.checklist.show_progress = _also(app.checklist.show_progress, on_progress)
        await pilot.press("r")
        for _ in range(3000):
            await pilot.pause(0.01)
            if started:
                break
        assert started, "the prompt check never reported progress"
        await pilot.press("q")                         # quitting mid-run asks first
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuitScreen)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is app.checklist and app.is_running
        await pilot.press("c")
        hold.set()                                     # the worker goes on, sees the cancel, stops
        await settle(app, pilot)
        assert app.checklist.states["prompt"].status == "cancelled"
        assert not app.session_run.busy

        # Still usable: browse, and run another check to the end.
        await highlight(app, pilot, "seed")
        assert "Random seeds" in str(app.screen.query_one("#check-title").render())
        await pilot.press("r")
        await settle(app, pilot)
        assert app.checklist.states["seed"].status == "done"

    with sqlite3.connect(shared_cache / "results.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM results").fetchone()[0] > 0


async def run_check(app, pilot, check: str) -> None:  # noqa: ANN001
    """Pick a check in the sidebar, run it, and wait until the app is idle again."""
    await highlight(app, pilot, check)
    await pilot.press("r")
    await settle(app, pilot)


def _also(show, extra):  # noqa: ANN001, ANN202
    def both(update):  # noqa: ANN001, ANN202
        extra(update)
        return show(update)

    return both


async def _test_resume_recomputes_nothing(shared_cache: Path) -> None:
    from scoregap.tui.app import make_app
    from scoregap.tui.screens.start import StartScreen

    first = make_app(SCENARIO, cache_dir=shared_cache, limit=LIMIT)
    async with first.run_test(size=SIZE) as pilot:
        await settle(first, pilot)
        await run_check(first, pilot, "metric")
        assert first.checklist.states["metric"].status == "done"
    # The terminal closed. `scoregap` again: the session is listed under recent sessions.
    again = make_app(cache_dir=shared_cache)            # no --limit: the session's record knows it
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        start = again.screen
        assert isinstance(start, StartScreen)
        index = next(i for i, r in enumerate(start.recent) if Path(r.path) == SCENARIO.resolve())
        assert "metric" in start.recent[index].finished
        menu = start.query_one("#start-menu")
        menu.highlighted = next(i for i, o in enumerate(menu.options) if o.id == f"recent:{index}")
        await pilot.press("enter")
        await settle(again, pilot)
        assert again.checklist.states["metric"].status == "done" and again.session_run.limit == LIMIT
        engine = again.session_run.diagnosis.engine
        assert engine.calls.total == 0 and engine.calls.cached > 0


async def _test_a_bad_session_and_a_bad_model_are_messages_not_crashes(tmp_path: Path) -> None:
    from scoregap.tui.app import make_app
    from scoregap.tui.screens.error import ErrorScreen

    broken = tmp_path / "broken.toml"
    broken.write_text("[model]\npath = 3\n")
    bad_model = tmp_path / "bad-model.toml"
    bad_model.write_text(f'[model]\npath = "{tmp_path / "nothing-here"}"\n[yours]\nsetup = "samples/arith"\n'
                         '[reported]\nscore = 50\n')
    app = make_app(broken, cache_dir=tmp_path / "cache")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ErrorScreen)
        assert "model.path must be a string" in app.screen.message and "line 2" in app.screen.message
        await pilot.press("escape")
        app.open_session(bad_model)
        await settle(app, pilot)
        assert isinstance(app.screen, ErrorScreen) and "does not exist" in app.screen.message
        await pilot.press("enter")
        await pilot.press("escape")                    # back to the start screen, still running
        await pilot.pause()
        assert app.is_running


def test_wizard_checklist_ranking_report_match_the_headless_run(shared_cache: Path, tmp_path: Path) -> None:
    asyncio.run(_test_wizard_checklist_ranking_report_match_the_headless_run(shared_cache, tmp_path))


def test_cancelling_a_check_leaves_the_app_usable_and_the_cache_intact(shared_cache: Path, monkeypatch) -> None:
    import threading

    from scoregap.tui.session_run import AppEvents

    # The prompt check's worker waits after its first batch until the test has pressed its keys,
    # so the check is surely still running when it is cancelled, however fast the machine.
    hold = threading.Event()
    progress = AppEvents.progress

    def held(self, info):  # noqa: ANN001, ANN202
        progress(self, info)
        if info.step.check == "prompt" and info.done > 0:
            hold.wait(timeout=60)

    monkeypatch.setattr(AppEvents, "progress", held)
    try:
        asyncio.run(_test_cancelling_a_check_leaves_the_app_usable_and_the_cache_intact(shared_cache, hold))
    finally:
        hold.set()


def test_resume_recomputes_nothing(shared_cache: Path) -> None:
    asyncio.run(_test_resume_recomputes_nothing(shared_cache))


def test_a_bad_session_and_a_bad_model_are_messages_not_crashes(tmp_path: Path) -> None:
    asyncio.run(_test_a_bad_session_and_a_bad_model_are_messages_not_crashes(tmp_path))


async def _test_what_the_report_says_is_editable_in_place(tmp_path: Path) -> None:
    from textual.widgets import Input, Static

    from scoregap.tui.app import make_app
    from scoregap.tui.state import FILE_NAME, RecentSessions

    app = make_app(SCENARIO, cache_dir=tmp_path / "cache", autostart=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await highlight(app, pilot, "fewshot")
        app.screen.query_one("#facts").collapsed = False
        await pilot.pause()
        field = next(i for i in app.screen.query(".fact").results(Input) if i.name == "fewshot.k")
        field.focus()
        field.value = "many"
        await pilot.press("enter")
        note = next(s for s in app.screen.query(".fact-error").results(Static) if s.name == "fewshot.k")
        assert "fewshot.k" in str(note.render()) and app.session_run.session.known.get("fewshot.k") is None
        field.value = "5"
        await pilot.press("enter")
        assert app.session_run.session.known["fewshot.k"] == 5
        assert "Saved" in str(note.render())
    record = RecentSessions(tmp_path / "cache" / FILE_NAME).get(SCENARIO)
    assert record is not None and record.known == {"fewshot.k": 5}


def test_what_the_report_says_is_editable_in_place(tmp_path: Path) -> None:
    asyncio.run(_test_what_the_report_says_is_editable_in_place(tmp_path))


async def _test_a_failing_check_is_a_message_and_the_others_keep_working(shared_cache: Path) -> None:
    from scoregap.tui.app import make_app

    app = make_app(SCENARIO, cache_dir=shared_cache, limit=LIMIT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await run_check(app, pilot, "loading")
        assert app.checklist.states["loading"].status == "failed"
        status = str(app.screen.query_one("#check-status").render())
        assert "out of memory" in status and "batch_size" in status
        await run_check(app, pilot, "metric")
        assert app.checklist.states["metric"].status == "done"


def test_a_failing_check_is_a_message_and_the_others_keep_working(shared_cache: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from scoregap.checks import get

    def out_of_memory(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(get("loading"), "variants", out_of_memory)
    asyncio.run(_test_a_failing_check_is_a_message_and_the_others_keep_working(shared_cache))
