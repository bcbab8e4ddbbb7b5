"""Named doc processors: a hub dataset's rows as the fields a task needs, as lm-eval prepares them.

A catalog entry stays declarative: where lm-evaluation-harness 0.4.13 reshapes a row in Python
(`process_docs`, or a `doc_to_choice` / `doc_to_target` expression over nested columns), the
setup names the equivalent here in `task.process`. A processor takes one raw row and returns it
with `question`, `choices` (multiple choice), `answer` (the gold: choice indices, or the answer
text) and, where the written answer differs from the gold, `target` added; the raw columns stay,
so a prompt template can use them. A row a processor cannot read is an `InputError` naming it.

| processor | lm-eval 0.4.13 | what it does |
|---|---|---|
| `arc` | arc_easy.yaml | choices = choices.text; gold = choices.label.index(answerKey) ("A".."E" or "1".."5") |
| `hellaswag` | hellaswag/utils.py | query = activity_label + ": " + ctx_a + " " + ctx_b.capitalize(), cleaned; endings cleaned |
| `mmlu` | mmlu/default | choices and answer as stored; the subject is the subtask |
| `winogrande` | winogrande/preprocess_winogrande.py | each option fills the blank and ends a context; the rest of the sentence is the target |
| `truthfulqa_mc1` | truthfulqa_mc1.yaml | choices = mc1_targets.choices; gold = 0 |
| `truthfulqa_mc2` | truthfulqa_mc2.yaml | choices = mc2_targets.choices; gold = every choice labelled 1 |
| `piqa` | piqa.yaml | question = goal; choices = [sol1, sol2]; gold = label |
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from scoregap.engine.errors import InputError

Row = Mapping[str, Any]


def _need(row: Row, where: str, *keys: str) -> None:
    missing = [k for k in keys if k not in row]
    if missing:
        raise InputError(f"{where}: the row has no {', '.join(repr(k) for k in missing)} column, which this "
                         f"task's doc processor reads. Columns present: {', '.join(row) or 'none'}.")


def arc(row: Row, where: str) -> dict[str, Any]:
    _need(row, where, "question", "choices", "answerKey")
    choices = row["choices"]
    if not isinstance(choices, Mapping) or not {"text", "label"} <= set(choices):
        raise InputError(f"{where}: choices must be a table with text and label lists (as in allenai/ai2_arc).")
    labels, key = list(choices["label"]), row["answerKey"]
    if key not in labels:
        raise InputError(f"{where}: answerKey {key!r} is not one of the choice labels {labels}.")
    return {**row, "choices": list(choices["text"]), "answer": labels.index(key)}


def hellaswag_clean(text: str) -> str:
    """lm-eval's HellaSwag `preprocess`: WikiHow's bracketed markers out, " [title]" a full stop."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def hellaswag(row: Row, where: str) -> dict[str, Any]:
    _need(row, where, "activity_label", "ctx_a", "ctx_b", "endings", "label")
    context = row["ctx_a"] + " " + row["ctx_b"].capitalize()
    try:
        gold = int(row["label"])
    except (TypeError, ValueError):
        raise InputError(f"{where}: label {row['label']!r} is not a choice number.") from None
    return {**row, "question": hellaswag_clean(row["activity_label"] + ": " + context),
            "choices": [hellaswag_clean(e) for e in row["endings"]], "answer": gold}


def mmlu(row: Row, where: str) -> dict[str, Any]:
    _need(row, where, "question", "choices", "answer")
    return dict(row)


def winogrande(row: Row, where: str) -> dict[str, Any]:
    _need(row, where, "sentence", "option1", "option2", "answer")
    sentence = row["sentence"]
    if "_" not in sentence:
        raise InputError(f"{where}: the sentence has no blank (_) for an option to fill.")
    if row["answer"] not in ("1", "2"):
        raise InputError(f'{where}: answer must be "1" or "2", not {row["answer"]!r}.')
    blank = sentence.index("_")
    return {**row, "question": sentence,
            "choices": [sentence[:blank] + row["option1"], sentence[:blank] + row["option2"]],
            "answer": int(row["answer"]) - 1, "target": sentence[blank + 1:].strip()}


def _truthfulqa(targets: str) -> Callable[[Row, str], dict[str, Any]]:
    def process(row: Row, where: str) -> dict[str, Any]:
        _need(row, where, "question", targets)
        table = row[targets]
        choices, labels = list(table["choices"]), list(table["labels"])
        gold = [0] if targets == "mc1_targets" else [i for i, label in enumerate(labels) if label == 1]
        if not gold or len(labels) != len(choices):
            raise InputError(f"{where}: {targets} needs a label for each choice and at least one labelled 1.")
        return {**row, "choices": choices, "answer": gold}

    return process


def piqa(row: Row, where: str) -> dict[str, Any]:
    _need(row, where, "goal", "sol1", "sol2", "label")
    return {**row, "question": row["goal"], "choices": [row["sol1"], row["sol2"]], "answer": row["label"]}


PROCESSORS: dict[str, Callable[[Row, str], dict[str, Any]]] = {
    "arc": arc,
    "hellaswag": hellaswag,
    "mmlu": mmlu,
    "winogrande": winogrande,
    "truthfulqa_mc1": _truthfulqa("mc1_targets"),
    "truthfulqa_mc2": _truthfulqa("mc2_targets"),
    "piqa": piqa,
}
