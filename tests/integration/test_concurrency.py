"""Two `scoregap diagnose` processes on one result cache at once: both finish, each report is what
a run alone gives, and the cache stays sound.

Why: the cache is shared by design (one per user, every session), and SQLite's WAL mode with one
transaction per batch is what makes that safe; this runs it for real, on the fake backend so the
processes overlap for seconds, not minutes. Solo runs on their own caches are the reference.
Opening a new cache file is the one moment SQLite does not wait for a lock by itself (switching
to WAL mode answers "database is locked" at once): many openers at the same instant test it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from fakeworld import write_fake_model, write_mc_task, write_session, write_setup

from scoregap.engine.cache import Cache
from scoregap.engine.requests import LoglikelihoodResult

CHECKS = ("seed", "metric", "prompt", "fewshot")
# What legitimately differs between runs: how many results were computed rather than found in
# the cache, the versions and machine, and timings.
VARYING = {"calls", "environment", "seconds", "elapsed", "began", "finished_at"}


def _sessions(root: Path) -> dict[str, Path]:
    """Two sessions on one fake model: A's gap is a planted label effect, B's setup differs."""
    task = write_mc_task(root / "task", n_docs=60)
    model = write_fake_model(root / "model", task, effects=[
        {"name": "labels 1", "when": r"(?m)^1\. ", "docs": 0.4, "nats": -3.0}])
    theirs = write_setup(root / "theirs.toml", task)
    scratch = root / "scratch-cache"   # the reported scores are computed here, not in the caches tested
    return {
        name: write_session(root / f"{name}.toml", model, write_setup(root / f"{name}-yours.toml", task, **yours),
                            reported_setup=theirs, checks=CHECKS, cache_dir=scratch)
        for name, yours in (("a", {"prompt.choice_labels": "1"}),
                            ("b", {"prompt.choice_labels": "a", "fewshot.k": 2}))
    }


def _start(session: Path, cache: Path, report: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "scoregap", "diagnose", str(session), "--report", str(report), "--cache-dir",
         str(cache), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _finish(proc: subprocess.Popen[str]) -> None:
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err


def _comparable(value: Any) -> Any:
    """The report without what legitimately differs between runs."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def _sound(cache: Path) -> int:
    with sqlite3.connect(cache / "results.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]


@pytest.mark.slow
def test_two_diagnoses_on_one_cache_at_once(tmp_path: Path) -> None:
    sessions = _sessions(tmp_path)
    runs = {   # name: (session, cache, report folder)
        "solo a": (sessions["a"], tmp_path / "solo-a", tmp_path / "reports" / "solo-a"),
        "solo b": (sessions["b"], tmp_path / "solo-b", tmp_path / "reports" / "solo-b"),
        "same 1": (sessions["a"], tmp_path / "shared-same", tmp_path / "reports" / "same-1"),
        "same 2": (sessions["a"], tmp_path / "shared-same", tmp_path / "reports" / "same-2"),
        "both a": (sessions["a"], tmp_path / "shared-both", tmp_path / "reports" / "both-a"),
        "both b": (sessions["b"], tmp_path / "shared-both", tmp_path / "reports" / "both-b"),
    }
    procs = {name: _start(*run) for name, run in runs.items()}   # all at once: the pairs overlap
    for proc in procs.values():
        _finish(proc)

    # Each report names its own folder (the lm-eval task YAML is written beside it): read as "REPORT".
    reports = {name: _comparable(json.loads((run[2] / "report.json").read_text(encoding="utf-8")
                                            .replace(str(run[2]), "REPORT")))
               for name, run in runs.items()}
    solo = {"a": reports["solo a"], "b": reports["solo b"]}
    assert solo["a"]["ranking"] and solo["a"]["ranking"] != solo["b"]["ranking"]
    for name, session in (("same 1", "a"), ("same 2", "a"), ("both a", "a"), ("both b", "b")):
        assert reports[name]["ranking"] == solo[session]["ranking"], name
        assert reports[name]["yours"] == solo[session]["yours"] and reports[name]["gap"] == solo[session]["gap"]
        assert reports[name] == solo[session], name

    # Every result is stored once, whoever computed it: the shared caches hold what the solo
    # runs' caches hold together.
    assert _sound(tmp_path / "shared-same") == _sound(tmp_path / "solo-a")
    solo_keys: set[str] = set()
    for cache in ("solo-a", "solo-b"):
        with sqlite3.connect(tmp_path / cache / "results.sqlite") as db:
            solo_keys |= {k for (k,) in db.execute("SELECT key FROM results")}
    assert _sound(tmp_path / "shared-both") == len(solo_keys)


def _open_and_write(directory: Path, key: str, start: threading.Barrier, errors: list[BaseException]) -> None:
    """Wait for the others, then open the cache and store one result."""
    start.wait()
    try:
        Cache(directory).put_many({key: LoglikelihoodResult(-1.0, True, 1, 1, 0.5)})
    except Exception as err:  # noqa: BLE001 - collected, asserted by the test
        errors.append(err)


def test_many_openers_of_a_new_cache_at_the_same_instant(tmp_path: Path) -> None:
    """Eight connections create and switch one new file at once, two hundred times over (before
    the fix, about one round in twenty failed with "database is locked")."""
    for round_no in range(200):
        directory = tmp_path / f"cache-{round_no}"
        start = threading.Barrier(8)
        errors: list[BaseException] = []

        threads = [threading.Thread(target=_open_and_write, args=(directory, f"{i}", start, errors))
                   for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, f"round {round_no}: {errors[0]}"
        assert Cache(directory).count() == 8
