"""Runs the user already made: what an lm-eval or lighteval output records.

A `LoggedRun` is the tool-neutral reading of one run of one task (engine/lmeval_runs.py and
engine/lighteval_runs.py read the files): its score with the metric and filter it came from, every
setting the run records as a dotted setup key (`facts`), what it records that no setup key can
say (`notes`, never dropped), and, when per-sample logs exist, one `LoggedDoc` per doc with the
exact strings the model was fed and the doc's outcome. A `Reconstruction` is the setup a run's
files describe. Two runs are compared in engine/run_comparison.py.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LoggedDoc:
    """One doc as a run logged it."""

    doc_id: int
    doc: Mapping[str, Any] = field(compare=False, hash=False)
    question: str                          # the text docs are matched on across tools
    requests: tuple[tuple[str, str], ...]  # (context, continuation) per request; generation: (context, "")
    correct: float | None = None           # the run's score metric on this doc
    loglikelihoods: tuple[float, ...] = ()  # one per choice (multiple choice)
    prediction: str = ""                   # the generated text (generation)
    doc_hash: str = ""                     # the tool's own hash of the doc, when it logs one
    subtask: str = ""

    @property
    def context(self) -> str:
        return self.requests[0][0] if self.requests else ""


@dataclass(frozen=True)
class LoggedRun:
    tool: str                      # "lm-eval" | "lighteval"
    path: str                      # the results file
    task: str                      # as the tool names it ("mmlu", "lighteval|arc:challenge|25")
    metric: str                    # the score's metric, as the tool names it ("acc_norm")
    filter: str                    # lm-eval's filter ("none", "strict-match"); "" where there is none
    score: float                   # a fraction
    model: str = ""
    revision: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)   # dotted setup key -> recorded value
    notes: tuple[str, ...] = ()    # recorded, but no setup key can say it
    docs: tuple[LoggedDoc, ...] = ()
    samples_path: str = ""
    chat_template_sha: str = ""
    version: str = ""              # the task's version as the tool records it

    @property
    def has_samples(self) -> bool:
        return bool(self.docs)


def question_key(text: str) -> str:
    """Question text for matching across tools: whitespace collapsed, case kept."""
    return re.sub(r"\s+", " ", text).strip()


def content_hash(doc: Mapping[str, Any]) -> str:
    """A hash of a doc's content, independent of key order."""
    payload = json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def doc_finder(docs: Sequence[Any], run: LoggedRun) -> Callable[[LoggedDoc], Any]:
    """How a logged doc finds the same doc among `docs` (a task's, in the task's order): lm-eval
    logs each doc's position in its (sub)task, which is the task's order here; lighteval shuffles
    its docs, so by question text."""
    if run.tool != "lm-eval":
        by_question = {question_key(d.question): d for d in docs}
        return lambda logged: by_question.get(question_key(logged.question))
    by_position: dict[tuple[str, int], Any] = {}
    counts: dict[str, int] = {}
    subtasked = bool(run.docs and run.docs[0].subtask)
    for doc in docs:
        name = doc.subtask if subtasked else ""
        by_position[(name, counts.get(name, 0))] = doc
        counts[name] = counts.get(name, 0) + 1
    return lambda logged: by_position.get((logged.subtask, logged.doc_id))



FACT_NAMES = {
    "fewshot.k": "few-shot examples", "chat.apply_template": "chat template",
    "chat.system_prompt": "system instruction", "fewshot.multiturn": "shots as chat turns",
    "loading.dtype": "dtype", "loading.batch_size": "batch size", "loading.backend": "inference backend",
    "scoring.metric": "metric",
    "scoring.extract": "answer extraction (filter)", "scoring.aggregate": "aggregation",
    "prompt.template": "doc template", "prompt.description": "description",
    "prompt.target_delimiter": "delimiter before the answer", "prompt.fewshot_delimiter": "delimiter between shots",
    "fewshot.sampler": "few-shot sampler", "fewshot.seed": "few-shot seed",
    "generation.max_new_tokens": "max new tokens", "generation.stop": "stop sequences",
    "generation.temperature": "temperature",
}


# ---------------------------------------------------------------------------------------------
# A setup rebuilt from a run


@dataclass(frozen=True)
class Reconstruction:
    """Your setup as a run's files describe it: a preset to extend and the keys on top of it.

    `task_file` is the content of a local task file (engine/tasks.py's format) to write beside the
    setup, for a run whose task read local data files; `values` then names it as task.path
    "{task_file}". `unrepresentable` lists what the run recorded that this setup cannot say: the
    import prints it and writes it into the setup as comments, so nothing is silently dropped.
    `missing` says why the task itself could not be rebuilt (its prompt is Python, say): the run's
    score, settings and logs still serve as the reported side, but your setup must be named."""

    extends: str
    values: Mapping[str, Any]
    task_file: Mapping[str, Any] | None = None
    unrepresentable: tuple[str, ...] = ()
    missing: str = ""              # why the task itself cannot be rebuilt ("" : it can)


