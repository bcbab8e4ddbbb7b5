"""Setup files: finding a preset or a file, reading its TOML, following `extends`.

A setup file is TOML (engine/setup.py has its sections and validation). `extends = "NAME"`
inherits a preset first: NAME is looked up as a path relative to the file, then in the current
folder, then under the bundled `profiles/` folder (with or without `.toml`). The child overrides
its parent key by key; `[task.fields]` merges key by key too. Every key keeps the file and line
it came from, so a bad value is reported where it was written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from scoregap.engine.errors import InputError, did_you_mean
from scoregap.engine.inputs import (
    SETTINGS_LIMIT,
    absolute,
    holds_hint,
    kind_phrase,
    parse_toml,
    path_kind,
    read_text,
)
from scoregap.engine.setup import SECTIONS, Places, Setup, build_setup
from scoregap.profiles import PROFILES_DIR

# Loading files


def resolve_preset(name: str, relative_to: Path | None = None, *, origin: str = "") -> Path:
    """A preset name or path -> the TOML file it names. `origin` ("session.toml, line 5:
    yours.setup") starts the message when there is none."""
    candidates: list[Path] = []
    bases = ([relative_to] if relative_to else []) + [Path.cwd(), PROFILES_DIR]
    for base in bases:
        candidates.append(base / name)
        if not name.endswith(".toml"):
            candidates.append(base / f"{name}.toml")
    odd: list[tuple[Path, str]] = []
    for path in candidates:
        kind = path_kind(path)
        if kind == "file":
            return absolute(path)
        if kind != "missing":
            odd.append((path, kind))
    start = f"{origin}: " if origin else ""
    if odd:
        path, kind = odd[0]
        raise InputError(f'{start}Setup "{name}": {path} {kind_phrase(path, kind)}, but a setup is a TOML '
                         f"file.{holds_hint(path, kind)}")
    available = sorted(
        str(p.relative_to(PROFILES_DIR).with_suffix(""))
        for p in PROFILES_DIR.rglob("*.toml")
        if "tasks" not in p.parts and "demo" not in p.parts
    )
    raise InputError(
        f'{start}Setup "{name}" was not found: it is neither a file (looked in '
        f"{', '.join(dict.fromkeys(str(absolute(b)) for b in bases))}) nor a bundled preset."
        f"{did_you_mean(name, available)} Bundled presets: {', '.join(available) or 'none'}."
    )


def read_toml(path: Path, what: str = "TOML file") -> tuple[dict[str, Any], str]:
    """Parse a setup, task or session file: a UTF-8 BOM is accepted, a syntax error or a bad
    byte names the line, and a file too big to hold settings is refused unread."""
    text = read_text(path, what, limit=SETTINGS_LIMIT)
    return parse_toml(text, str(path)), text


_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:\\.|[^"\\])*"|\'[^\']*\''
_PART = rf"\s*(?:{_BARE}|{_QUOTED})\s*"
_KEY = rf"{_PART}(?:\.{_PART})*"
_HEADER = re.compile(rf"^\s*\[\[?({_KEY})\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^({_KEY})=")


def _key_parts(key: str) -> tuple[str, ...]:
    """A TOML key as written (`a."b.c"`) -> its parts ("a", "b.c")."""
    return tuple(_unquote(p) for p in re.findall(rf"{_BARE}|{_QUOTED}", key))


def _unquote(part: str) -> str:
    if part.startswith("'"):
        return part[1:-1]
    if part.startswith('"'):
        try:
            return str(json.loads(part))
        except ValueError:
            return part[1:-1]
    return part


def key_lines(text: str) -> tuple[dict[tuple[str, ...], int], dict[tuple[str, ...], int]]:
    """Where the file writes each key path, as (table headers, assignments): path -> line.
    Dotted keys are expanded against the table they are in; tomllib keeps no positions."""
    headers: dict[tuple[str, ...], int] = {}
    assigned: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    in_string = False
    for number, line in enumerate(text.split("\n"), start=1):
        toggles = line.count('"""') + line.count("\'\'\'")
        if in_string:                      # inside a multi-line string: nothing here is a key
            in_string = toggles % 2 == 0
            continue
        in_string = toggles % 2 == 1
        header = _HEADER.match(line)
        if header:
            table = _key_parts(header.group(1))
            headers.setdefault(table, number)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            assigned.setdefault(table + _key_parts(assign.group(1)), number)
    return headers, assigned


def line_of(text: str, section: str, key: str) -> int | None:
    """The line where `key` is set inside `[section]` ("" for the top level, "reported.known"
    for a sub-table; `key` is one key, dots and all), however it is written: `[section]` then
    `key = ...`, a dotted `section.key = ...`, a quoted key, a `[section.key]` table, a longer
    key that makes it (`key.sub = 1`), or inside an inline table (the line of that table). None
    when the text does not show it."""
    target = (tuple(section.split(".")) if section else ()) + (key,)
    headers, assigned = key_lines(text)
    if target in assigned or target in headers:
        return assigned.get(target) or headers[target]
    below = [n for path, n in (*headers.items(), *assigned.items()) if path[: len(target)] == target]
    if below:                                       # made by a longer key: `a.b.c = 1` makes a.b
        return min(below)
    for length in range(len(target) - 1, 0, -1):    # inside an inline table
        if target[:length] in assigned:
            return assigned[target[:length]]
    return None


def load_setup(name_or_path: str | Path, *, relative_to: Path | None = None, origin: str = "") -> Setup:
    """Read a setup file or bundled preset, following `extends`, and validate it. `origin`
    names where the setup was named ("session.toml, line 5: yours.setup"), for messages."""
    path = resolve_preset(str(name_or_path), relative_to, origin=origin)
    data, places = _load_merged(path, chain=())
    return build_setup(data, origin=str(path), source=str(path), places=places)


def _load_merged(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], Places]:
    if path in chain:
        loop = " -> ".join(str(p) for p in chain + (path,))
        raise InputError(f"{path}: `extends` forms a loop ({loop}). Remove one of the links.")
    raw, text = read_toml(path, "setup file")
    parent_name = raw.pop("extends", None)
    data: dict[str, Any] = {}
    places: Places = {}
    if parent_name is not None:
        where = _place(path, text, "", "extends")
        if not isinstance(parent_name, str):
            raise InputError(f'{where}: "extends" must be a string naming a preset or a file.')
        parent = resolve_preset(parent_name, relative_to=path.parent, origin=f"{where}: extends")
        data, places = _load_merged(parent, chain + (path,))
    for section, values in raw.items():
        if section not in SECTIONS:
            raise InputError(
                f'{_place(path, text, "", section)}: unknown section [{section}].'
                f"{did_you_mean(section, list(SECTIONS))} A setup has the sections "
                f"{', '.join(f'[{s}]' for s in SECTIONS)} and an optional top-level \"extends\"."
            )
        if not isinstance(values, dict):
            raise InputError(f"{_place(path, text, '', section)}: [{section}] must be a table of keys, "
                             f"not a single value.")
        target = data.setdefault(section, {})
        for key, value in values.items():
            if section == "task" and key == "path" and isinstance(value, str) and value:
                value = _resolve_task_path(value, path.parent, _place(path, text, section, key))
            if section == "task" and key == "fields" and isinstance(value, dict):
                value = {**target.get("fields", {}), **value}
            target[key] = value
            places[(section, key)] = _place(path, text, section, key)
    return data, places


def _place(path: Path, text: str, section: str, key: str) -> str:
    """"file, line N" where the key is written, or the file alone when the line is unknown."""
    line = line_of(text, section, key)
    return f"{path}, line {line}" if line else str(path)


def _resolve_task_path(value: str, base: Path, where: str) -> str:
    """Task paths are relative to the file that names them, else to the bundled profiles. A
    missing file is said when the task loads (a setup may be written before its task); a
    directory or a link loop is never a task, so it is an error here, where the line is known."""
    candidate = Path(value).expanduser()
    roots = () if candidate.is_absolute() else (base, PROFILES_DIR)
    for root in roots:
        if path_kind(root / candidate) == "file":
            return str(absolute(root / candidate))
    path = candidate if candidate.is_absolute() else base / candidate
    kind = path_kind(path)
    if kind not in ("file", "missing", "dangling"):
        raise InputError(f'{where}: task.path = "{value}": {path} {kind_phrase(path, kind)}, but a task is a '
                         f"TOML file (beside its JSON Lines docs).{holds_hint(path, kind)}")
    return str(path if candidate.is_absolute() else absolute(path))


NOT_CODEBASES = ("tasks", "demo", "samples", "leaderboard")


def presets_for(kind: str, benchmark: str = "") -> tuple[str, ...]:
    """The codebase presets for this benchmark that score a task `kind`: each codebase's file
    named after the catalog's benchmark (profiles/<codebase>/<benchmark>.toml). A task the
    catalog does not know has none: a convention written for MMLU says nothing about it."""
    if not benchmark:
        return ()
    method = "loglikelihood" if kind == "multiple_choice" else "generate"
    names = []
    for path in sorted(PROFILES_DIR.glob(f"*/{benchmark}*.toml")):
        if path.parent.name in NOT_CODEBASES:
            continue
        name = f"{path.parent.name}/{path.stem}"
        try:
            preset = load_setup(name)
        except InputError:
            continue   # a broken preset is reported when named, not here
        if preset.task.benchmark == benchmark and preset.scoring.method == method:
            names.append(name)
    return tuple(names)
