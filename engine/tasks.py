"""Tasks: the docs to evaluate and the few-shot pool, from a local task file or a hub dataset.

A local task is a TOML file beside its data (DESIGN.md, "Task file"): one JSON doc per line, the
few-shot pool in its own file so a doc is never its own shot. A hub task comes from `datasets`
(installed separately) with the same field mapping given in the setup's `[task.fields]`.

Every row is checked when the task loads. A row that cannot be used is an error naming the file
and the line, never a silent drop: a benchmark that quietly loses 3% of its docs reports a
different number from everyone else's.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scoregap.engine import hub_layout
from scoregap.engine.errors import InputError, did_you_mean
from scoregap.engine.inputs import decode, holds_hint, kind_phrase, lone_surrogate, parse_json_line, path_kind
from scoregap.engine.presets import line_of, read_toml
from scoregap.engine.processors import PROCESSORS
from scoregap.engine.setup import TASK_FIELD_NAMES, TaskSpec

TASK_FILE_KEYS: dict[str, tuple[type, str]] = {
    "name": (str, "a string"),
    "kind": (str, 'a string ("multiple_choice" or "generate")'),
    "docs": (str, "a file name (a string)"),
    "fewshot": (str, "a file name (a string)"),
    "fields": (dict, "a table mapping task fields to doc keys"),
    "description": (str, "a string"),
}
"""The keys a task file may have: their type, and how a message names it."""


@dataclass(frozen=True)
class Doc:
    doc_id: int
    question: str
    choices: tuple[str, ...]            # multiple_choice only
    gold: tuple[int, ...] | tuple[str, ...]  # choice indices (any-of), or acceptable answers
    subtask: str = ""
    target: str = ""                    # the answer written out, for few-shot examples
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    source: str = field(default="", compare=False, hash=False)   # "file, line N": for messages


@dataclass(frozen=True)
class Task:
    name: str
    kind: str                           # "multiple_choice" | "generate"
    docs: tuple[Doc, ...]
    fewshot: tuple[Doc, ...]
    source: str
    fewshot_is_docs: bool = False       # the pool is the eval split: skip a doc's own row
    fewshot_by_subtask: bool = False    # shots come from the doc's own subtask (MMLU's subjects)
    fields: tuple[tuple[str, str], ...] = ()   # task field -> doc key
    docs_file: str = ""                 # local tasks: the data files
    fewshot_file: str = ""

    @property
    def subtasks(self) -> tuple[str, ...]:
        return tuple(sorted({d.subtask for d in self.docs if d.subtask}))


def load_task(spec: TaskSpec, *, setup_source: str = "") -> Task:
    if spec.path:
        return _load_local(Path(spec.path), spec.kind, spec.fields, setup_source, spec.process)
    if spec.hf:
        return _load_hub(spec)
    where = setup_source or "the setup"
    raise InputError(
        f"{where}: [task] names no task. Set task.path to a task TOML file (for example "
        f'path = "tasks/arith/arith.toml", a bundled sample) or task.hf to a hub dataset id.'
    )


def _load_local(
    path: Path, kind_override: str, fields_override: tuple[tuple[str, str], ...], setup_source: str = "",
    process: str = "",
) -> Task:
    _check_task_path(path, setup_source)
    raw, text = read_toml(path, "task file")
    _check_task_keys(raw, text, path)
    kind = kind_override or raw.get("kind", "")
    if kind not in ("multiple_choice", "generate"):
        raise InputError(f'{_at(path, text, "kind")}: kind must be "multiple_choice" or "generate", not {kind!r}.')
    mapping = _field_mapping(raw.get("fields", {}), fields_override, str(path), text)
    if not raw.get("docs"):
        raise InputError(f'{path}: the task file names no docs file (docs = "name.jsonl").')
    docs_file = path.parent / raw["docs"]
    fewshot_file = path.parent / raw["fewshot"] if raw.get("fewshot") else None
    docs = _read_rows(docs_file, kind, mapping, _at(path, text, "docs"), "docs", process)
    fewshot = _read_rows(fewshot_file, kind, mapping, _at(path, text, "fewshot"), "fewshot", process) \
        if fewshot_file else ()
    return Task(
        raw.get("name", path.stem), kind, docs, fewshot, str(path),
        fields=tuple(sorted(mapping.items())), docs_file=str(docs_file),
        fewshot_file=str(fewshot_file or ""),
    )


def _at(path: Path, text: str, key: str, section: str = "") -> str:
    """"task.toml, line N" where `key` is written (the file alone if the line is unknown)."""
    line = line_of(text, section, key)
    return f"{path}, line {line}" if line else str(path)


def _check_task_path(path: Path, setup_source: str) -> None:
    kind = path_kind(path)
    if kind == "file":
        return
    setup = f"{setup_source}: " if setup_source else ""
    if kind == "missing":
        raise InputError(f"{setup}{path}: task file not found. task.path is relative to the setup file.")
    raise InputError(f'{setup}task.path = "{path}" {kind_phrase(path, kind)}, but a task is a TOML file '
                     f"(beside its JSON Lines docs).{holds_hint(path, kind)}")


def _check_task_keys(raw: dict[str, Any], text: str, path: Path) -> None:
    for key, value in raw.items():
        if key not in TASK_FILE_KEYS:
            raise InputError(
                f'{_at(path, text, key)}: unknown key "{key}" in the task file.'
                f"{did_you_mean(key, list(TASK_FILE_KEYS))} Allowed keys: {', '.join(TASK_FILE_KEYS)}."
            )
        expected, described = TASK_FILE_KEYS[key]
        if not isinstance(value, expected):
            raise InputError(f"{_at(path, text, key)}: {key} must be {described}, not {_shown(value)}.")


def _shown(value: Any) -> str:
    """A value for a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _field_mapping(
    table: Any, override: tuple[tuple[str, str], ...], where: str, text: str = ""
) -> dict[str, str]:
    if not isinstance(table, dict):
        raise InputError(f"{where}: [fields] must be a table mapping task fields to doc keys.")
    for name, value in table.items():
        line = line_of(text, "fields", name) if text else None
        at = f"{where}, line {line}" if line else where
        if name not in TASK_FIELD_NAMES:
            raise InputError(
                f'{at}: unknown task field "{name}".{did_you_mean(name, TASK_FIELD_NAMES)} '
                f"Task fields: {', '.join(TASK_FIELD_NAMES)}."
            )
        if not isinstance(value, str):
            raise InputError(f'{at}: [fields] {name} must be a string naming one doc key (for example '
                             f'{name} = "{name}"), not {_shown(value)}.')
    mapping = {"question": "question", "choices": "choices", "gold": "answer"}
    mapping.update(table)
    mapping.update(dict(override))
    return mapping


def _read_rows(path: Path, kind: str, mapping: dict[str, str], named_at: str, key: str,
               process: str = "") -> tuple[Doc, ...]:
    """Parsed once per file version: many variants of one task share its docs. `named_at` is
    where the task file names this file ("task.toml, line 3"), for messages."""
    found = path_kind(path)
    if found == "missing":
        raise InputError(f"{path}: data file not found (named by the task file, {named_at}).")
    if found != "file":
        raise InputError(f'{named_at}: {key} = "{path.name}" names {path}, which {kind_phrase(path, found)}; '
                         f"{key} must name a JSON Lines file (one JSON doc a line), relative to the task file.")
    return _parse_rows(path, path.stat().st_mtime_ns, kind, tuple(sorted(mapping.items())), process)


@functools.lru_cache(maxsize=64)
def _parse_rows(
    path: Path, stamp: int, kind: str, mapping_items: tuple[tuple[str, str], ...], process: str = ""
) -> tuple[Doc, ...]:
    mapping = dict(mapping_items)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: the data file cannot be read ({err.strerror or err}).") from None
    docs: list[Doc] = []
    # Only "\n" ends a line: JSON text may hold U+2028 and other characters str.splitlines splits at.
    for number, line in enumerate(decode(data, str(path)).split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        row = parse_json_line(line, where)
        if not isinstance(row, dict):
            raise InputError(f"{where}: each line must be a JSON object.")
        bad = lone_surrogate(line, row)
        if bad is not None:
            raise InputError(
                f'{where}: field "{bad}" holds a lone surrogate (an escape such as \\ud800, half of a '
                f"UTF-16 pair), which is not a character and cannot be written as UTF-8. Fix the escape "
                f"(a character beyond U+FFFF is a pair, e.g. \\ud83d\\ude00) or remove it."
            )
        if process:
            row = PROCESSORS[process](row, where)
        docs.append(make_doc(row, len(docs), kind, mapping, where))
    if not docs:
        raise InputError(f"{path}: no docs in this file; a task needs at least one.")
    return tuple(docs)


def make_doc(row: Mapping[str, Any], doc_id: int, kind: str, mapping: dict[str, str], where: str) -> Doc:
    """One validated doc; `where` names the row in errors (and stays with the doc)."""

    def get(name: str) -> Any:
        key = mapping[name]
        if key not in row:
            raise InputError(
                f'{where}: the doc has no field "{key}" (mapped from task field "{name}"). '
                f"Fields present: {', '.join(row) or 'none'}."
            )
        return row[key]

    question = get("question")
    if not isinstance(question, str):
        raise InputError(f'{where}: field "{mapping["question"]}" must be a string, not {_shown(question)}.')
    subtask = _text(row.get(mapping["subtask"], ""), mapping.get("subtask", ""), "the subtask", where) \
        if "subtask" in mapping else ""
    if kind == "multiple_choice":
        choices = _choices(get("choices"), mapping["choices"], where)
        gold: tuple[int, ...] | tuple[str, ...] = _choice_golds(get("gold"), mapping["gold"], len(choices), where)
        written = mapping.get("target", "target")   # partial scoring's shared continuation
        target = _text(row[written], written, "the written answer", where) if written in row else ""
    else:
        choices = ()
        gold = _answers(get("gold"), mapping["gold"], where)
        target = _text(row[mapping["target"]], mapping["target"], "the written answer", where) \
            if mapping.get("target") in row else gold[0]
    return Doc(doc_id, question, choices, gold, subtask, target, dict(row), where)


def _text(value: Any, key: str, role: str, where: str) -> str:
    """A string field (a subtask, a target): a string or an integer, as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InputError(f'{where}: field "{key}" ({role}) must be a string, not {_shown(value)}.')


def _choices(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        raise InputError(f'{where}: field "{key}" must be a non-empty list of strings.')
    return tuple(value)


def _choice_golds(value: Any, key: str, n_choices: int, where: str) -> tuple[int, ...]:
    golds = value if isinstance(value, list) else [value]
    if not golds or not all(isinstance(g, int) and not isinstance(g, bool) for g in golds):
        raise InputError(
            f'{where}: field "{key}" must be a choice index (an integer) or a list of them, not {_shown(value)}.'
        )
    for g in golds:
        if not 0 <= g < n_choices:
            raise InputError(
                f"{where}: gold index {g} is out of range: the doc has {n_choices} choices "
                f"(indices 0 to {n_choices - 1})."
            )
    return tuple(golds)


def _answers(value: Any, key: str, where: str) -> tuple[str, ...]:
    """A generate task's gold: answer strings (an integer is its digits); a float is refused,
    since "2.5", "nan" or "inf" as written by str() is rarely what the data meant."""
    golds = value if isinstance(value, list) else [value]
    for g in golds:
        if isinstance(g, float) and not math.isfinite(g):
            raise InputError(f'{where}: field "{key}" holds {g} (not a finite number); a gold answer is a '
                             f"string or an integer, or a list of them.")
        if isinstance(g, float):
            raise InputError(f'{where}: field "{key}" holds the number {g!r}; a gold answer is a string or an '
                             f'integer, or a list of them: write "{g!r}" (a string) to compare it as written.')
    if not golds or not all(isinstance(g, (str, int)) and not isinstance(g, bool) for g in golds):
        raise InputError(
            f'{where}: field "{key}" must be an answer string or a list of them, not {_shown(value)}.'
        )
    return tuple(str(g) for g in golds)


def _load_hub(spec: TaskSpec) -> Task:
    """A hub dataset by id (through `datasets`, at `task.revision`), or a local folder in the hub
    layout (README `configs:` with parquet or JSON Lines files, read directly). `task.subsets`
    loads several configs, each a subtask with its own few-shot pool; `task.process` reshapes
    each row first (engine/processors.py)."""
    if spec.kind not in ("multiple_choice", "generate"):
        raise InputError(
            f'task.hf = "{spec.hf}": a hub task needs task.kind ("multiple_choice" or "generate") '
            f"and [task.fields] mapping question, choices, gold."
        )
    mapping = _field_mapping({}, spec.fields, f'task.hf = "{spec.hf}"')
    process = PROCESSORS[spec.process] if spec.process else None
    read = hub_layout.reader(spec.hf, spec.revision)
    configs = spec.subsets or (spec.subset,)
    pool_split = spec.fewshot_split or spec.split
    docs: list[Doc] = []
    fewshot: list[Doc] = []
    for config in configs:
        subtask = config if spec.subsets else ""
        docs += _hub_docs(read(config, spec.split), spec, config, spec.split, mapping, process, subtask, len(docs))
        if pool_split != spec.split:
            rows = read(config, pool_split)
            fewshot += _hub_docs(rows, spec, config, pool_split, mapping, process, subtask, len(fewshot))
    if pool_split == spec.split:
        fewshot = docs
    name = spec.benchmark or spec.hf
    return Task(name, spec.kind, tuple(docs), tuple(fewshot), spec.hf, fewshot_is_docs=pool_split == spec.split,
                fields=tuple(sorted(mapping.items())), fewshot_by_subtask=bool(spec.subsets))


def _hub_docs(rows: list[dict[str, Any]], spec: TaskSpec, config: str, split: str, mapping: dict[str, str],
              process: Any, subtask: str, start: int) -> list[Doc]:
    named = f"{spec.hf}" + (f" [{config}]" if config else "") + f" [{split}]"
    if not rows:
        raise InputError(f"Hub dataset {named} has no rows.")
    out = []
    for i, row in enumerate(rows):
        where = f"{named} row {i}"
        if process is not None:
            row = process(row, where)
        doc = make_doc(row, start + i, spec.kind, mapping, where)
        out.append(replace(doc, subtask=subtask) if subtask and not doc.subtask else doc)
    return out
