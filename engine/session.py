"""Sessions: one diagnosis to run — the model, your setup, the reported score and what is known.

A session file is TOML (DESIGN.md, "Session"), validated as strictly as a setup. Paths in it are
relative to the file. The reported score may be a fraction (0.619) or a percentage (61.9);
`reported.scale` says which, or "auto" decides (above 1 means percent). The `[truth]` table
exists for demo scenarios only: the diagnosis never reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scoregap.engine.checks_api import CHECK_IDS, parse_check_ids
from scoregap.engine.errors import InputError, did_you_mean
from scoregap.engine.presets import line_of, load_setup, read_toml
from scoregap.engine.setup import Setup, _split_dotted

SCALES = ("auto", "fraction", "percent")
KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "model": {"path": str, "revision": str},
    "yours": {"setup": str, "score": (int, float)},
    "reported": {"score": (int, float), "source": str, "setup": str, "scale": str, "known": dict},
    "diagnosis": {"checks": list, "limit": int},
    "truth": {"causes": list, "story": str},
}


@dataclass(frozen=True)
class Session:
    path: str
    model: str                           # a directory (absolute) or a hub id
    revision: str
    yours: Setup
    yours_score: float | None            # as stated (fraction), or None: measured
    reported_score: float                # fraction
    reported_raw: float                  # as written in the file
    reported_scale: str                  # "fraction" | "percent"
    reported_source: str
    reported_setup: str                  # a preset name or an absolute path ('' : none)
    known: dict[str, Any] = field(default_factory=dict)
    checks: tuple[str, ...] = CHECK_IDS
    limit: int = 0
    truth: tuple[str, ...] = ()
    story: str = ""
    yours_setup: str = ""                # your setup as named: a preset name or an absolute path

    def to_toml(self) -> str:
        """The session file for this session: `load_session` of it gives this session back
        (paths are written absolute, so the file may live anywhere)."""
        import tomli_w

        data: dict[str, Any] = {
            "model": {"path": self.model, "revision": self.revision},
            "yours": {"setup": self.yours_setup or self.yours.source},
        }
        if self.yours_score is not None:
            data["yours"]["score"] = _from_fraction(self.yours_score, self.reported_scale)
        data["reported"] = {"score": self.reported_raw, "scale": self.reported_scale, "source": self.reported_source}
        if self.reported_setup:
            data["reported"]["setup"] = self.reported_setup
        data["reported"]["known"] = dict(self.known)
        data["diagnosis"] = {"checks": [] if self.checks == CHECK_IDS else list(self.checks), "limit": self.limit}
        if self.truth or self.story:
            data["truth"] = {"causes": list(self.truth), "story": self.story}
        return tomli_w.dumps(data)


def _from_fraction(value: float, scale: str) -> float:
    return round(value * 100.0, 10) if scale == "percent" else value


def _setup_ref(value: str, base: Path) -> str:
    """A setup named in a session: a file beside it becomes an absolute path; a preset name or
    a path elsewhere stays as written (load_setup resolves it the same way)."""
    if value and (base / value).is_file():
        return str((base / value).resolve())
    return value


def to_fraction(value: float, scale: str) -> tuple[float, str]:
    """A score as a fraction, and the scale it was read on ("auto": above 1 means percent)."""
    if scale == "auto":
        scale = "percent" if value > 1.0 else "fraction"
    return (value / 100.0 if scale == "percent" else value), scale


def load_session(path: str | Path) -> Session:
    file = Path(path)
    raw, text = read_toml(file)
    for section, values in raw.items():
        if section not in KEYS:
            raise InputError(
                f"{file}: unknown section [{section}].{did_you_mean(section, list(KEYS))} "
                f"A session has {', '.join(f'[{s}]' for s in KEYS)}."
            )
        if not isinstance(values, dict):
            raise InputError(f"{file}: [{section}] must be a table.")
        for key, value in values.items():
            where = f"{file}, line {line_of(text, section, key) or '?'}"
            if key not in KEYS[section]:
                raise InputError(
                    f'{where}: unknown key "{key}" in [{section}].{did_you_mean(key, list(KEYS[section]))} '
                    f"Allowed: {', '.join(KEYS[section])}."
                )
            expected = KEYS[section][key]
            if isinstance(value, bool) or not isinstance(value, expected):
                raise InputError(f"{where}: {section}.{key} has the wrong type ({type(value).__name__}).")
    model = raw.get("model", {})
    if not model.get("path"):
        raise InputError(f'{file}: [model] path is required (a model directory or a hub id).')
    yours_raw = raw.get("yours", {})
    if not yours_raw.get("setup"):
        raise InputError(f"{file}: [yours] setup is required (your setup file or a preset name).")
    yours = load_setup(yours_raw["setup"], relative_to=file.parent)
    reported = raw.get("reported", {})
    if "score" not in reported:
        raise InputError(f"{file}: [reported] score is required: the number you are trying to reproduce.")
    scale = reported.get("scale", "auto")
    if scale not in SCALES:
        raise InputError(f'{file}: reported.scale = "{scale}" is not allowed. Allowed: {", ".join(SCALES)}.')
    reported_score, resolved_scale = to_fraction(float(reported["score"]), scale)
    yours_score = None
    if "score" in yours_raw:
        yours_score = to_fraction(float(yours_raw["score"]), scale)[0]
    known = {}
    for dotted, value in reported.get("known", {}).items():
        if isinstance(value, dict):   # TOML read "fewshot.k" unquoted as a nested table
            raise InputError(
                f'{file}: [reported.known] keys must be quoted dotted setup keys, e.g. "fewshot.k" = 5.'
            )
        _split_dotted(dotted, origin=f"{file} [reported.known]")
        known[dotted] = value
    try:
        yours.with_values(known, origin=f"{file} [reported.known]")
    except InputError as err:
        raise InputError(f"{file}: a [reported.known] value is not a valid setup value: {err}") from None
    diagnosis = raw.get("diagnosis", {})
    checks = parse_check_ids(diagnosis.get("checks", []), f"{file}: diagnosis.checks") or CHECK_IDS
    limit = diagnosis.get("limit", 0)
    if limit < 0:
        raise InputError(f"{file}: diagnosis.limit must be 0 (all docs) or positive.")
    truth = raw.get("truth", {})
    return Session(
        path=str(file), model=_model_path(model["path"], file.parent), revision=model.get("revision", ""),
        yours=yours, yours_score=yours_score, reported_score=reported_score,
        reported_raw=float(reported["score"]), reported_scale=resolved_scale,
        reported_source=reported.get("source", ""), reported_setup=_setup_ref(reported.get("setup", ""), file.parent),
        known=known, checks=checks, limit=limit,
        truth=tuple(truth.get("causes", [])), story=truth.get("story", ""),
        yours_setup=_setup_ref(yours_raw["setup"], file.parent),
    )


def _model_path(value: str, base: Path) -> str:
    """A relative directory is relative to the session file; anything else is a hub id."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    if value.startswith(".") or (base / path).is_dir():
        return str((base / path).resolve())
    return value
