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
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from scoregap.engine.errors import InputError, did_you_mean
from scoregap.engine.presets import read_toml
from scoregap.engine.setup import TASK_FIELD_NAMES, TaskSpec

TASK_FILE_KEYS = ("name", "kind", "docs", "fewshot", "fields", "description")


@dataclass(frozen=True)
class Doc:
    doc_id: int
    question: str
    choices: tuple[str, ...]            # multiple_choice only
    gold: tuple[int, ...] | tuple[str, ...]  # choice indices (any-of), or acceptable answers
    subtask: str = ""
    target: str = ""                    # the answer written out, for few-shot examples
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Task:
    name: str
    kind: str                           # "multiple_choice" | "generate"
    docs: tuple[Doc, ...]
    fewshot: tuple[Doc, ...]
    source: str
    fewshot_is_docs: bool = False       # the pool is the eval split: skip a doc's own row
    fields: tuple[tuple[str, str], ...] = ()   # task field -> doc key
    docs_file: str = ""                 # local tasks: the data files
    fewshot_file: str = ""

    @property
    def subtasks(self) -> tuple[str, ...]:
        return tuple(sorted({d.subtask for d in self.docs if d.subtask}))


def load_task(spec: TaskSpec, *, setup_source: str = "") -> Task:
    if spec.path:
        return _load_local(Path(spec.path), spec.kind, spec.fields)
    if spec.hf:
        return _load_hub(spec)
    where = setup_source or "the setup"
    raise InputError(
        f"{where}: [task] names no task. Set task.path to a task TOML file (for example "
        f'path = "tasks/arith/arith.toml", a bundled sample) or task.hf to a hub dataset id.'
    )


def _load_local(path: Path, kind_override: str, fields_override: tuple[tuple[str, str], ...]) -> Task:
    if not path.is_file():
        raise InputError(f"{path}: task file not found. task.path is relative to the setup file.")
    raw, _ = read_toml(path)
    for key in raw:
        if key not in TASK_FILE_KEYS:
            raise InputError(
                f'{path}: unknown key "{key}" in the task file.{did_you_mean(key, TASK_FILE_KEYS)} '
                f"Allowed keys: {', '.join(TASK_FILE_KEYS)}."
            )
    kind = kind_override or raw.get("kind", "")
    if kind not in ("multiple_choice", "generate"):
        raise InputError(f'{path}: kind must be "multiple_choice" or "generate", not {kind!r}.')
    mapping = _field_mapping(raw.get("fields", {}), fields_override, str(path))
    for key in ("docs", "fewshot"):
        if not isinstance(raw.get(key, ""), str):
            raise InputError(f"{path}: {key} must be a file name (a string).")
    if not raw.get("docs"):
        raise InputError(f'{path}: the task file names no docs file (docs = "name.jsonl").')
    docs_file = path.parent / raw["docs"]
    fewshot_file = path.parent / raw["fewshot"] if raw.get("fewshot") else None
    docs = _read_rows(docs_file, kind, mapping)
    fewshot = _read_rows(fewshot_file, kind, mapping) if fewshot_file else ()
    return Task(
        raw.get("name", path.stem), kind, docs, fewshot, str(path),
        fields=tuple(sorted(mapping.items())), docs_file=str(docs_file),
        fewshot_file=str(fewshot_file or ""),
    )


def _field_mapping(
    table: Any, override: tuple[tuple[str, str], ...], where: str
) -> dict[str, str]:
    if not isinstance(table, dict):
        raise InputError(f"{where}: [fields] must be a table mapping task fields to doc keys.")
    for name in table:
        if name not in TASK_FIELD_NAMES:
            raise InputError(
                f'{where}: unknown task field "{name}".{did_you_mean(name, TASK_FIELD_NAMES)} '
                f"Task fields: {', '.join(TASK_FIELD_NAMES)}."
            )
    mapping = {"question": "question", "choices": "choices", "gold": "answer"}
    mapping.update(table)
    mapping.update(dict(override))
    return mapping


def _read_rows(path: Path, kind: str, mapping: dict[str, str]) -> tuple[Doc, ...]:
    """Parsed once per file version: many variants of one task share its docs."""
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise InputError(f"{path}: data file not found (named by the task file).") from None
    return _parse_rows(path, stamp, kind, tuple(sorted(mapping.items())))


@functools.lru_cache(maxsize=64)
def _parse_rows(
    path: Path, stamp: int, kind: str, mapping_items: tuple[tuple[str, str], ...]
) -> tuple[Doc, ...]:
    mapping = dict(mapping_items)
    lines = path.read_text(encoding="utf-8").splitlines()
    docs: list[Doc] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}, line {number}: not valid JSON ({err.msg}).") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}, line {number}: each line must be a JSON object.")
        docs.append(make_doc(row, len(docs), kind, mapping, f"{path}, line {number}"))
    if not docs:
        raise InputError(f"{path}: no docs in this file; a task needs at least one.")
    return tuple(docs)


def make_doc(row: Mapping[str, Any], doc_id: int, kind: str, mapping: dict[str, str], where: str) -> Doc:
    """One validated doc; `where` names the row in errors."""

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
        raise InputError(f'{where}: field "{mapping["question"]}" must be a string.')
    subtask = str(row.get(mapping["subtask"], "")) if "subtask" in mapping else ""
    gold_value = get("gold")
    choices: tuple[str, ...] = ()
    if kind == "multiple_choice":
        raw_choices = get("choices")
        if not isinstance(raw_choices, list) or not raw_choices or not all(
            isinstance(c, str) for c in raw_choices
        ):
            raise InputError(
                f'{where}: field "{mapping["choices"]}" must be a non-empty list of strings.'
            )
        choices = tuple(raw_choices)
        golds = gold_value if isinstance(gold_value, list) else [gold_value]
        if not golds or not all(isinstance(g, int) and not isinstance(g, bool) for g in golds):
            raise InputError(
                f'{where}: field "{mapping["gold"]}" must be a choice index (an integer) or a '
                f"list of them, not {gold_value!r}."
            )
        for g in golds:
            if not 0 <= g < len(choices):
                raise InputError(
                    f"{where}: gold index {g} is out of range: the doc has {len(choices)} choices "
                    f"(indices 0 to {len(choices) - 1})."
                )
        gold: tuple[int, ...] | tuple[str, ...] = tuple(golds)
        target = ""
    else:
        golds = gold_value if isinstance(gold_value, list) else [gold_value]
        if not golds or not all(isinstance(g, (str, int, float)) and not isinstance(g, bool) for g in golds):
            raise InputError(
                f'{where}: field "{mapping["gold"]}" must be an answer string or a list of them.'
            )
        gold = tuple(str(g) for g in golds)
        target = str(row[mapping["target"]]) if mapping.get("target") in row else gold[0]
    return Doc(doc_id, question, choices, gold, subtask, target, dict(row))


def _load_hub(spec: TaskSpec) -> Task:
    if spec.kind not in ("multiple_choice", "generate"):
        raise InputError(
            f'task.hf = "{spec.hf}": a hub task needs task.kind ("multiple_choice" or "generate") '
            f"and [task.fields] mapping question, choices, gold."
        )
    try:
        import datasets
    except ImportError:
        raise InputError(
            f'task.hf = "{spec.hf}" needs the `datasets` package: pip install "scoregap[hub]".'
        ) from None
    mapping = _field_mapping({}, spec.fields, f'task.hf = "{spec.hf}"')

    def split(name: str) -> tuple[Doc, ...]:
        try:
            rows = datasets.load_dataset(spec.hf, spec.subset or None, split=name)
        except Exception as err:  # datasets raises many types; all mean "cannot have it"
            raise InputError(
                f'Hub dataset "{spec.hf}" (subset "{spec.subset}", split "{name}") could not be '
                f"loaded: {err}. Offline, only datasets already in the local cache can be used."
            ) from None
        return tuple(
            make_doc(row, i, spec.kind, mapping, f"{spec.hf} [{name}] row {i}")
            for i, row in enumerate(rows)
        )

    docs = split(spec.split)
    if not docs:
        raise InputError(f'Hub dataset "{spec.hf}" split "{spec.split}" has no rows.')
    pool_split = spec.fewshot_split or spec.split
    fewshot = docs if pool_split == spec.split else split(pool_split)
    return Task(spec.hf, spec.kind, docs, fewshot, spec.hf, fewshot_is_docs=pool_split == spec.split,
                fields=tuple(sorted(mapping.items())))
