"""Stopping by signal loses nothing: SIGTERM says what Ctrl-C says (every finished result is in
the cache) and exits 143; the app, on SIGHUP (an SSH connection dropped) or SIGTERM, cancels the
run in flight, records the session's progress in the state file and exits."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fakeworld import write_fake_model, write_mc_task, write_session, write_setup
from pilot import settle

from scoregap.tui.cli import INTERRUPTED, main

# ---------------------------------------------------------------------------------------------
# The command line


def _terminate_self() -> None:
    """SIGTERM to this process, once scoregap handles it (else it would end the test run)."""
    assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN, None), \
        "scoregap installed no SIGTERM handler"
    os.kill(os.getpid(), signal.SIGTERM)


def _count(database: Path) -> int:
    """Committed results, read without writing (the writer may be running)."""
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:   # not created yet
        return 0


# `python -m scoregap` with smaller batches, so several are committed within seconds.
RUN_CLI = ("import sys, scoregap.engine.evaluate as e; e.CHUNK = 16; "
           "from scoregap.tui.cli import main; sys.argv[0] = 'scoregap'; raise SystemExit(main(sys.argv[1:]))")


@pytest.mark.slow
def test_sigterm_stops_eval_with_the_interrupt_message_and_a_sound_cache(tiny_model: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    database = cache_dir / "results.sqlite"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "eval", "samples/arith", "--model", str(tiny_model), "--limit", "0",
         "--cache-dir", str(cache_dir), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 180
        seen = 0
        while seen < 32 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            seen = _count(database)
        assert proc.poll() is None, "the evaluation ended before it could be stopped"
        assert seen >= 32, "no batch was committed in time"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err
    assert INTERRUPTED in err and "Traceback" not in err
    assert "acc =" not in out                                  # stopped, not finished
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert seen <= stored < 800 and stored % 16 == 0           # whole batches, none lost


def test_sigterm_in_process_exits_143_and_restores_the_handler(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    def killed(args: Any) -> int:
        _terminate_self()
        time.sleep(30)   # the handler raises before this ends
        return 0

    monkeypatch.setattr("scoregap.tui.cli.cmd_eval", killed)
    before = signal.getsignal(signal.SIGTERM)
    began = time.monotonic()
    assert main(["eval", "x.toml", "--model", "m"]) == 143
    assert time.monotonic() - began < 10
    assert capsys.readouterr().err.strip() == INTERRUPTED
    assert signal.getsignal(signal.SIGTERM) == before


def _fake_session(tmp_path: Path, n_docs: int = 60) -> Path:
    task = write_mc_task(tmp_path / "task", n_docs=n_docs)
    model = write_fake_model(tmp_path / "model", task)
    yours = write_setup(tmp_path / "yours.toml", task, **{"prompt.choice_labels": "1"})
    theirs = write_setup(tmp_path / "theirs.toml", task)
    return write_session(tmp_path / "session.toml", model, yours, reported_setup=theirs,
                         checks=("seed", "prompt", "fewshot"), cache_dir=tmp_path / "cache")


def test_sigterm_during_a_check_is_not_a_failed_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A check's errors are caught so the others can run; a SIGTERM must stop them all."""
    from scoregap.tui.console import ConsoleEvents

    session = _fake_session(tmp_path)
    started: list[str] = []

    def check_started(self: ConsoleEvents, check: str) -> None:
        started.append(check)
        if check == "prompt":
            _terminate_self()

    monkeypatch.setattr(ConsoleEvents, "check_started", check_started, raising=False)
    report = tmp_path / "report"
    code = main(["diagnose", str(session), "--report", str(report), "--quiet", "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 143, err
    assert INTERRUPTED in err and "failed" not in err
    assert started == ["seed", "prompt"] and not report.exists()
    with sqlite3.connect(tmp_path / "cache" / "results.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---------------------------------------------------------------------------------------------
# The app


def _state(cache_dir: Path) -> dict[str, Any]:
    return json.loads((cache_dir / "tui-state.json").read_text())


def _held_progress(monkeypatch: pytest.MonkeyPatch, check: str) -> tuple[threading.Event, threading.Event]:
    """The worker stops after the check's first progress report until `release` is set;
    `reached` tells the test it got there."""
    from scoregap.tui.session_run import AppEvents

    reached, release = threading.Event(), threading.Event()
    progress = AppEvents.progress

    def held(self: AppEvents, info: Any) -> None:
        progress(self, info)
        if info.step.check == check and info.done > 0:
            reached.set()
            release.wait(timeout=60)

    monkeypatch.setattr(AppEvents, "progress", held)
    return reached, release


async def _wait_for(pilot: Any, condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


def test_sighup_mid_check_cancels_records_and_exits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scoregap.tui.app import make_app

    session = _fake_session(tmp_path, n_docs=200)
    cache_dir = tmp_path / "cache"
    reached, release = _held_progress(monkeypatch, "prompt")
    app = make_app(session, cache_dir=cache_dir)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            try:
                await settle(app, pilot)
                app.run_checks(["seed", "prompt"])
                await _wait_for(pilot, reached.is_set)
                assert app.session_run.running == "prompt"
                (cache_dir / "tui-state.json").unlink()      # so what hang_up writes is seen
                app.hang_up(signal.SIGHUP)
            finally:
                release.set()                                # the worker goes on, sees the cancel, stops
            await _wait_for(pilot, lambda: not app.is_running)

    asyncio.run(scenario())
    assert app.stopped_by == signal.SIGHUP and app.return_code == 128 + signal.SIGHUP
    assert app.session_run.cancelled.is_set() and not app.session_run.busy
    assert app.session_run.diagnosis.results["prompt"].status == "cancelled"   # stopped mid-check
    record = _state(cache_dir)["sessions"][0]
    assert record["path"] == str(session.resolve())
    assert "seed" in record["finished"] and "prompt" not in record["finished"]
    with sqlite3.connect(cache_dir / "results.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_real_sighup_reaches_the_app_and_the_handlers_come_back(tmp_path: Path) -> None:
    from scoregap.tui.app import make_app

    session = _fake_session(tmp_path)
    cache_dir = tmp_path / "cache"
    before = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGTERM)}
    app = make_app(session, cache_dir=cache_dir, autostart=False)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            # The app's loop owns SIGHUP now (else the signal below would end the test run).
            assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN, before[signal.SIGHUP])
            (cache_dir / "tui-state.json").unlink()
            os.kill(os.getpid(), signal.SIGHUP)
            await _wait_for(pilot, lambda: not app.is_running, seconds=10)

    asyncio.run(scenario())
    assert app.stopped_by == signal.SIGHUP
    assert _state(cache_dir)["sessions"][0]["path"] == str(session.resolve())
    assert {s: signal.getsignal(s) for s in before} == before


def test_the_app_stopped_by_a_signal_exits_like_the_command_line(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`scoregap app`: the app reports which signal stopped it; the command line says so and exits
    128 + that number."""
    import scoregap.tui.app as app_module

    class Stopped:
        stopped_by = signal.SIGHUP

        def run(self) -> None:
            pass

    monkeypatch.setattr(app_module, "make_app", lambda *args, **kwargs: Stopped())
    assert main(["app"]) == 128 + signal.SIGHUP
    assert INTERRUPTED in capsys.readouterr().err
