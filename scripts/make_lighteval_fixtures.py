"""Write two small lighteval runs of the same ARC-like docs, one per details layout, for offline tests.

Why fixtures: lighteval cannot be installed here (its tasks and models need the hub), yet
`engine/lighteval_runs.py` must read what it writes. These files follow its documented output
(docs/source/saving-and-reading-results.mdx) and the code that writes it (logging/
evaluation_tracker.py, logging/info_loggers.py), read from the source, not run:

    <out>/old/results/<org>/<model>/results_<ts>.json
    <out>/old/details/<org>/<model>/<ts>/details_leaderboard|arc:challenge|25_<ts>.parquet
    <out>/new/results/<org>/<model>/results_<ts>.json
    <out>/new/details/<org>/<model>/<ts>/details_lighteval|arc:challenge|0_<ts>.parquet

- `old` is lighteval 0.4-0.7 (`lighteval accelerate ... "leaderboard|arc:challenge|25|0"`): one
  column per `DetailsLogger.Detail` field, each cast with str() (so `predictions` is the text
  "[(-4.1, False), ...]" and `metrics` "{'acc': 1, 'acc_norm': 0}"); the full prompt holds 25
  shots ("Question: ...\\nAnswer: <gold>", a blank line after each). Its results name the task
  "leaderboard|arc:challenge|25" (the truncate-few-shots field never reaches the output), its
  config_tasks key has no few-shot field, the metrics are listed by enum name, the dtype is
  "torch.bfloat16", the batch size is config_general.override_batch_size.
- `new` is lighteval 0.12 (task "lighteval|arc:challenge|0", 0-shot): columns `doc`,
  `model_response` and `metric`, nested as the dataclasses are (the prompt is
  model_response.input, as the vLLM backend logs it); the normalized accuracy is named
  "acc:logprob_normalization=LogProbCharNorm(name='norm', ignore_first_space=True)"; the model's
  settings are config_general.model_config (dtype "float16", batch_size 4, override_chat_template
  false).

Both runs list the 12 docs in lighteval's order (shuffled with Random(42)); each doc's loglikelihoods
are drawn from a seeded Random, and acc / acc_norm follow from them, so each results score is the
mean of its details' column. Rerunning writes the same content.

    python scripts/make_lighteval_fixtures.py --out DIR
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

MODEL = "scoregap-tests/tiny-arc"
OLD_TASK = "leaderboard|arc:challenge|25"
NEW_TASK = "lighteval|arc:challenge|0"
OLD_TS = "2024-09-03T15-06-11.234678"
NEW_TS = "2025-06-18T09-41-27.502113"
NORM = "acc:logprob_normalization=LogProbCharNorm(name='norm', ignore_first_space=True)"
DOCS = 12
SHOTS = 25

THINGS = ("a rock", "a leaf", "a magnet", "an ice cube", "a puddle", "a seed", "a cloud", "a candle",
          "a copper wire", "a sponge", "a feather", "a snowball", "a shadow", "a battery", "a mirror")
QUESTIONS = ("What happens to {} left in the sun?", "Which property of {} can a student measure with a ruler?",
             "Why does {} change over a day?", "Which tool best shows how heavy {} is?")
ANSWERS = ("it melts", "its length", "light moves", "a balance", "it dries out", "it grows", "its color",
           "a thermometer", "it stays the same", "heat flows", "a stopwatch", "it sinks", "its mass")


def make_docs(n: int, seed: int) -> list[dict[str, Any]]:
    """n ARC-like docs: a unique question, 3 to 5 choice texts, the gold index."""
    rng = random.Random(seed)
    docs: list[dict[str, Any]] = []
    seen: set[str] = set()
    while len(docs) < n:
        question = rng.choice(QUESTIONS).format(rng.choice(THINGS))
        if question in seen:
            continue
        seen.add(question)
        texts = rng.sample(ANSWERS, 3 + len(docs) % 3)
        docs.append({"question": question, "texts": texts, "gold": rng.randrange(len(texts))})
    return docs


def query(doc: dict[str, Any]) -> str:
    """lighteval's `arc` prompt function: the query; each choice is " <text>"."""
    return f"Question: {doc['question']}\nAnswer:"


def outcome(texts: Sequence[str], gold: int, rng: random.Random) -> tuple[list[float], int, int]:
    """Loglikelihoods per choice, and acc and acc_norm (by characters, without the leading space)."""
    lls = [round(rng.uniform(-14.0, -1.0), 4) for _ in texts]
    acc = int(max(range(len(lls)), key=lambda i: (lls[i], -i)) == gold)
    normed = [ll / len(t) for ll, t in zip(lls, texts, strict=True)]
    acc_norm = int(max(range(len(normed)), key=lambda i: (normed[i], -i)) == gold)
    return lls, acc, acc_norm


def _stats(values: Sequence[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var / len(values))


def _order(n: int) -> list[int]:
    order = list(range(n))
    random.Random(42).shuffle(order)   # lighteval shuffles the eval docs with Random(42)
    return order


def _write(folder: Path, ts: str, results: dict[str, Any], task: str, table: pa.Table) -> tuple[Path, Path]:
    results_file = folder / "results" / MODEL / f"results_{ts}.json"
    details_file = folder / "details" / MODEL / ts / f"details_{task}_{ts}.parquet"
    results_file.parent.mkdir(parents=True, exist_ok=True)
    details_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    pq.write_table(table, details_file)
    return results_file, details_file


def _summary(n: int, shots: float) -> dict[str, Any]:
    hashes = {"hash_examples": "0" * 16, "hash_full_prompts": "1" * 16, "hash_input_tokens": "2" * 16,
              "hash_cont_tokens": "3" * 16}
    return {"hashes": hashes, "truncated": 0, "non_truncated": n, "padded": 0, "non_padded": n,
            "effective_few_shots": shots, "num_truncated_few_shots": 0}


def write_old(folder: Path, docs: list[dict[str, Any]], train: list[dict[str, Any]]) -> tuple[Path, Path]:
    rng = random.Random(2024)
    rows, accs, norms = [], [], []
    for i in _order(len(docs)):
        doc = docs[i]
        shots = rng.sample(train, SHOTS)
        context = "\n\n".join(query(s) + " " + s["texts"][s["gold"]] for s in shots) + "\n\n" + query(doc)
        lls, acc, acc_norm = outcome(doc["texts"], doc["gold"], rng)
        accs.append(acc)
        norms.append(acc_norm)
        detail = {"example": query(doc), "instruction": "", "full_prompt": context,
                  "num_effective_few_shots": SHOTS, "num_asked_few_shots": SHOTS,
                  "predictions": [(ll, False) for ll in lls], "prediction_logits": [],
                  "input_tokens": [[1, 2, 3]] * len(lls), "cont_tokens": [[4]] * len(lls),
                  "truncated": [0] * len(lls), "padded": [0] * len(lls), "gold": [], "pred_logits": [],
                  "choices": [" " + t for t in doc["texts"]], "gold_index": [doc["gold"]],
                  "metrics": {"acc": acc, "acc_norm": acc_norm}, "specifics": None}
        rows.append({k: str(v) for k, v in sorted(detail.items())})   # lighteval <= 0.7 casts every field
    (acc, acc_se), (norm, norm_se) = _stats(accs), _stats(norms)
    scores = {"acc": acc, "acc_stderr": acc_se, "acc_norm": norm, "acc_norm_stderr": norm_se}
    results = {
        "config_general": {"lighteval_sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "num_fewshot_seeds": 1,
                           "override_batch_size": 8, "max_samples": None, "job_id": "", "start_time": 1000.0,
                           "end_time": 1100.5, "total_evaluation_time_secondes": "100.5", "model_name": MODEL,
                           "model_sha": "0123456789abcdef0123456789abcdef01234567", "model_dtype": "torch.bfloat16",
                           "model_size": "12.5 MB"},
        "results": {OLD_TASK: scores, "all": scores},
        "versions": {OLD_TASK: 0},
        "config_tasks": {"leaderboard|arc:challenge": {
            "name": "arc:challenge", "prompt_function": "arc", "hf_repo": "ai2_arc", "hf_subset": "ARC-Challenge",
            "metric": ["loglikelihood_acc", "loglikelihood_acc_norm_nospace"], "hf_revision": None,
            "hf_filter": None, "hf_avail_splits": ["train", "test"], "trust_dataset": True,
            "evaluation_splits": ["test"], "few_shots_split": None, "few_shots_select": "random_sampling_from_train",
            "generation_size": 1, "generation_grammar": None, "stop_sequence": ["\n"], "output_regex": None,
            "num_samples": None, "suite": ["leaderboard", "arc"], "original_num_docs": 1172,
            "effective_num_docs": len(docs), "must_remove_duplicate_docs": None, "version": 0, "frozen": False}},
        "summary_tasks": {OLD_TASK: _summary(len(docs), float(SHOTS))},
        "summary_general": {k: v for k, v in _summary(len(docs), 0.0).items() if k != "effective_few_shots"},
    }
    return _write(folder, OLD_TS, results, OLD_TASK, pa.Table.from_pylist(rows))


def write_new(folder: Path, docs: list[dict[str, Any]]) -> tuple[Path, Path]:
    rng = random.Random(2025)
    rows, accs, norms = [], [], []
    for i in _order(len(docs)):
        doc = docs[i]
        lls, acc, acc_norm = outcome(doc["texts"], doc["gold"], rng)
        accs.append(acc)
        norms.append(acc_norm)
        rows.append({
            "doc": {"query": query(doc), "choices": [" " + t for t in doc["texts"]], "gold_index": doc["gold"],
                    "instruction": None, "specific": None, "unconditioned_query": "Answer:",
                    "original_query": None, "id": str(i), "task_name": NEW_TASK, "fewshot_samples": [],
                    "fewshot_sorting_class": None, "generation_size": 1, "stop_sequences": ["\n"],
                    "use_logits": True, "num_samples": 1},
            "model_response": {"input": query(doc), "input_tokens": [1, 2, 3], "text": [],
                               "output_tokens": [[4]] * len(lls), "logprobs": lls,
                               "argmax_logits_eq_gold": [False] * len(lls), "truncated_tokens_count": 0,
                               "padded_tokens_count": 0},
            "metric": {"acc": float(acc), NORM: float(acc_norm)},
        })
    (acc, acc_se), (norm, norm_se) = _stats(accs), _stats(norms)
    scores = {"acc": acc, "acc_stderr": acc_se, NORM: norm, f"{NORM}_stderr": norm_se}
    metric_entry = {"higher_is_better": True, "category": "LOGPROBS", "corpus_level_fn": "mean",
                    "sample_level_fn": "LoglikelihoodAcc", "batched_compute": False}
    results = {
        "config_general": {
            "lighteval_sha": "?", "num_fewshot_seeds": 1, "max_samples": None, "job_id": "0",
            "start_time": 2000.0, "end_time": 2042.0, "total_evaluation_time_secondes": "42.0",
            "model_config": {"model_name": MODEL, "revision": "main", "dtype": "float16", "batch_size": 4,
                             "system_prompt": None, "override_chat_template": False, "device": "cuda",
                             "generation_parameters": {"temperature": 0.0, "max_new_tokens": None}},
            "model_name": MODEL},
        "results": {NEW_TASK: scores, "all": scores},
        "versions": {NEW_TASK: 0},
        "config_tasks": {NEW_TASK: {
            "name": "arc:challenge", "prompt_function": "arc", "hf_repo": "allenai/ai2_arc",
            "hf_subset": "ARC-Challenge",
            "metrics": [{"metric_name": "acc", **metric_entry}, {"metric_name": NORM, **metric_entry}],
            "hf_revision": None, "hf_filter": None, "hf_avail_splits": ["train", "test"],
            "evaluation_splits": ["test"], "few_shots_split": None, "few_shots_select": "random_sampling_from_train",
            "generation_size": 1, "generation_grammar": None, "stop_sequence": ["\n"], "num_samples": None,
            "suite": ["lighteval"], "original_num_docs": 1172, "effective_num_docs": len(docs),
            "must_remove_duplicate_docs": False, "num_fewshots": 0, "version": 0}},
        "summary_tasks": {NEW_TASK: _summary(len(docs), 0.0)},
        "summary_general": {k: v for k, v in _summary(len(docs), 0.0).items() if k != "effective_few_shots"},
    }
    return _write(folder, NEW_TS, results, NEW_TASK, pa.Table.from_pylist(rows))


def write_fixtures(folder: Path) -> dict[str, Path]:
    """Both runs under `folder`: names -> paths ("old", "new": output folders; "old_results",
    "new_results": results files; "old_details", "new_details": details files)."""
    folder = Path(folder)
    docs = make_docs(DOCS, seed=7)
    train = [d for d in make_docs(DOCS + 40, seed=8) if d["question"] not in {e["question"] for e in docs}]
    old_results, old_details = write_old(folder / "old", docs, train)
    new_results, new_details = write_new(folder / "new", docs)
    return {"old": folder / "old", "new": folder / "new", "old_results": old_results, "new_results": new_results,
            "old_details": old_details, "new_details": new_details}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the two runs into")
    args = parser.parse_args(argv)
    for name, path in write_fixtures(args.out).items():
        print(f"{name:12} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
