"""Reading an lm-evaluation-harness output: its score, its settings, its per-sample logs, a setup.

`lm-eval run ... --output_path OUT --log_samples` writes `OUT/<model>/results_<time>.json` (the
scores, each task's full config, the run's `config`: model_args, batch size, seeds; the chat
template and its hash, the system instruction, multi-turn shots, versions) and beside it one
`samples_<task>_<time>.jsonl` per task (each doc, its requests' strings, the responses, the
per-doc metric values, a hash of the doc). The Open LLM Leaderboard publishes the same files.

`read_lmeval` turns one task of such a run into a `LoggedRun` and a `Reconstruction` of the
setup that produced it: a catalog task extends its `lm-eval/<task>` preset (the task configs
are lm-eval's own YAML, which those presets reproduce); any other task is rebuilt from its
config: the Jinja of doc_to_text becomes prompt.template as it is (templates see the doc's
fields), doc_to_choice and doc_to_target name the fields, delimiters and the description carry
over. What a setup cannot say (a Python process_docs, a filter other than a regex, a fractional
limit, the device the run used) is listed, never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scoregap.engine.errors import InputError
from scoregap.engine.inputs import path_kind, read_text
from scoregap.engine.lmeval_setup import model_args, reconstruct
from scoregap.engine.runs import FACT_NAMES, LoggedDoc, LoggedRun, Reconstruction, content_hash

RESULTS_LIMIT = 200_000_000


def find_results(path: Path) -> Path:
    """The results file a user names: the file itself, or the newest `results_*.json` under a
    folder (lm-eval nests it one level down, in a folder named after the model)."""
    kind = path_kind(path)
    if kind == "file":
        return path
    if kind != "directory":
        raise InputError(f"{path}: no such file or folder. Name an lm-eval output folder (the --output_path of "
                         f"`lm-eval run`) or one of its results_*.json files.")
    found = sorted(path.rglob("results_*.json"), key=lambda p: p.name)
    if not found:
        raise InputError(f"{path}: this folder holds no results_*.json file, so it is not an lm-eval output "
                         f"folder. lm-eval writes one under --output_path (in a folder named after the model); "
                         f"name that folder or the file.")
    return found[-1]


def read_results(file: Path) -> dict[str, Any]:
    text = read_text(file, "lm-eval results file", limit=RESULTS_LIMIT)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{file}, line {err.lineno}: not valid JSON ({err.msg}); an lm-eval results file is "
                         f"the JSON `lm-eval run --output_path` writes.") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict) or "configs" not in data:
        other = " It looks like lighteval's (config_general, config_tasks): use `scoregap import lighteval`." \
            if isinstance(data, dict) and "config_general" in data else ""
        raise InputError(f"{file}: not an lm-eval results file: it needs the keys \"results\" and \"configs\" that "
                         f"lm-eval 0.4 writes.{other}")
    return data


def read_lmeval(path: Path | str, task: str = "", metric: str = "") -> tuple[LoggedRun, Reconstruction]:
    """One task of an lm-eval run: `task` may be left empty when the file holds one task (or one
    group); `metric` ("acc_norm", "exact_match,flexible-extract") picks the score, else the
    task's first metric (and first filter)."""
    file = find_results(Path(path))
    data = read_results(file)
    name = _pick_task(data, task, file)
    configs = {s: data["configs"][s] for s in leaves(data, name) if s in data.get("configs", {})}
    if not configs:
        raise InputError(f'{file}: task "{name}" has no config in the file ("configs"), so its setup cannot be '
                         f"rebuilt; lm-eval 0.4 writes one per task.")
    first = next(iter(configs.values()))
    key, score = _score(data["results"][name], metric, first, file, name)
    metric_name, _, filter_name = key.partition(",")
    recon = reconstruct(name, configs, data, metric_name, filter_name)
    model, revision = _model(data)
    samples_path, docs = _samples(file, data, configs, recon, metric_name, filter_name)
    facts = {k: v for k, v in recon.values.items() if k in FACT_NAMES}
    notes = list(recon.unrepresentable)
    others = sorted(p.name for p in Path(path).rglob("results_*.json") if p != file) if Path(path).is_dir() else []
    if others:
        notes.append(f"{len(others) + 1} results files under {path}: read the newest by name, {file.name} (the "
                     f"others: {', '.join(others)}); name a file to read another")
    if not docs:
        notes.append("no per-sample logs beside the results file (run lm-eval with --log_samples): prompts "
                     "and per-doc outcomes cannot be compared")
    run = LoggedRun(
        tool="lm-eval", path=str(file), task=name, metric=metric_name, filter=filter_name, score=score,
        model=model, revision=revision, facts=facts, notes=tuple(notes), docs=docs, samples_path=samples_path,
        chat_template_sha=data.get("chat_template_sha") or "", version=str(data.get("versions", {}).get(name, "")))
    return run, recon


def leaves(data: Mapping[str, Any], name: str) -> list[str]:
    """The tasks a name stands for: itself, or its group's tasks, through nested groups (lm-eval
    0.4's MMLU is mmlu -> mmlu_stem, ... -> mmlu_abstract_algebra, ...)."""
    groups = data.get("group_subtasks", {})
    if not groups.get(name):
        return [name]
    return [leaf for member in groups[name] for leaf in leaves(data, member)]


def _pick_task(data: dict[str, Any], task: str, file: Path) -> str:
    groups = data.get("group_subtasks", {})
    members = {s for subs in groups.values() for s in subs}
    top = [t for t in data["results"] if t not in members]
    if task:
        if task not in data["results"]:
            raise InputError(f'{file}: no task "{task}" in this run. Its tasks: {", ".join(top) or "none"}.')
        return task
    if len(top) != 1:
        raise InputError(f"{file}: this run holds {len(top)} tasks ({', '.join(top)}); name one with --task.")
    return top[0]


def _score(results: Mapping[str, Any], metric: str, config: Mapping[str, Any], file: Path, task: str) -> tuple[str, float]:
    keys = [k for k, v in results.items() if "," in k and "_stderr" not in k and isinstance(v, (int, float))]
    if metric:
        wanted = metric if "," in metric else next((k for k in keys if k.split(",")[0] == metric), metric)
    else:
        names = [m.get("metric") for m in config.get("metric_list", []) if isinstance(m, dict)]
        filters = [f.get("name") for f in config.get("filter_list", []) if isinstance(f, dict)] or ["none"]
        wanted = next((f"{m},{f}" for f in filters for m in names if f"{m},{f}" in keys), keys[0] if keys else "")
    if wanted not in keys:
        raise InputError(f'{file}: task "{task}" has no score "{wanted}". Its scores: {", ".join(keys) or "none"} '
                         f"(metric,filter; --metric takes either part).")
    return wanted, float(results[wanted])


def _model(data: Mapping[str, Any]) -> tuple[str, str]:
    config = data.get("config") or {}
    args = model_args(config.get("model_args"))
    model = args.get("pretrained") or args.get("model") or ""
    if not model and isinstance(config.get("model"), str) and config["model"] not in ("hf", "vllm", "hf-auto"):
        model = config["model"]
    revision = args.get("revision") or ("" if config.get("model_revision") in (None, "main") else config["model_revision"])
    return str(model or data.get("model_name", "")), str(revision)


# ---------------------------------------------------------------------------------------------
# The per-sample logs


def _samples(file: Path, data: Mapping[str, Any], configs: Mapping[str, Mapping[str, Any]], recon: Reconstruction,
             metric: str, filter_name: str) -> tuple[str, tuple[LoggedDoc, ...]]:
    stamp = file.stem.removeprefix("results_")
    docs: list[LoggedDoc] = []
    paths = []
    question = dict(recon.values.get("task.fields", {})).get("question", "question")
    for subtask in configs:
        path = file.parent / f"samples_{subtask}_{stamp}.jsonl"
        if not path.is_file():
            continue
        paths.append(path)
        rows = [r for r in _rows(path) if not filter_name or r.get("filter", filter_name) == filter_name]
        expected = (data.get("n-samples", {}).get(subtask) or {}).get("effective")
        if expected is not None and int(expected) != len(rows):
            raise InputError(f"{path}: {len(rows)} samples, but the results file ({file.name}) says task {subtask} "
                             f"scored {expected}: these samples are not from that run.")
        for number, row in enumerate(rows, start=1):
            name = str(configs[subtask].get("dataset_name") or subtask) if len(configs) > 1 else ""
            docs.append(_doc(row, path, number, name, question, metric, filter_name))
    return (str(paths[0]) if len(paths) == 1 else str(file.parent)) if paths else "", tuple(docs)


def _rows(path: Path) -> list[dict[str, Any]]:
    """The samples of one task (a generate task logs one row per doc and filter)."""
    rows = []
    for number, line in enumerate(read_text(path, "lm-eval samples file", limit=RESULTS_LIMIT).split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}, line {number}: not valid JSON ({err.msg}).") from None
        if not isinstance(row, dict) or "arguments" not in row or "doc_id" not in row:
            raise InputError(f"{path}, line {number}: not an lm-eval sample (it needs doc_id and arguments).")
        rows.append(row)
    return rows


def _doc(row: Mapping[str, Any], path: Path, number: int, subtask: str, question: str, metric: str,
         filter_name: str) -> LoggedDoc:
    args = row["arguments"]
    requests: list[tuple[str, str]] = []
    items = args.values() if isinstance(args, dict) else args
    for item in items:
        parts = list(item.values()) if isinstance(item, dict) else list(item)
        context = parts[0] if parts and isinstance(parts[0], str) else ""
        continuation = parts[1] if len(parts) > 1 and isinstance(parts[1], str) else ""
        requests.append((context, continuation))
    lls: tuple[float, ...] = ()
    prediction = ""
    responses = row.get("resps") or []
    try:
        if requests and requests[0][1] and responses:
            lls = tuple(float(r[0][0]) for r in responses)
        elif responses:
            prediction = str(responses[0][0])
    except (TypeError, ValueError, IndexError):
        raise InputError(f"{path}, line {number}: resps is not what lm-eval logs for this task.") from None
    doc = row.get("doc") if isinstance(row.get("doc"), dict) else {}
    value = row.get(metric)
    text = doc.get(question) if isinstance(doc.get(question), str) else next(
        (v for v in doc.values() if isinstance(v, str)), "")
    return LoggedDoc(
        doc_id=int(row["doc_id"]), doc=doc, question=text, requests=tuple(requests),
        correct=float(value) if isinstance(value, (int, float)) else None, loglikelihoods=lls,
        prediction=prediction, doc_hash=str(row.get("doc_hash") or content_hash(doc)), subtask=subtask)
