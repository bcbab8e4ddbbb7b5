"""Setup files: finding a preset or a file, reading its TOML, following `extends`.

A setup file is TOML (engine/setup.py has its sections and validation). `extends = "NAME"`
inherits a preset first: NAME is looked up as a path relative to the file, then in the current
folder, then under the bundled `profiles/` folder (with or without `.toml`). The child overrides
its parent key by key; `[task.fields]` merges key by key too. Every key keeps the file and line
it came from, so a bad value is reported where it was written.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from scoregap.engine.errors import InputError, did_you_mean
from scoregap.engine.setup import SECTIONS, Places, Setup, build_setup
from scoregap.profiles import PROFILES_DIR

# Loading files


def resolve_preset(name: str, relative_to: Path | None = None) -> Path:
    """A preset name or path -> the TOML file it names."""
    candidates: list[Path] = []
    for base in ([relative_to] if relative_to else []) + [Path.cwd(), PROFILES_DIR]:
        candidates.append(base / name)
        if not name.endswith(".toml"):
            candidates.append(base / f"{name}.toml")
    for path in candidates:
        if path.is_file():
            return path.resolve()
    available = sorted(
        str(p.relative_to(PROFILES_DIR).with_suffix(""))
        for p in PROFILES_DIR.rglob("*.toml")
        if "tasks" not in p.parts and "demo" not in p.parts
    )
    raise InputError(
        f'Setup "{name}" was not found: it is neither a file (looked in '
        f"{', '.join(str(c.parent) for c in candidates[::2])}) nor a bundled preset."
        f"{did_you_mean(name, available)} Bundled presets: {', '.join(available) or 'none'}."
    )


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; a syntax error names the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot be read ({err}).") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path}: not valid TOML: {err}. Fix the syntax at that place.") from None


def line_of(text: str, section: str, key: str) -> int | None:
    """The line where `key` is set inside `[section]` (tomllib keeps no positions)."""
    current = ""
    pattern = re.compile(rf'^\s*("?){re.escape(key)}\1\s*=')
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[+\s*([^\]]+?)\s*\]+", line)
        if header:
            current = header.group(1).strip()
            continue
        if current == section and pattern.match(line):
            return number
    return None


def load_setup(name_or_path: str | Path, *, relative_to: Path | None = None) -> Setup:
    """Read a setup file or bundled preset, following `extends`, and validate it."""
    path = resolve_preset(str(name_or_path), relative_to)
    data, places = _load_merged(path, chain=())
    return build_setup(data, origin=str(path), source=str(path), places=places)




def _load_merged(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], Places]:
    if path in chain:
        loop = " -> ".join(str(p) for p in chain + (path,))
        raise InputError(f"{path}: `extends` forms a loop ({loop}). Remove one of the links.")
    raw, text = read_toml(path)
    parent_name = raw.pop("extends", None)
    data: dict[str, Any] = {}
    places: Places = {}
    if parent_name is not None:
        if not isinstance(parent_name, str):
            raise InputError(f'{path}: "extends" must be a string naming a preset or a file.')
        parent = resolve_preset(parent_name, relative_to=path.parent)
        data, places = _load_merged(parent, chain + (path,))
    for section, values in raw.items():
        if section not in SECTIONS:
            number = _section_line(text, section)
            line = f", line {number}" if number else ""
            raise InputError(
                f'{path}{line}: unknown section [{section}].{did_you_mean(section, list(SECTIONS))} '
                f"A setup has the sections {', '.join(f'[{s}]' for s in SECTIONS)} and an optional "
                f'top-level "extends".'
            )
        if not isinstance(values, dict):
            raise InputError(f"{path}: [{section}] must be a table of keys, not a single value.")
        target = data.setdefault(section, {})
        for key, value in values.items():
            if section == "task" and key == "path" and isinstance(value, str) and value:
                value = _resolve_task_path(value, path.parent)
            if section == "task" and key == "fields" and isinstance(value, dict):
                value = {**target.get("fields", {}), **value}
            target[key] = value
            line = line_of(text, section, key)
            if line is None and section == "task" and key == "fields":
                line = _section_line(text, "task.fields")
            places[(section, key)] = f"{path}, line {line}" if line else str(path)
    return data, places


def _section_line(text: str, section: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"^\s*\[\s*{re.escape(section)}\s*\]", line):
            return number
    return None


def _resolve_task_path(value: str, base: Path) -> str:
    """Task paths are relative to the file that names them, else to the bundled profiles."""
    candidate = Path(value).expanduser()
    if candidate.is_absolute():
        return str(candidate)
    for root in (base, PROFILES_DIR):
        if (root / candidate).is_file():
            return str((root / candidate).resolve())
    return str((base / candidate).resolve())


NOT_CODEBASES = ("tasks", "demo", "samples")


def presets_for(kind: str) -> tuple[str, ...]:
    """Codebase presets (profiles/<codebase>/<name>.toml, not `base`) that score a task `kind`."""
    method = "loglikelihood" if kind == "multiple_choice" else "generate"
    names = []
    for path in sorted(PROFILES_DIR.glob("*/*.toml")):
        if path.parent.name in NOT_CODEBASES or path.stem == "base":
            continue
        name = f"{path.parent.name}/{path.stem}"
        try:
            if load_setup(name).scoring.method == method:
                names.append(name)
        except InputError:
            continue   # a broken preset is reported when named, not here
    return tuple(names)
