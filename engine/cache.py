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

Location: `--cache-dir`, else `$SCOREGAP_CACHE_DIR`, else `$XDG_CACHE_HOME/scoregap`, else
`~/.cache/scoregap`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Iterable

from scoregap.engine.requests import Result, result_from_json

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fingerprints (
    path TEXT NOT NULL, stamp TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (path, stamp)
);
"""


def default_cache_dir() -> Path:
    if os.environ.get("SCOREGAP_CACHE_DIR"):
        return Path(os.environ["SCOREGAP_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scoregap"


class Cache:
    """A content-addressed store of request results. Thread-safe; one connection per thread."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory else default_cache_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "results.sqlite"
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60.0)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @staticmethod
    def key(scope: str, request_key: str) -> str:
        return hashlib.sha256(f"{scope}\x00{request_key}".encode()).hexdigest()

    def get_many(self, keys: Iterable[str]) -> dict[str, Result]:
        keys = list(keys)
        found: dict[str, Result] = {}
        db = self._connect()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in db.execute(f"SELECT key, value FROM results WHERE key IN ({marks})", chunk):
                found[key] = result_from_json(json.loads(value))
        return found

    def put_many(self, items: dict[str, Result]) -> None:
        if not items:
            return
        db = self._connect()
        with db:   # one transaction: all of the batch or none of it
            db.executemany(
                "INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)",
                [(k, json.dumps(v.to_json())) for k, v in items.items()],
            )

    def count(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM results").fetchone()[0]

    # Weight hashes are slow to compute for big models: remember them per (path, size, mtime).
    def fingerprint_of(self, path: str, stamp: str) -> str | None:
        row = self._connect().execute(
            "SELECT digest FROM fingerprints WHERE path = ? AND stamp = ?", (path, stamp)
        ).fetchone()
        return row[0] if row else None

    def remember_fingerprint(self, path: str, stamp: str, digest: str) -> None:
        db = self._connect()
        with db:
            db.execute(
                "INSERT OR REPLACE INTO fingerprints (path, stamp, digest) VALUES (?, ?, ?)",
                (path, stamp, digest),
            )
