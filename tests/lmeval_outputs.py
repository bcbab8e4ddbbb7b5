"""lm-eval 0.4.13 output folders written by hand, small and exact in layout (not a test module).

The keys are those lm-eval's EvaluationTracker writes (tests/integration/test_import_runs.py
produces them for real): a results_<time>.json beside samples_<task>_<time>.jsonl, in a folder
named after the model. Each helper argument changes one thing, for tests of the reader, the
import command and the app's import screen.
"""

from __future__ import annotations

import json
from pathlib import Path

from scoregap.profiles import PROFILES_DIR

ARITH = PROFILES_DIR / "tasks" / "arith"
STAMP = "2026-12-01T10-00-00.000000"


def task_config(**changes) -> dict:
    config = {
        "task": "arith_local", "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(ARITH / "arith.test.jsonl"), "train": str(ARITH / "arith.dev.jsonl")}},
        "test_split": "test", "fewshot_split": "train", "doc_to_text": "Question: {{question}}\nAnswer:",
        "doc_to_target": "answer", "doc_to_choice": "{{choices}}", "description": "", "target_delimiter": " ",
        "fewshot_delimiter": "\n\n", "fewshot_config": {"sampler": "default"}, "num_fewshot": 0,
        "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}], "output_type": "multiple_choice",
    }
    config.update(changes)
    return config


def _docs() -> list[dict]:
    return [json.loads(line) for line in (ARITH / "arith.test.jsonl").read_text().splitlines()[:3]]


def write_run(folder: Path, *, shots: int = 0, samples: int | None = 3, chat: bool = False,
              config: dict | None = None, **top) -> Path:
    out = folder / "model__x"
    out.mkdir(parents=True)
    docs = _docs()
    rows = []
    for i, doc in enumerate(docs):
        context = f"Question: {doc['question']}\nAnswer:"
        rows.append({"doc_id": i, "doc": doc, "target": str(doc["answer"]),
                     "arguments": {f"gen_args_{j}": {"arg_0": context, "arg_1": f" {c}"}
                                   for j, c in enumerate(doc["choices"])},
                     "resps": [[[str(-1.0 - j), "False"]] for j in range(4)], "filter": "none",
                     "metrics": ["acc", "acc_norm"], "doc_hash": f"h{i}", "acc": float(i == 0), "acc_norm": 1.0})
    results = {
        "results": {"arith_local": {"alias": "arith_local", "acc,none": 1 / 3, "acc_stderr,none": 0.3,
                                    "acc_norm,none": 1.0}},
        "group_subtasks": {}, "configs": {"arith_local": config or task_config(num_fewshot=shots)},
        "versions": {"arith_local": "Yaml"}, "n-shot": {"arith_local": shots},
        "n-samples": {"arith_local": {"original": 200, "effective": 3}},
        "config": {"model": "hf", "model_args": "pretrained=/models/tiny,dtype=bfloat16", "batch_size": "8",
                   "device": "cuda:0", "limit": 3, "fewshot_seed": 1234},
        "chat_template": "{{ messages }}" if chat else None, "chat_template_sha": "ab" * 32 if chat else None,
        "system_instruction": None, "fewshot_as_multiturn": chat, **top,
    }
    (out / f"results_{STAMP}.json").write_text(json.dumps(results))
    if samples is not None:
        (out / f"samples_arith_local_{STAMP}.jsonl").write_text("\n".join(json.dumps(r) for r in rows[:samples]))
    return folder
