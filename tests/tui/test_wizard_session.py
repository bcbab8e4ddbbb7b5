"""The wizard's session runs as written (issue 15), on the fake backend in seconds.

- The docs per variant the wizard writes are what the app runs: your run, the noise floor and every
  variant, and the header says so ("first 40 docs"). The recent-sessions record of an older session
  at the same path (or of this file before it was edited) no longer decides the limit.
- Step 2 checks your setup together with its task by loading the task: a setup without a task, a
  few-shot count the pool cannot give, a hub dataset out of reach offline are said in place, with
  every answer kept; the task's docs are counted on screen.
- "Save and start" replaces an existing file only on a second press.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakeworld import write_fake_model, write_mc_task, write_session, write_setup
from pilot import highlight, settle

SIZE = (80, 24)
N_DOCS = 100


def fake_world(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A task, a fake model that knows it, and your setup for it (the task named in the setup)."""
    task = write_mc_task(tmp_path / "task", n_docs=N_DOCS)
    model = write_fake_model(tmp_path / "model", task)
    return task, model, write_setup(tmp_path / "yours.toml", task)


def _error(screen) -> str:  # noqa: ANN001
    return " ".join(str(screen.query_one("#wizard-error").render()).split())


async def _checked(app, pilot) -> None:  # noqa: ANN001
    """Wait for the wizard's check (the model, the task); a failed one is read on the screen."""
    from textual.worker import WorkerFailed

    try:
        await app.workers.wait_for_complete()
    except WorkerFailed:
        pass
    await pilot.pause()


async def _type(pilot, selector: str, text: str) -> None:  # noqa: ANN001
    from textual.widgets import Input

    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = text
    await pilot.pause()


async def _to_setup_step(app, pilot, model: Path) -> None:  # noqa: ANN001
    from scoregap.tui.screens.wizard import WizardScreen

    await pilot.press("n")
    assert isinstance(app.screen, WizardScreen)
    await _type(pilot, "#model", str(model))
    await pilot.press("ctrl+n")
    await _checked(app, pilot)
    assert app.screen.step == 1, _error(app.screen)


async def _through_the_wizard(app, pilot, model: Path, setup: Path, session_file: Path,  # noqa: ANN001
                              limit: str) -> None:
    """The five steps, with your setup's own task, the reported score 90 and the prompt check."""
    await _to_setup_step(app, pilot, model)
    await _type(pilot, "#setup", str(setup))
    await pilot.press("ctrl+n")
    await _checked(app, pilot)
    wizard = app.screen
    assert wizard.step == 2, _error(wizard)
    await _type(pilot, "#reported-score", "90")
    await pilot.press("ctrl+n")
    await pilot.press("ctrl+n")
    assert wizard.step == 4
    await _type(pilot, "#session-path", str(session_file))
    await _type(pilot, "#limit", limit)
    await _type(pilot, "#checks", "prompt")
    await pilot.press("ctrl+n")


async def _test_the_wizard_limit_is_what_runs_and_the_header_says_it(tmp_path: Path) -> None:
    from scoregap.engine.checks_api import CHECK_IDS
    from scoregap.tui.app import make_app
    from scoregap.tui.screens.checklist import ChecklistScreen
    from scoregap.tui.state import FILE_NAME, RecentSessions

    _, model, yours = fake_world(tmp_path)
    cache = tmp_path / "cache"
    # An older session once lived at the path the wizard writes: it ran 80 docs per variant and
    # had a fact typed in the app. Its record must not decide how the new session runs.
    session_file = tmp_path / "scoregap-session.toml"
    RecentSessions(cache / FILE_NAME).record(session_file, limit=80, finished=("seed",), known={"fewshot.k": 3})

    app = make_app(cache_dir=cache)
    async with app.run_test(size=SIZE) as pilot:
        await _through_the_wizard(app, pilot, model, yours, session_file, "40")
        assert isinstance(app.screen, ChecklistScreen)
        await settle(app, pilot)
        run = app.session_run
        assert run.session.limit == 40 and run.limit == 40
        assert run.session.known == {}                         # nothing of the older session came back
        assert run.diagnosis.diagnosis.yours.result.n == 40    # your run (the floor's repeats pair with it)
        header = " ".join(str(app.screen.query_one("#summary").render()).split())
        assert "yours" in header and "(n=40, first 40 docs" in header
        await highlight(app, pilot, "prompt")
        await pilot.press("r")
        await settle(app, pilot)
        findings = run.diagnosis.results["prompt"].findings
        assert findings and all(f.n <= 40 for f in findings)   # every variant, at every look
        assert [c for c in CHECK_IDS if app.checklist.states[c].status == "done"] == ["prompt"]


def test_the_wizard_limit_is_what_runs_and_the_header_says_it(tmp_path: Path) -> None:
    asyncio.run(_test_the_wizard_limit_is_what_runs_and_the_header_says_it(tmp_path))


async def _test_save_replaces_an_existing_file_only_on_a_second_press(tmp_path: Path) -> None:
    from textual.widgets import Input

    from scoregap.tui.app import make_app
    from scoregap.tui.screens.checklist import ChecklistScreen

    _, model, yours = fake_world(tmp_path)
    session_file = write_session(tmp_path / "mine.toml", model, yours, reported_score=0.5)
    before = session_file.read_text(encoding="utf-8")
    app = make_app(cache_dir=tmp_path / "cache", autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await _through_the_wizard(app, pilot, model, yours, session_file, "40")
        wizard = app.screen
        assert wizard.step == 4 and f"{session_file} already exists" in _error(wizard) and "again" in _error(wizard)
        assert session_file.read_text(encoding="utf-8") == before          # left as it was
        assert wizard.query_one("#limit", Input).value == "40"              # the answers stay
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, ChecklistScreen), _error(wizard)
    assert "limit = 40" in session_file.read_text(encoding="utf-8")


def test_save_replaces_an_existing_file_only_on_a_second_press(tmp_path: Path) -> None:
    asyncio.run(_test_save_replaces_an_existing_file_only_on_a_second_press(tmp_path))


async def _test_an_edited_session_file_runs_with_its_own_limit(tmp_path: Path) -> None:
    """Resuming keeps the docs per variant the finished checks ran with, but only for the file as
    it was then: an edited file's own limit applies."""
    from scoregap.tui.app import make_app

    _, model, yours = fake_world(tmp_path)
    cache = tmp_path / "cache"
    session_file = write_session(tmp_path / "s.toml", model, yours, reported_score=0.9, limit=0)
    first = make_app(session_file, cache_dir=cache, limit=30, autostart=False)
    async with first.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert first.session_run.limit == 30
    again = make_app(session_file, cache_dir=cache, autostart=False)      # unchanged: resumed at 30
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.session_run.limit == 30
    write_session(session_file, model, yours, reported_score=0.9, limit=40)   # edited by hand
    edited = make_app(session_file, cache_dir=cache, autostart=False)
    async with edited.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert edited.session_run.limit == 40


def test_an_edited_session_file_runs_with_its_own_limit(tmp_path: Path) -> None:
    asyncio.run(_test_an_edited_session_file_runs_with_its_own_limit(tmp_path))


async def _test_the_setup_step_loads_the_task_and_keeps_every_answer(tmp_path: Path) -> None:
    from textual.widgets import Input

    from scoregap.tui.app import make_app

    task, model, _ = fake_world(tmp_path)
    taskless = tmp_path / "taskless.toml"
    taskless.write_text('[loading]\nbackend = "fake"\n', encoding="utf-8")
    many_shots = tmp_path / "many-shots.toml"
    many_shots.write_text(f'extends = "{taskless}"\n[fewshot]\nk = 20\n', encoding="utf-8")
    app = make_app(cache_dir=tmp_path / "cache", autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await _to_setup_step(app, pilot, model)
        screen = app.screen
        # A setup that names no task: said at this step (with its brackets), not after "Save and start".
        await _type(pilot, "#setup", str(taskless))
        await pilot.press("ctrl+n")
        await _checked(app, pilot)
        assert screen.step == 1 and "[task] names no task" in _error(screen) and "task field" in _error(screen)
        # A hub dataset out of reach (the tests run offline): said in place, no crash.
        await _type(pilot, "#setup", "lm-eval/arc_challenge")
        await _type(pilot, "#task", "hf:nobody/no-such-dataset")
        await pilot.press("ctrl+n")
        await _checked(app, pilot)
        error = _error(screen)
        assert screen.step == 1 and not screen.checking
        assert 'lm-eval/arc_challenge: task.hf = "nobody/no-such-dataset" could not be loaded' in error
        assert "Traceback" not in error
        assert "hf download nobody/no-such-dataset --repo-type dataset" in error
        # The setup and the task together: more shots than the task's pool holds.
        await _type(pilot, "#setup", str(many_shots))
        await _type(pilot, "#task", str(task))
        await pilot.press("ctrl+n")
        await _checked(app, pilot)
        assert screen.step == 1 and "fewshot.k = 20" in _error(screen) and "only 8 docs" in _error(screen)
        # Every answer is still there.
        assert screen.query_one("#setup", Input).value == str(many_shots)
        assert screen.query_one("#task", Input).value == str(task)
        assert screen.query_one("#model", Input).value == str(model)
        # The task loads: its docs are counted, on the next steps and beside the limit.
        await _type(pilot, "#setup", str(taskless))
        await pilot.press("ctrl+n")
        await _checked(app, pilot)
        assert screen.step == 2, _error(screen)
        assert str(screen.query_one("#wizard-task").render()) == f"Your task: fake_mc, {N_DOCS} docs."
        assert f"0: all {N_DOCS};" in str(screen.query_one("#limit-label").render())


def test_the_setup_step_loads_the_task_and_keeps_every_answer(tmp_path: Path) -> None:
    asyncio.run(_test_the_setup_step_loads_the_task_and_keeps_every_answer(tmp_path))
