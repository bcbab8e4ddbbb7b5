"""The wizard offers the benchmark catalog by name: typing filters the list, Down and Enter pick an
entry, and the session it writes names the preset as yours.setup, so a catalog benchmark needs only
the model, its name and the reported score. The task is loaded before the wizard moves on: the
preset's hub dataset (here served from a replica, as `datasets` would from its local cache), a local
copy of it (a bad folder is said in place, never a crash), or hf:owner/name (out of reach offline:
said in place). The step fits 80x24."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SIZE = (80, 24)


async def _checked(app, pilot) -> None:  # noqa: ANN001
    """Wait for the wizard's check (the model, the task); a failed one is read on the screen."""
    from textual.worker import WorkerFailed

    try:
        await app.workers.wait_for_complete()
    except WorkerFailed:
        pass
    await pilot.pause()


async def _to_setup_step(app, pilot, model: Path) -> None:  # noqa: ANN001
    from textual.widgets import Input

    from scoregap.tui.screens.wizard import WizardScreen

    await pilot.press("n")
    assert isinstance(app.screen, WizardScreen)
    app.screen.query_one("#model", Input).value = str(model)
    await pilot.press("ctrl+n")
    await _checked(app, pilot)
    assert app.screen.step == 1
    app.screen.query_one("#setup", Input).focus()
    await pilot.pause()


def _options(screen) -> list[str]:  # noqa: ANN001
    from scoregap.tui.screens.wizard import CatalogList

    listing = screen.query_one(CatalogList)
    return [listing.get_option_at_index(i).id for i in range(listing.option_count)] if listing.display else []


def _error(screen) -> str:  # noqa: ANN001
    return str(screen.query_one("#wizard-error").render())


async def _finish(app, pilot, session_file: Path) -> None:  # noqa: ANN001
    """Steps 3 to 5 with only the reported score given."""
    from textual.widgets import Input

    screen = app.screen
    assert screen.step == 2
    screen.query_one("#reported-score", Input).value = "61.9"
    await pilot.press("ctrl+n")
    assert screen.step == 3
    await pilot.press("ctrl+n")
    assert screen.step == 4
    screen.query_one("#session-path", Input).value = str(session_file)
    await pilot.press("ctrl+n")
    await pilot.pause()


def serve_from_replica(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hub_id: str) -> Path:
    """Make `hub_id` readable offline, as it is once `datasets` has it in its local cache: the hub
    reader serves the replica's rows (tests/replicas.py). Returns the replica's folder."""
    from scoregap.engine import hub_layout

    pytest.importorskip("pyarrow")
    from replicas import write_replicas

    folder = write_replicas(tmp_path / "hub", only=[hub_id])[hub_id]
    configs = hub_layout.layout(folder)
    real = hub_layout._hub_rows

    def rows(hf: str, config: str, split: str, revision: str) -> list:
        if hf != hub_id:
            return real(hf, config, split, revision)
        return hub_layout._local_rows(folder, configs, config, split)

    monkeypatch.setattr(hub_layout, "_hub_rows", rows)
    return folder


async def _test_picking_arc_writes_a_session_naming_the_preset(tiny_model: Path, tmp_path: Path,
                                                               replica: Path) -> None:
    from scoregap.engine.presets import load_setup
    from scoregap.engine.session import load_session
    from scoregap.engine.tasks import load_task
    from scoregap.tui.app import make_app
    from scoregap.tui.screens.wizard import CatalogList, WizardScreen

    replica_docs = len(load_task(load_setup("lm-eval/arc_challenge").with_values(
        {"task.hf": str(replica)}, origin="the test").task).docs)
    session_file = tmp_path / "arc-session.toml"
    app = make_app(cache_dir=tmp_path / "cache", autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await _to_setup_step(app, pilot, tiny_model)
        screen = app.screen
        assert len(_options(screen)) >= 9                          # the whole catalog before typing
        await pilot.press(*"arc")
        assert _options(screen) == ["lm-eval/arc_challenge", "lm-eval/arc_easy"]
        prompt = str(screen.query_one(CatalogList).get_option_at_index(0).prompt)
        assert "allenai/ai2_arc" in prompt and "acc" in prompt and "0-shot" in prompt
        await pilot.press("down")                                 # into the list, on the first entry
        assert isinstance(app.focused, CatalogList) and app.focused.highlighted == 0
        await pilot.press("enter")
        assert screen.query_one("#setup").value == "lm-eval/arc_challenge"
        assert app.focused is screen.query_one("#task")
        note = " ".join(str(screen.query_one("#setup-note").render()).split())
        assert "1172 docs" in note and "local copy" in note
        await pilot.press("enter")                                # blank task: the preset's own, loaded
        await _checked(app, pilot)
        assert screen.step == 2, _error(screen)
        loaded = str(screen.query_one("#wizard-task").render())
        assert loaded == f"Your task: arc_challenge, {replica_docs} docs, test split."   # counted, not published
        await _finish(app, pilot, session_file)
        assert not isinstance(app.screen, WizardScreen), _error(screen)

    written = tomllib.loads(session_file.read_text(encoding="utf-8"))
    assert written["yours"]["setup"] == "lm-eval/arc_challenge"
    assert not (tmp_path / "arc-session-setup.toml").exists()    # no task given: no setup file beside it
    session = load_session(session_file)
    assert session.yours.task.hf == "allenai/ai2_arc" and session.yours.task.benchmark == "arc_challenge"
    assert session.reported_raw == 61.9


def test_picking_arc_writes_a_session_naming_the_preset(tiny_model: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    replica = serve_from_replica(monkeypatch, tmp_path, "allenai/ai2_arc")
    asyncio.run(_test_picking_arc_writes_a_session_naming_the_preset(tiny_model, tmp_path, replica))


async def _test_the_setup_step_fits_80x24(tiny_model: Path, tmp_path: Path) -> None:
    from textual.widgets import Button

    from scoregap.tui.app import make_app
    from scoregap.tui.screens.wizard import CatalogList

    app = make_app(cache_dir=tmp_path / "cache", autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await _to_setup_step(app, pilot, tiny_model)
        screen = app.screen
        step = screen.query_one("#step-setup")
        buttons_top = min(b.region.y for b in screen.query(Button))
        listing = screen.query_one(CatalogList)
        shown = [screen.query_one(selector) for selector in ("#setup", "#catalog", "#setup-note", "#task")]
        for widget in shown:                                      # whole, unscrolled, above the buttons
            assert step.can_view_entire(widget), widget
            assert widget.region.bottom <= buttons_top and widget.region.right <= SIZE[0]
        assert step.max_scroll_y == 0
        assert [w.region.y for w in shown] == sorted(w.region.y for w in shown)
        assert 1 <= listing.region.height <= 5 < listing.option_count   # a few lines; the list scrolls
        for i in range(listing.option_count):                     # each entry's line fits unwrapped
            assert len(str(listing.get_option_at_index(i).prompt)) <= listing.region.width
        await pilot.press(*"mmlu", "down", "enter")
        note = screen.query_one("#setup-note")
        assert "14042 docs" in str(note.render()) and note.region.height >= 2
        for widget in shown:
            assert step.can_view_entire(widget), widget


def test_the_setup_step_fits_80x24(tiny_model: Path, tmp_path: Path) -> None:
    asyncio.run(_test_the_setup_step_fits_80x24(tiny_model, tmp_path))


async def _test_free_form_setups_still_work(tiny_model: Path, tmp_path: Path) -> None:
    from textual.widgets import Input

    from scoregap.tui.app import make_app

    app = make_app(cache_dir=tmp_path / "cache", autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await _to_setup_step(app, pilot, tiny_model)
        screen = app.screen
        setup = tmp_path / "mine.toml"
        setup.write_text('extends = "samples/arith"\n', encoding="utf-8")
        screen.query_one("#setup", Input).value = str(setup)
        await pilot.pause()
        assert _options(screen) == []                             # a file matches no benchmark: no list
        await pilot.press("ctrl+n")
        await _checked(app, pilot)
        assert screen.step == 2, _error(screen)
        await pilot.press("escape")
        screen.query_one("#setup", Input).value = "lm-eval/no_such"
        await pilot.press("ctrl+n")
        assert screen.step == 1 and "was not found" in _error(screen)


def test_free_form_setups_still_work(tiny_model: Path, tmp_path: Path) -> None:
    asyncio.run(_test_free_form_setups_still_work(tiny_model, tmp_path))


async def _test_a_local_copy_is_loaded_and_a_bad_one_is_said(tiny_model: Path, tmp_path: Path) -> None:
    from textual.widgets import Input

    from scoregap.tui.app import make_app
    from scoregap.tui.screens.wizard import WizardScreen

    pytest.importorskip("pyarrow")
    from replicas import write_replicas

    arc = write_replicas(tmp_path / "hub", only=["allenai/ai2_arc"])["allenai/ai2_arc"]
    empty = tmp_path / "not-a-dataset"
    empty.mkdir()
    session_file = tmp_path / "local.toml"
    app = make_app(cache_dir=tmp_path / "cache", autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await _to_setup_step(app, pilot, tiny_model)
        screen = app.screen
        screen.query_one("#setup", Input).value = "lm-eval/arc_challenge"
        # A folder that holds no dataset: loading it fails, and the wizard says so in place.
        screen.query_one("#task", Input).value = str(empty)
        await pilot.press("ctrl+n")
        await _checked(app, pilot)
        assert isinstance(app.screen, WizardScreen) and screen.step == 1
        error = " ".join(_error(screen).split())
        assert "could not be loaded" in error and "README.md lists its configs" in error
        assert "hf download allenai/ai2_arc --repo-type dataset" in error
        assert "Traceback" not in error
        # A missing path is refused before anything loads.
        screen.query_one("#task", Input).value = str(tmp_path / "nowhere")
        await pilot.press("ctrl+n")
        assert screen.step == 1 and "no such file or folder" in _error(screen)
        # The replica, in the hub layout, loads: on to the scores.
        screen.query_one("#task", Input).value = str(arc)
        await pilot.press("ctrl+n")
        await _checked(app, pilot)
        assert screen.step == 2, _error(screen)
        await _finish(app, pilot, session_file)
        assert not isinstance(app.screen, WizardScreen), _error(screen)

    beside = tomllib.loads((tmp_path / "local-setup.toml").read_text(encoding="utf-8"))
    assert beside == {"extends": "lm-eval/arc_challenge", "task": {"path": "", "hf": str(arc.resolve())}}


def test_a_local_copy_is_loaded_and_a_bad_one_is_said(tiny_model: Path, tmp_path: Path) -> None:
    asyncio.run(_test_a_local_copy_is_loaded_and_a_bad_one_is_said(tiny_model, tmp_path))


async def _test_a_hub_id_task_out_of_reach_is_said_in_place(tiny_model: Path, tmp_path: Path) -> None:
    """Enter on words that leave one benchmark names it; hf:owner/name is loaded like any task, and
    offline, with nothing in the local cache, the wizard says so and keeps the answers."""
    from textual.widgets import Input

    from scoregap.tui.app import make_app

    app = make_app(cache_dir=tmp_path / "cache", autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await _to_setup_step(app, pilot, tiny_model)
        screen = app.screen
        await pilot.press(*"mmlu", "enter")                     # one benchmark left: Enter names it
        assert screen.query_one("#setup", Input).value == "lm-eval/mmlu"
        assert app.focused is screen.query_one("#task")
        screen.query_one("#task", Input).value = "hf:hails/mmlu_no_train"
        await pilot.press("ctrl+n")
        await _checked(app, pilot)
        assert screen.step == 1 and not screen.checking and screen.yours_setup is None
        error = " ".join(_error(screen).split())
        assert re.search(r'lm-eval/mmlu: task.hf = "hails/mmlu_no_train" could not be loaded .*task field', error)
        assert screen.query_one("#setup", Input).value == "lm-eval/mmlu"
        assert screen.query_one("#task", Input).value == "hf:hails/mmlu_no_train"


def test_a_hub_id_task_out_of_reach_is_said_in_place(tiny_model: Path, tmp_path: Path) -> None:
    asyncio.run(_test_a_hub_id_task_out_of_reach_is_said_in_place(tiny_model, tmp_path))
