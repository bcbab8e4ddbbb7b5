"""The result cache's file or disk failing: one paragraph saying what to do, never a traceback.

Every case goes through `scoregap eval` (exit code 2, the path named, no "Traceback"), and a
damaged cache file is never deleted nor rewritten: its bytes are the same afterwards. A full disk
is simulated with SQLite's own limit (`PRAGMA max_page_count`) on the connection, a read-only
folder with a read-only connection (the tests run as root, where chmod does not stop writes; the
real chmod case runs when it does).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import scoregap.engine.evaluate as evaluate_module
from scoregap.engine.cache import FILE_NAME, SCHEMA, Cache, fault_kind
from scoregap.tui.cli import main

ARITH = 'extends = "samples/arith"\n[loading]\ndevice = "cpu"\n'


def _eval(setup: Path, model: Path, cache_dir: Path, limit: int = 4) -> int:
    return main(["eval", str(setup), "--model", str(model), "--limit", str(limit), "--cache-dir", str(cache_dir),
                 "--quiet"])


def _flat(text: str) -> str:
    return " ".join(text.split())


def _assert_message(err: str, *needles: str) -> None:
    assert err.strip().startswith("scoregap: error:"), err
    assert "Traceback" not in err
    assert "\n\n" not in err.strip()
    for needle in needles:
        assert needle in _flat(err), (needle, err)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _filled_cache(directory: Path, rows: int = 3000) -> Path:
    """A real cache file with `rows` results, closed (so its WAL is folded into the file)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE_NAME
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    with db:
        db.executemany("INSERT INTO results (key, value) VALUES (?, ?)",
                       [(f"k{i}", '{"kind": "x", "pad": "' + "x" * 200 + '"}') for i in range(rows)])
    db.close()
    assert not Path(f"{path}-wal").exists()
    return path


def _truncated(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _random_bytes(path: Path) -> None:
    path.write_bytes(bytes((i * 7919 + 13) % 251 for i in range(20_000)))


def _wrong_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:16] = b"NotSQLite form\x00\x00"
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "needle"),
    [(_truncated, "is damaged (database disk image is malformed)"),
     (_random_bytes, "is not a SQLite database (file is not a database)"),
     (_wrong_header, "is not a SQLite database (file is not a database)")],
    ids=["truncated", "random-bytes", "wrong-header"],
)
def test_a_damaged_cache_file_is_named_and_left_alone(
        tiny_model: Path, write_setup: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        damage: Callable[[Path], None], needle: str) -> None:
    cache_dir = tmp_path / "cache"
    path = _filled_cache(cache_dir)
    damage(path)
    before = _digest(path)
    assert _eval(write_setup(ARITH), tiny_model, cache_dir) == 2
    _assert_message(capsys.readouterr().err, f"The result cache {path} {needle}", f"`mv {path} {path}.broken`",
                    "left the file as it is", "--cache-dir (or $SCOREGAP_CACHE_DIR)")
    assert path.is_file() and _digest(path) == before


def test_moving_the_damaged_file_aside_as_told_works(tiny_model: Path, write_setup: Callable[..., Path],
                                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache_dir = tmp_path / "cache"
    path = _filled_cache(cache_dir)
    _random_bytes(path)
    assert _eval(write_setup(ARITH), tiny_model, cache_dir) == 2
    capsys.readouterr()
    path.rename(f"{path}.broken")
    assert _eval(write_setup(ARITH), tiny_model, cache_dir) == 0
    assert Cache(cache_dir).count() == 16


def test_results_scoregap_cannot_read(tiny_model: Path, write_setup: Callable[..., Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A sound SQLite file whose results are not scoregap's (another program, another version)."""
    cache_dir = tmp_path / "cache"
    assert _eval(write_setup(ARITH), tiny_model, cache_dir) == 0
    path = cache_dir / FILE_NAME
    with sqlite3.connect(path) as db:
        db.execute("""UPDATE results SET value = '{"answer": 42}'""")
    capsys.readouterr()
    assert _eval(write_setup(ARITH), tiny_model, cache_dir) == 2
    _assert_message(capsys.readouterr().err, f"The result cache {path} holds a result scoregap cannot read",
                    "another version of scoregap", f"`mv {path} {path}.broken`", "--cache-dir")


def test_the_results_file_is_a_folder(tiny_model: Path, write_setup: Callable[..., Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    cache_dir = tmp_path / "cache"
    (cache_dir / FILE_NAME / "inside").mkdir(parents=True)
    assert _eval(write_setup(ARITH), tiny_model, cache_dir) == 2
    path = cache_dir / FILE_NAME
    _assert_message(capsys.readouterr().err, f"{path} is a folder", f"`mv {path} {path}.broken`", "--cache-dir")
    assert (path / "inside").is_dir()


@pytest.mark.parametrize("deeper", [False, True], ids=["the-folder", "a-parent"])
def test_the_cache_folder_is_a_file(tiny_model: Path, write_setup: Callable[..., Path], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str], deeper: bool) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("my notes\n")
    cache_dir = blocker / "scoregap" if deeper else blocker
    assert _eval(write_setup(ARITH), tiny_model, cache_dir) == 2
    _assert_message(capsys.readouterr().err, f"{blocker} is a file", f"folder at {cache_dir}",
                    f"`mv {blocker} {blocker}.broken`", "--cache-dir (or $SCOREGAP_CACHE_DIR)")
    assert blocker.read_text() == "my notes\n"


# ---------------------------------------------------------------------------------------------
# A folder that cannot be written


def test_a_read_only_cache_folder_with_chmod(tiny_model: Path, write_setup: Callable[..., Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    cache_dir.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(cache_dir, os.W_OK):
            pytest.skip("chmod does not stop this user from writing (root); see the read-only connection test")
        assert _eval(write_setup(ARITH), tiny_model, cache_dir) == 2
    finally:
        cache_dir.chmod(stat.S_IRWXU)
    _assert_message(capsys.readouterr().err, f"The result cache folder {cache_dir} cannot be written",
                    f"chmod -R u+w {cache_dir}", "--cache-dir")


def test_a_read_only_cache(tiny_model: Path, write_setup: Callable[..., Path], tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """SQLite's own read-only mode: what a read-only folder or mount does to every write."""
    cache_dir = tmp_path / "cache"
    path = _filled_cache(cache_dir, rows=10)
    before = _digest(path)
    monkeypatch.setattr(Cache, "_open", lambda self: sqlite3.connect(f"file:{self.path}?mode=ro", uri=True))
    assert _eval(write_setup(ARITH), tiny_model, cache_dir) == 2
    _assert_message(capsys.readouterr().err, f"The result cache folder {cache_dir} cannot be written "
                    "(attempt to write a readonly database)", f"chmod -R u+w {cache_dir}",
                    "--cache-dir (or $SCOREGAP_CACHE_DIR) to another folder that you can write")
    assert _digest(path) == before


def test_a_new_cache_in_a_folder_that_cannot_be_written(tiny_model: Path, write_setup: Callable[..., Path],
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """What a non-root user gets from SQLite in a folder without write permission."""
    def refuse(self: Cache) -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(Cache, "_open", refuse)
    monkeypatch.setattr("scoregap.engine.cache._writable", lambda directory: False)
    cache_dir = tmp_path / "cache"
    assert _eval(write_setup(ARITH), tiny_model, cache_dir) == 2
    _assert_message(capsys.readouterr().err, f"{cache_dir} cannot be written (unable to open database file)",
                    f"chmod -R u+w {cache_dir}")


# ---------------------------------------------------------------------------------------------
# A full disk


def test_a_full_disk_before_anything_is_stored(tiny_model: Path, write_setup: Callable[..., Path],
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    def no_room(self: Cache) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        db.execute("PRAGMA max_page_count = 1")   # the schema needs more
        return db

    monkeypatch.setattr(Cache, "_open", no_room)
    cache_dir = tmp_path / "cache"
    assert _eval(write_setup(ARITH), tiny_model, cache_dir) == 2
    _assert_message(capsys.readouterr().err,
                    f"The disk holding the result cache {cache_dir} is full (database or disk is full)",
                    "Free some space and run the same command again", "--cache-dir (or $SCOREGAP_CACHE_DIR)")


def test_a_full_disk_mid_run_keeps_every_committed_batch(tiny_model: Path, write_setup: Callable[..., Path],
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """After the first batch is committed, the database may not grow: a later batch fails with
    SQLite's "database or disk is full", exactly as on a full disk."""
    monkeypatch.setattr(evaluate_module, "CHUNK", 8)
    committed: list[int] = []
    put_many = Cache.put_many

    def then_full(self: Cache, items: dict) -> None:
        put_many(self, items)
        committed.append(len(items))
        if len(committed) == 1:
            db = self._connect()
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages}")

    monkeypatch.setattr(Cache, "put_many", then_full)
    cache_dir = tmp_path / "cache"
    setup = write_setup(ARITH)
    assert _eval(setup, tiny_model, cache_dir, limit=32) == 2   # 128 requests: 16 batches of 8
    stored = sum(committed)
    assert 8 <= stored < 128
    path = cache_dir / FILE_NAME
    _assert_message(capsys.readouterr().err,
                    f"The disk holding the result cache {cache_dir} filled up (database or disk is full) "
                    "while a batch of 8 results was being stored",
                    f"every batch finished before it is safe in {path} ({stored} results in all)",
                    "Free some space and run the same command again: the finished batches are reused")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == stored

    # Space freed: the same command again computes only what was not stored.
    monkeypatch.setattr(Cache, "put_many", put_many)
    assert _eval(setup, tiny_model, cache_dir, limit=32) == 0
    assert f"{128 - stored} model calls, {stored} cached" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# What SQLite says, however it says it (Python < 3.11 gives no error names)


class _Failing(sqlite3.Connection):
    """A connection whose writes of results fail with the error in `FAILURE`."""

    failure: sqlite3.Error = sqlite3.OperationalError("disk I/O error")

    def executemany(self, sql: str, rows: object, /) -> sqlite3.Cursor:
        raise type(self).failure


@pytest.mark.parametrize(
    ("error", "needles"),
    [(sqlite3.OperationalError("database or disk is full"), ("filled up (database or disk is full)",
                                                             "while a batch of 16 results was being stored")),
     (sqlite3.OperationalError("attempt to write a readonly database"), ("cannot be written", "chmod -R u+w")),
     (sqlite3.DatabaseError("database disk image is malformed"), ("is damaged", ".broken`")),
     (sqlite3.OperationalError("database is locked"), ("stayed locked for 60 s", "Wait for it to finish")),
     (sqlite3.OperationalError("disk I/O error"), ("could not be used (disk I/O error)", ".broken`"))],
    ids=["full", "read-only", "malformed", "locked", "io"],
)
def test_each_sqlite_error_on_a_write_is_a_message(
        tiny_model: Path, write_setup: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], error: sqlite3.Error, needles: tuple[str, ...]) -> None:
    monkeypatch.setattr(_Failing, "failure", error)
    monkeypatch.setattr(Cache, "_open", lambda self: sqlite3.connect(self.path, factory=_Failing))
    cache_dir = tmp_path / "cache"
    assert _eval(write_setup(ARITH), tiny_model, cache_dir) == 2
    _assert_message(capsys.readouterr().err, str(cache_dir), *needles)


def test_fault_kinds_from_messages_alone() -> None:
    assert fault_kind(sqlite3.DatabaseError("database disk image is malformed")) == "corrupt"
    assert fault_kind(sqlite3.DatabaseError("file is not a database")) == "corrupt"
    assert fault_kind(sqlite3.OperationalError("database or disk is full")) == "full"
    assert fault_kind(sqlite3.OperationalError("attempt to write a readonly database")) == "readonly"
    assert fault_kind(sqlite3.OperationalError("unable to open database file")) == "cantopen"
    assert fault_kind(sqlite3.OperationalError("database is locked")) == "locked"
    assert fault_kind(sqlite3.OperationalError("no such table: results")) == "other"
    assert fault_kind(OSError(28, "No space left on device")) == "full"
    assert fault_kind(PermissionError(13, "Permission denied")) == "readonly"


def test_a_bug_is_still_a_traceback(cache: Cache) -> None:
    """Only the file's and the disk's faults become messages; misuse of SQLite stays a bug."""
    with pytest.raises(sqlite3.ProgrammingError), cache._faults():
        cache._connect().execute("SELECT ?", (1, 2))


@pytest.mark.parametrize("fills", ["while-measuring", "in-a-check"])
def test_a_full_disk_mid_diagnosis_stops_it_without_a_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str], fills: str) -> None:
    """The engine takes a variant (or a repeat) that cannot run as one to leave out, and goes on:
    for the cache's sake that would be a noise floor missing a repeat, checks failing one after
    the other, and a report reading "no check explained the gap". The diagnosis stops instead,
    with the cache's message and no report."""
    from fakeworld import write_fake_model, write_mc_task, write_session, write_setup

    from scoregap.tui.console import ConsoleEvents

    task = write_mc_task(tmp_path / "task", n_docs=60)
    model = write_fake_model(tmp_path / "model", task, effects=[
        {"name": "labels 1", "when": r"(?m)^1\. ", "docs": 0.4, "nats": -3.0}])
    yours = write_setup(tmp_path / "yours.toml", task, **{"prompt.choice_labels": "1", "fewshot.k": 2})
    session = write_session(tmp_path / "session.toml", model, yours,
                            reported_setup=write_setup(tmp_path / "theirs.toml", task),
                            checks=("metric", "prompt", "fewshot"), cache_dir=tmp_path / "scratch")
    full = threading.Event()
    monkeypatch.setattr(_Failing, "failure", sqlite3.OperationalError("database or disk is full"))
    put_many, measured = Cache.put_many, ConsoleEvents.measured

    def then_full(self: Cache, items: dict) -> None:
        if full.is_set():
            self._local.db = sqlite3.connect(self.path, factory=_Failing)   # this and every later batch fail
        put_many(self, items)
        if fills == "while-measuring":
            full.set()   # your setup is stored, its repeats (shots shuffled) are not

    def then_full_in_the_checks(self: ConsoleEvents, summary: object) -> None:
        measured(self, summary)
        full.set()

    monkeypatch.setattr(Cache, "put_many", then_full)
    if fills == "in-a-check":
        monkeypatch.setattr(ConsoleEvents, "measured", then_full_in_the_checks)
    cache_dir, report = tmp_path / "cache", tmp_path / "report"
    code = main(["diagnose", str(session), "--report", str(report), "--cache-dir", str(cache_dir), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    _assert_message(err[err.index("scoregap: error:"):], f"The disk holding the result cache {cache_dir} filled up",
                    "Free some space and run the same command again")
    if fills == "while-measuring":
        assert "noise floor ±" not in err                   # no floor from fewer repeats
    else:
        assert "your score" in err and "fewshot" not in err   # stopped at the first check that could not store
    assert not report.exists()
    with sqlite3.connect(cache_dir / FILE_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
