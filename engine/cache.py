"""The result cache: everything a model produced, stored once, found again by content.

Key = sha256 of (model fingerprint, numerics, request key). The model fingerprint is a hash of
the model's files by content — weights, configuration, tokenizer files and chat template (see
engine/model.py), not its path or hub id, so a hub revision is covered by the files it brought;
the numerics cover backend, dtype, batch size, device, padding side and attention implementation
— everything outside the request that can change a float. So a result is shared by every variant, process and session that asks the same question of
the same weights under the same numerics, and never by any that does not.

SQLite in WAL mode: each batch of results is committed in one transaction, so a `kill -9` at any
moment loses at most the batch in flight and never corrupts what is stored. Several processes may
read and write the same file.

When the file or its disk fails — a damaged or foreign file, a folder that cannot be written, a
full disk — the error is a `CacheError` (an `InputError`: one paragraph, exit code 2) that names
the path, says what happened and what to do, never a raw SQLite traceback. scoregap never deletes
or rewrites a damaged cache file: the user moves it aside, or points `--cache-dir` elsewhere. A
full disk in the middle of a run keeps every batch committed before it, and says so.

Location: `--cache-dir`, else `$SCOREGAP_CACHE_DIR`, else `$XDG_CACHE_HOME/scoregap`, else
`~/.cache/scoregap`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scoregap.engine.errors import InputError
from scoregap.engine.requests import Result, result_from_json

FILE_NAME = "results.sqlite"
LOCK_TIMEOUT = 60.0   # seconds a writer waits for another process's transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fingerprints (
    path TEXT NOT NULL, stamp TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (path, stamp)
);
"""

ELSEWHERE = "point --cache-dir (or $SCOREGAP_CACHE_DIR) to another folder"

# SQLite's errors that are bugs in scoregap, not a problem with the file or the disk.
_BUGS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.DataError,
         sqlite3.NotSupportedError)


class CacheError(InputError):
    """The result cache cannot be used: what happened to which file, and what to do."""


def default_cache_dir() -> Path:
    if os.environ.get("SCOREGAP_CACHE_DIR"):
        return Path(os.environ["SCOREGAP_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scoregap"


class Cache:
    """A content-addressed store of request results. Thread-safe; one connection per thread."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory else default_cache_dir()
        self.path = self.directory / FILE_NAME
        self._local = threading.local()
        self.failure: CacheError | None = None   # the last fault raised, for callers that catch broadly
        _make_folder(self.directory)
        if self.path.is_dir():
            raise CacheError(
                f"{self.path} is a folder, but scoregap keeps its result cache in a file of that name. "
                f"Move the folder aside (`mv {self.path} {self.path}.broken`) or {ELSEWHERE}."
            )
        with self._faults():
            db = self._connect()
            with db:
                db.executescript(SCHEMA)

    def _open(self) -> sqlite3.Connection:
        """A new connection to the file (the tests replace this to simulate a failing disk)."""
        return sqlite3.connect(self.path, timeout=LOCK_TIMEOUT)

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._open()
            try:
                _use_wal(db)
                db.execute("PRAGMA synchronous=NORMAL")
            except BaseException:
                db.close()   # a connection that failed its set-up is never kept
                raise
            self._local.db = db
        return db

    @staticmethod
    def key(scope: str, request_key: str) -> str:
        return hashlib.sha256(f"{scope}\x00{request_key}".encode()).hexdigest()

    def get_many(self, keys: Iterable[str]) -> dict[str, Result]:
        keys = list(keys)
        found: dict[str, Result] = {}
        with self._faults():
            db = self._connect()
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, value in db.execute(f"SELECT key, value FROM results WHERE key IN ({marks})", chunk):
                    found[key] = self._decode(value)
        return found

    def _decode(self, value: str) -> Result:
        try:
            return result_from_json(json.loads(value))
        except (ValueError, TypeError) as err:   # not JSON, or not a result's fields
            self.failure = CacheError(
                f"The result cache {self.path} holds a result scoregap cannot read ({type(err).__name__}: "
                f"{err}): another program or another version of scoregap wrote it. Move the file aside "
                f"({_move_aside(self.path)}) and run the same command again, or {ELSEWHERE}."
            )
            raise self.failure from err

    def put_many(self, items: dict[str, Result]) -> None:
        if not items:
            return
        rows = [(k, json.dumps(v.to_json(), allow_nan=False)) for k, v in items.items()]
        with self._faults(batch=len(rows)):
            db = self._connect()
            with db:   # one transaction: all of the batch or none of it
                db.executemany("INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)", rows)

    def count(self) -> int:
        with self._faults():
            return self._connect().execute("SELECT COUNT(*) FROM results").fetchone()[0]

    # Weight hashes are slow to compute for big models: remember them per (path, size, mtime).
    def fingerprint_of(self, path: str, stamp: str) -> str | None:
        with self._faults():
            row = self._connect().execute(
                "SELECT digest FROM fingerprints WHERE path = ? AND stamp = ?", (path, stamp)
            ).fetchone()
        return row[0] if row else None

    def remember_fingerprint(self, path: str, stamp: str, digest: str) -> None:
        with self._faults():
            db = self._connect()
            with db:
                db.execute(
                    "INSERT OR REPLACE INTO fingerprints (path, stamp, digest) VALUES (?, ?, ?)",
                    (path, stamp, digest),
                )

    # -- faults -----------------------------------------------------------------------------------

    @contextmanager
    def _faults(self, batch: int = 0) -> Iterator[None]:
        """Turn SQLite's and the disk's errors into one paragraph saying what to do; `batch` is
        the number of results being stored (0 when nothing is being stored)."""
        try:
            yield
        except _BUGS:
            raise
        except sqlite3.DatabaseError as err:
            self.failure = self._problem(err, batch)
            raise self.failure from err

    def _problem(self, err: sqlite3.DatabaseError, batch: int) -> CacheError:
        kind = fault_kind(err)
        if kind == "corrupt":
            return CacheError(damaged_message(self.path, err))
        if kind == "full":
            return CacheError(self._full_message(err, batch))
        if kind == "readonly" or (kind == "cantopen" and not _writable(self.directory)):
            return CacheError(read_only_message(self.directory, err))
        if kind == "locked":
            return CacheError(
                f"The result cache {self.path} stayed locked for {LOCK_TIMEOUT:.0f} s ({err}): another "
                f"process holds a long write on it. Wait for it to finish and run the same command again, "
                f"or {ELSEWHERE}."
            )
        return CacheError(
            f"The result cache {self.path} could not be used ({err}). If another program's file has that "
            f"name, or it keeps failing, move it aside ({_move_aside(self.path)}) and run the same command "
            f"again, or {ELSEWHERE}."
        )

    def _full_message(self, err: sqlite3.DatabaseError, batch: int) -> str:
        if not batch:
            return (f"The disk holding the result cache {self.directory} is full ({err}): scoregap cannot "
                    f"store results there. Free some space and run the same command again, or {ELSEWHERE} "
                    f"on a disk with room.")
        held = self._count_quietly()
        stored = f" ({held} results in all)" if held is not None else ""
        return (f"The disk holding the result cache {self.directory} filled up ({err}) while a batch of "
                f"{batch} results was being stored; that batch was not stored, and every batch finished "
                f"before it is safe in {self.path}{stored}. Free some space and run the same command "
                f"again: the finished batches are reused and only the rest is computed. (Pointing "
                f"--cache-dir or $SCOREGAP_CACHE_DIR to another disk works too, but starts from an empty "
                f"cache.)")

    def _count_quietly(self) -> int | None:
        try:
            return self._connect().execute("SELECT COUNT(*) FROM results").fetchone()[0]
        except sqlite3.Error:
            return None


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch the file to WAL mode (it stays so), unless it already is. Switching needs the file
    to itself, and SQLite answers "database is locked" at once, without waiting, when another
    process switches or opens the same new file at that moment: so wait and retry here, up to
    LOCK_TIMEOUT, as SQLite does for every other lock."""
    deadline = time.monotonic() + LOCK_TIMEOUT
    pause = 0.005
    while True:
        try:
            if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if fault_kind(err) != "locked" or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(2 * pause, 0.25)


def fault_kind(err: sqlite3.Error | OSError) -> str:
    """What went wrong, in one word: corrupt, full, readonly, cantopen, locked, io or other.
    SQLite's error name is used when Python gives it (3.11+), else the message."""
    if isinstance(err, OSError):
        return {errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EACCES: "readonly", errno.EPERM: "readonly",
                errno.EROFS: "readonly"}.get(err.errno or 0, "other")
    name = str(getattr(err, "sqlite_errorname", "") or "")
    text = str(err).lower()
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        return "corrupt"
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return "full"
    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")) or "readonly" in text:
        return "readonly"
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return "cantopen"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return "locked"
    if name.startswith("SQLITE_IOERR") or "i/o error" in text:
        return "io"
    return "other"


def damaged_message(path: Path, err: sqlite3.Error) -> str:
    what = "is not a SQLite database" if "not a database" in str(err) else "is damaged"
    return (f"The result cache {path} {what} ({err}), so scoregap cannot read or add to it; it has left "
            f"the file as it is. Move it aside ({_move_aside(path)}) and run the same command again: a "
            f"new, empty cache is made and its results are computed again. Or {ELSEWHERE}.")


def read_only_message(directory: Path, err: sqlite3.Error | OSError) -> str:
    reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    return (f"The result cache folder {directory} cannot be written ({reason}), and scoregap stores every "
            f"result there. Make it and the files in it writable (`chmod -R u+w {directory}`), or "
            f"{ELSEWHERE} that you can write.")


def _move_aside(path: Path) -> str:
    """The `mv` commands that set the cache file aside, with its WAL files when they exist."""
    files = [path] + [p for p in (Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
    return "; ".join(f"`mv {p} {p}.broken`" for p in files)


def _writable(directory: Path) -> bool:
    return os.access(directory, os.W_OK | os.X_OK)


def _make_folder(directory: Path) -> None:
    """Create the cache folder, or say in one paragraph why it cannot be."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        blocker = _first_file_on(directory)
        raise CacheError(
            f"{blocker} is a file, but the result cache needs a folder at {directory}. Move the file "
            f"aside (`mv {blocker} {blocker}.broken`) or {ELSEWHERE}."
        ) from err
    except OSError as err:
        kind = fault_kind(err)
        if kind == "readonly":
            raise CacheError(read_only_message(_first_existing(directory), err)) from err
        if kind == "full":
            raise CacheError(
                f"The result cache folder {directory} cannot be made: the disk is full ({err.strerror}). "
                f"Free some space and run the same command again, or {ELSEWHERE} on a disk with room."
            ) from err
        raise CacheError(f"The result cache folder {directory} cannot be made ({err.strerror or err}); "
                         f"{ELSEWHERE}.") from err


def _first_file_on(directory: Path) -> Path:
    """The path itself or the nearest of its parents that exists and is not a folder."""
    for candidate in (directory, *directory.parents):
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return directory


def _first_existing(directory: Path) -> Path:
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            return candidate
    return directory
