"""What the app remembers between runs: recent sessions and which of their checks finished.

The app writes this small JSON file after every finished check, so a dropped SSH connection loses
nothing: running `scoregap` again lists the session under "Recent sessions", and opening it re-runs
the finished checks from the result cache (zero model calls) before offering the rest.

A record belongs to the session file as it was when the record was written (`fingerprint`: a hash
of its bytes). When the file has changed since (edited by hand, or replaced by the wizard), the file
says how many docs per variant to run, not the record, and no finished check is restored: they ran
with the old file's settings.

Location: `tui-state.json` in the result cache's folder (`--cache-dir`, else `$SCOREGAP_CACHE_DIR`,
else `$XDG_CACHE_HOME/scoregap`, else `~/.cache/scoregap`; see engine/cache.py). Written atomically
(a temporary file renamed over the old one); an unreadable file is treated as empty, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scoregap.engine.files import write_atomic

FILE_NAME = "tui-state.json"
KEEP = 12   # recent sessions remembered


@dataclass(frozen=True)
class SessionRecord:
    path: str                                   # the session file, absolute
    limit: int                                  # docs per variant the checks ran with
    finished: tuple[str, ...] = ()              # check ids whose results are complete and cached
    known: dict[str, Any] = field(default_factory=dict)   # facts edited in the app (dotted key -> value)
    title: str = ""                             # a one-line description (the demo story, the file name)
    updated: float = 0.0                        # seconds since the epoch
    fingerprint: str = ""                       # the session file's hash when recorded ('' : unknown)

    @property
    def name(self) -> str:
        return Path(self.path).name


class RecentSessions:
    """The recent-sessions list, read and written as a whole (it is tiny)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[SessionRecord]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            records = []
            for item in raw.get("sessions", []):
                records.append(SessionRecord(
                    path=str(item["path"]), limit=int(item.get("limit", 0)),
                    finished=tuple(item.get("finished", ())), known=dict(item.get("known", {})),
                    title=str(item.get("title", "")), updated=float(item.get("updated", 0.0)),
                    fingerprint=str(item.get("fingerprint", "")),
                ))
            return sorted(records, key=lambda r: -r.updated)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return []

    def get(self, path: str | Path) -> SessionRecord | None:
        wanted = str(Path(path).resolve())
        return next((r for r in self.load() if r.path == wanted), None)

    def record(self, path: str | Path, *, limit: int, finished: tuple[str, ...] | list[str],
               known: dict[str, Any], title: str = "", fingerprint: str = "") -> SessionRecord:
        entry = SessionRecord(str(Path(path).resolve()), limit, tuple(finished), dict(known), title, time.time(),
                              fingerprint)
        others = [r for r in self.load() if r.path != entry.path]
        self._write([entry, *others][:KEEP])
        return entry

    def forget(self, path: str | Path) -> None:
        """Drop the record of the session at `path` (a new session was written there)."""
        wanted = str(Path(path).resolve())
        records = self.load()
        if any(r.path == wanted for r in records):
            self._write([r for r in records if r.path != wanted])

    def _write(self, records: list[SessionRecord]) -> None:
        data = {"sessions": [{**asdict(r), "finished": list(r.finished)} for r in records]}
        write_atomic(self.path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def fingerprint(path: str | Path) -> str:
    """The session file's content hash ('' when it cannot be read): a record made from other
    content is not this session's."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""
