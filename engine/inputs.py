"""Reading the files a user names: what can be wrong with a path or its bytes, said plainly.

Why a module of its own: setups, tasks, sessions and model paths all come from the user, and each
used to fail in its own way on the same kinds of bad input — a directory reported as "not found",
a symbolic link loop raising RuntimeError from `Path.resolve`, a UTF-8 byte-order mark read as a
TOML syntax error, invalid UTF-8 or 100,000 nested brackets ending in a traceback, a 10 MB setup
parsed for seconds before anything could be said about it. Every reader goes through here, so
each of these is one `InputError` naming the file and, where it can be known, the line.
"""

from __future__ import annotations

import errno
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from scoregap.engine.errors import InputError

SETTINGS_LIMIT = 1_000_000
"""Bytes a setup, task or session file may have: they hold settings, never data."""

BOM = "\ufeff"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def path_kind(path: Path) -> str:
    """What is at `path`: "file", "directory", "loop" (a symbolic link cycle), "dangling" (a
    link to nothing), "missing", or "other" (a socket, a device, unreadable)."""
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "loop"
        if os.path.islink(path):
            return "dangling"
        return "missing" if err.errno in (errno.ENOENT, errno.ENOTDIR) else "other"
    if os.path.isdir(path):
        return "directory"
    return "file" if os.path.isfile(path) else "other"


def kind_phrase(path: Path, kind: str) -> str:
    """What is wrong with `path` of this `kind`, in words ("is a directory")."""
    if kind == "loop":
        return "is a symbolic link that loops back on itself (or passes through such a link)"
    if kind == "dangling":
        return f"is a symbolic link to {os.readlink(path)}, which does not exist"
    return {"directory": "is a directory", "file": "is a file", "missing": "does not exist",
            "other": "is not a regular file (a device, a socket, or not readable)"}.get(kind, kind)


def holds_hint(path: Path, kind: str) -> str:
    """For a directory given where a TOML file is expected: the TOML files it holds, if any."""
    if kind != "directory":
        return ""
    names = sorted(p.name for p in path.glob("*.toml"))[:8]
    return f" It holds {', '.join(names)}: name one of them." if names else ""


def absolute(path: Path) -> Path:
    """The absolute path with symbolic links resolved where possible; a link loop is left as
    written (`Path.resolve` raises RuntimeError on one) so that the reader can say what it is."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return Path(os.path.abspath(path))


def require_file(path: Path, what: str, hint: str = "") -> None:
    """An `InputError` unless `path` is a readable regular file; `what` names it ("task file")."""
    kind = path_kind(path)
    if kind != "file":
        extra = f" {hint}" if hint else ""
        raise InputError(f"{path}: this {what} {kind_phrase(path, kind)}; a file is expected.{extra}")


def decode(data: bytes, where: str) -> str:
    """UTF-8 text without a leading byte-order mark; a bad byte names its line and column."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(
            f"{where}, line {line}: not valid UTF-8 (byte 0x{data[err.start]:02x} at column {column}). "
            f"Save the file as UTF-8."
        ) from None
    return text[1:] if text.startswith(BOM) else text


def read_text(path: Path, what: str = "file", limit: int | None = None) -> str:
    """The text of a file the user named, checked as `require_file` and `decode` do; with
    `limit`, a bigger file is refused before it is read."""
    require_file(path, what)
    if limit is not None:
        size = path.stat().st_size
        if size > limit:
            raise InputError(
                f"{path}: this {what} is {size:,} bytes, more than the {limit:,} a setup, task or "
                f"session file may have: they hold settings, not data (a task's docs belong in its "
                f"JSON Lines file)."
            )
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: this {what} cannot be read ({err.strerror or err}).") from None
    return decode(data, str(path))


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """TOML text -> data; a syntax error names the line, runaway nesting is an error too."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", str(err), flags=re.DOTALL)
        if found:
            problem, line, column = found.groups()
            raise InputError(f"{where}, line {line}: not valid TOML: {problem} (column {column}). Fix the "
                             f"syntax at that place.") from None
        raise InputError(f"{where}: not valid TOML: {err}. Fix the syntax at that place.") from None
    except RecursionError:
        line = _deep_line(text)
        at = f", line {line}" if line else ""
        raise InputError(
            f"{where}{at}: values are nested too deeply to read (arrays or inline tables inside "
            f"each other, hundreds of levels). Settings nest a level or two at most: look for "
            f"runaway brackets."
        ) from None


def _deep_line(text: str, depth: int = 100) -> int | None:
    """The line where bracket nesting first passes `depth` (quoted strings skipped), if any."""
    level = 0
    for number, line in enumerate(text.split("\n"), start=1):
        for char in re.sub(r'"(?:\\.|[^"\\])*"|\'[^\']*\'', "", line):
            level += char in "[{"
            level -= char in "]}"
            if level > depth:
                return number
    return None


def parse_json_line(line: str, where: str) -> Any:
    """One JSON value of a JSON Lines file; `where` is "file, line N"."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"{where}: not valid JSON ({err.msg}, column {err.colno}).") from None
    except RecursionError:
        raise InputError(
            f"{where}: a value is nested too deeply to read (lists or objects inside each other, "
            f"hundreds of levels). A doc is a flat object of fields."
        ) from None


def lone_surrogate(line: str, row: Any) -> str | None:
    """The field of `row` (parsed from `line`) holding a lone UTF-16 surrogate, or None.

    JSON's "\\ud800" escape decodes to half a character that cannot be written as UTF-8, so it
    would fail much later (hashing a request). Only lines with such an escape are searched."""
    if not _SURROGATE_ESCAPE.search(line):
        return None
    return _surrogate_path(row, "")


def _surrogate_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "(the value)"
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and _surrogate_path(key, "") is not None:
            return f"{path}.{key!a}" if path else ascii(key)
        inner = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)
        found = _surrogate_path(item, inner)
        if found is not None:
            return found
    return None
