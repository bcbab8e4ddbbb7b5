"""Sessions: one diagnosis to run — the model, your setup, the reported score and what is known.

A session file is TOML (DESIGN.md, "Session"), validated as strictly as a setup: every problem
names the file and the line it is on (or the file alone, when the line cannot be known), and says
what is allowed. Paths in it are relative to the file. The reported score may be a fraction
(0.619) or a percentage (61.9); `reported.scale` says which, or "auto" decides (above 1 means
percent). A score must be a finite number inside its scale's range: a NaN, an infinity or a 150
"percent" would otherwise flow into the gap and the report as a number. A `reported.setup` is
loaded and validated with the session, so a typo in it is found before any model runs. The
`[truth]` table exists for demo scenarios only: the diagnosis never reads it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scoregap.engine.checks_api import CHECK_IDS, parse_check_ids
from scoregap.engine.errors import InputError, did_you_mean
from scoregap.engine.inputs import absolute, kind_phrase, path_kind
from scoregap.engine.presets import line_of, load_setup, read_toml
from scoregap.engine.setup import Setup, check_dotted

SCALES = ("auto", "fraction", "percent")
STRING = ((str,), "a string")
NUMBER = ((int, float), "a number")
KEYS: dict[str, dict[str, tuple[tuple[type, ...], str]]] = {
    "model": {"path": ((str,), "a string (a model directory or a hub id)"), "revision": STRING},
    "yours": {"setup": ((str,), "a string (a setup file or a preset name)"), "score": NUMBER,
              "run": ((dict,), "a table (path, tool, task, metric) naming your lm-eval or lighteval run")},
    "reported": {"score": NUMBER, "source": STRING, "setup": ((str,), "a string (a setup file or a preset name)"),
                 "scale": ((str,), 'a string ("auto", "fraction" or "percent")'),
                 "known": ((dict,), 'a table of dotted setup keys ("fewshot.k" = 5)'),
                 "run": ((dict,), "a table (path, tool, task, metric) naming your lm-eval or lighteval run")},
    "diagnosis": {"checks": ((list,), "a list of check names"), "limit": ((int,), "an integer")},
    "truth": {"causes": ((list,), "a list of check names"), "story": STRING},
}
"""Section -> key -> (the types allowed, how a message names them)."""


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
    yours_run: RunRef | None = None      # your own run's files, when imported
    reported_run: RunRef | None = None   # the reported run's files, when imported

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
        if self.yours_run:
            data["yours"]["run"] = self.yours_run.to_dict()
        data["reported"] = {"score": self.reported_raw, "scale": self.reported_scale, "source": self.reported_source}
        if self.reported_setup:
            data["reported"]["setup"] = self.reported_setup
        if self.reported_run:
            data["reported"]["run"] = self.reported_run.to_dict()
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


def check_score(value: float, scale: str, where: str) -> tuple[float, str]:
    """`to_fraction`, refusing what is no score: not finite, or outside 0..1 (a fraction) or
    0..100 (a percent). `where` names it ("session.toml, line 8: reported.score")."""
    if not math.isfinite(value):
        raise InputError(f"{where} = {value} is not a finite number. A score is a fraction (0 to 1) or a "
                         f"percent (0 to 100).")
    fraction, used = to_fraction(value, scale)
    if 0.0 <= fraction <= 1.0:
        return fraction, used
    how = (f'read as a {used} (scale "auto": a value above 1 is a percent, else a fraction)'
           if scale == "auto" else f'scale = "{scale}"')
    bounds = "0 and 100" if used == "percent" else "0 and 1"
    raise InputError(f"{where} = {value!r} is out of range: {how}, a score lies between {bounds}. Fix the "
                     f'number, or set reported.scale ("fraction" or "percent") if it is on the other scale.')


class _Places:
    """Where each key of one session file is written, for messages."""

    def __init__(self, file: Path, text: str) -> None:
        self.file, self.text = file, text

    def __call__(self, section: str, key: str = "") -> str:
        line = line_of(self.text, section, key) if key else line_of(self.text, "", section)
        return f"{self.file}, line {line}" if line else str(self.file)


def load_session(path: str | Path) -> Session:
    file = Path(path)
    raw, text = read_toml(file, "session file")
    at = _Places(file, text)
    _check_keys(raw, at)
    model = raw.get("model", {})
    if not model.get("path"):
        raise InputError(f"{file}: [model] path is required (a model directory or a hub id).")
    yours_raw = raw.get("yours", {})
    if not yours_raw.get("setup"):
        raise InputError(f"{file}: [yours] setup is required (your setup file or a preset name).")
    yours = load_setup(yours_raw["setup"], relative_to=file.parent, origin=f"{at('yours', 'setup')}: yours.setup")
    reported = raw.get("reported", {})
    if "score" not in reported:
        raise InputError(f"{file}: [reported] score is required: the number you are trying to reproduce.")
    scale = reported.get("scale", "auto")
    if scale not in SCALES:
        raise InputError(f'{at("reported", "scale")}: reported.scale = "{scale}" is not allowed. '
                         f'Allowed: {", ".join(SCALES)}.')
    reported_score, resolved_scale = check_score(reported["score"], scale, f"{at('reported', 'score')}: reported.score")
    yours_score = None
    if "score" in yours_raw:
        yours_score = check_score(yours_raw["score"], scale, f"{at('yours', 'score')}: yours.score")[0]
    if reported.get("setup"):
        load_setup(reported["setup"], relative_to=file.parent, origin=f"{at('reported', 'setup')}: reported.setup")
    known = _known(reported.get("known", {}), yours, file, text)
    diagnosis = raw.get("diagnosis", {})
    checks = _checks(diagnosis.get("checks", []), f"{at('diagnosis', 'checks')}: diagnosis.checks")
    limit = diagnosis.get("limit", 0)
    if limit < 0:
        raise InputError(f"{at('diagnosis', 'limit')}: diagnosis.limit must be 0 (all docs) or positive.")
    truth = raw.get("truth", {})
    return Session(
        path=str(file), model=_model_path(model["path"], file.parent, f"{at('model', 'path')}: model.path"),
        revision=model.get("revision", ""),
        yours=yours, yours_score=yours_score, reported_score=reported_score,
        reported_raw=float(reported["score"]), reported_scale=resolved_scale,
        reported_source=reported.get("source", ""), reported_setup=_setup_ref(reported.get("setup", ""), file.parent),
        known=known, checks=checks, limit=limit,
        truth=tuple(str(c) for c in truth.get("causes", [])), story=truth.get("story", ""),
        yours_setup=_setup_ref(yours_raw["setup"], file.parent),
        yours_run=_run_ref(yours_raw.get("run"), file.parent, f"{at('yours', 'run')}: yours.run"),
        reported_run=_run_ref(reported.get("run"), file.parent, f"{at('reported', 'run')}: reported.run"),
    )


def _check_keys(raw: dict[str, Any], at: _Places) -> None:
    """Every section and key known, every value of its type."""
    for section, values in raw.items():
        if section not in KEYS:
            raise InputError(
                f"{at(section)}: unknown section [{section}].{did_you_mean(section, list(KEYS))} "
                f"A session has {', '.join(f'[{s}]' for s in KEYS)}."
            )
        if not isinstance(values, dict):
            raise InputError(f"{at(section)}: [{section}] must be a table of keys, not a single value.")
        for key, value in values.items():
            if key not in KEYS[section]:
                raise InputError(
                    f'{at(section, key)}: unknown key "{key}" in [{section}].'
                    f"{did_you_mean(key, list(KEYS[section]))} Allowed: {', '.join(KEYS[section])}."
                )
            types, described = KEYS[section][key]
            if isinstance(value, bool) or not isinstance(value, types):
                shown = repr(value) if len(repr(value)) <= 60 else type(value).__name__
                raise InputError(f"{at(section, key)}: {section}.{key} must be {described}, not {shown}.")


def _known(table: dict[str, Any], yours: Setup, file: Path, text: str) -> dict[str, Any]:
    """The `[reported.known]` facts: each a dotted setup key with a valid value, and together
    a setup that could exist."""
    known = {}
    for dotted, value in table.items():
        line = line_of(text, "reported.known", dotted)
        where = f"{file}, line {line}" if line else f"{file}"
        if isinstance(value, dict):   # TOML read "fewshot.k" unquoted as a nested table
            raise InputError(
                f'{where}: [reported.known] keys must be quoted dotted setup keys, e.g. "fewshot.k" = 5.'
            )
        check_dotted(dotted, value, f"{where}: [reported.known]")
        known[dotted] = value
    table_line = line_of(text, "reported", "known")
    origin = f"{file}, line {table_line}: [reported.known]" if table_line else f"{file}: [reported.known]"
    yours.with_values(known, origin=origin)
    return known


def _checks(names: list[Any], where: str) -> tuple[str, ...]:
    if not all(isinstance(n, str) for n in names):
        raise InputError(f"{where} must be a list of check names (strings), for example "
                         f'["prompt", "metric"]; checks: {", ".join(CHECK_IDS)}.')
    return parse_check_ids(names, where) or CHECK_IDS


RUN_KEYS = ("path", "tool", "task", "metric")
RUN_TOOLS = ("lm-eval", "lighteval")


@dataclass(frozen=True)
class RunRef:
    """A run's files, named in a session: read for the comparison of the two runs."""

    path: str                    # absolute: an output folder or a results file
    tool: str                    # "lm-eval" | "lighteval"
    task: str = ""               # the task in it ("" : its only one)
    metric: str = ""             # the score's metric ("acc_norm", "exact_match,strict-match"); "" : the first

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("path", self.path), ("tool", self.tool), ("task", self.task),
                                  ("metric", self.metric)) if v}


def _run_ref(table: Any, base: Path, where: str) -> RunRef | None:
    """A `run = {path = ..., tool = ...}` table; the path is relative to the session file and
    must exist."""
    if table is None:
        return None
    for key, value in table.items():
        if key not in RUN_KEYS:
            raise InputError(f'{where}: unknown key "{key}".{did_you_mean(key, RUN_KEYS)} A run has '
                             f"{', '.join(RUN_KEYS)}.")
        if not isinstance(value, str):
            raise InputError(f"{where}: {key} must be a string, not {value!r}.")
    if not table.get("path"):
        raise InputError(f"{where}: path is required (an lm-eval or lighteval output folder, or its results file).")
    tool = table.get("tool", "lm-eval")
    if tool not in RUN_TOOLS:
        raise InputError(f'{where}: tool = "{tool}" is not allowed; tools: {", ".join(RUN_TOOLS)}.')
    path = absolute(base / Path(table["path"]).expanduser())
    kind = path_kind(path)
    if kind not in ("file", "directory"):
        raise InputError(f'{where}: path = "{table["path"]}": {path} {kind_phrase(path, kind)}; a run is an '
                         f"lm-eval or lighteval output folder, or its results JSON file.")
    return RunRef(str(path), tool, table.get("task", ""), table.get("metric", ""))


def _model_path(value: str, base: Path, where: str) -> str:
    """A directory (absolute, or relative to the session file) stays a path; anything else is a
    hub id. A path that is a file or a broken link is refused here, where the line is known."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        if not (value.startswith(".") or path_kind(base / path) != "missing"):
            return value
        path = absolute(base / path)
    kind = path_kind(path)
    if kind not in ("directory", "missing"):
        raise InputError(f'{where} = "{value}": {path} {kind_phrase(path, kind)}, but a model is a directory '
                         f"holding config.json (saved with save_pretrained), or a hub id such as "
                         f"Qwen/Qwen2.5-0.5B-Instruct.")
    return str(path)
