"""Reading a lighteval output: its score, its settings, its per-sample details, a setup.

Why: the reported run's own prompts and per-doc outcomes are the strongest evidence of why two
scores differ. lighteval writes results_<ts>.json (config_general, config_tasks, results per
"suite|task|k") and per task details_<task>_<ts>.parquet: up to 0.10 a column per field (example,
full_prompt, predictions, metrics...; before 0.8 each cell its Python text), from 0.11 the columns
doc, model_response, metric. Its prompts are Python and its doc shuffle and shot draws cannot be
replayed: the `Reconstruction` extends the bundled preset of the task's prompt where there is one
and lists what it cannot express.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scoregap.engine.errors import InputError, did_you_mean
from scoregap.engine.inputs import path_kind, read_text
from scoregap.engine.metrics import metric_kind
from scoregap.engine.presets import load_setup
from scoregap.engine.runs import LoggedDoc, LoggedRun, Reconstruction

RESULTS_LIMIT = 200_000_000
LAYOUT = ("lighteval writes OUT/results/<model>/results_<timestamp>.json and, with --save-details, "
          "OUT/details/<model>/<timestamp>/details_<task>_<timestamp>.parquet")
DTYPES = {"float32": "float32", "float": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
          "float16": "float16", "half": "float16", "fp16": "float16", "auto": "auto"}
BENCHMARKS = {"arc:challenge": ("arc_challenge", "arc"), "arc:easy": ("arc_easy", "arc"), "mmlu": ("mmlu", ""),
              "hellaswag": ("hellaswag", "hellaswag_harness"), "gsm8k": ("gsm8k", "gsm8k"),
              "winogrande": ("winogrande", "winogrande"), "piqa": ("piqa", "piqa_harness")}   # preset, its prompt
MMLU = {"mmlu_harness": "lm-eval/mmlu", "mmlu_helm": "helm/mmlu"}   # and "mmlu_<subject>": original/mmlu
METRICS = {"acc": "acc", "em": "exact_match", "qem": "quasi_exact_match", "pem": "prefix_exact_match",
           "extractive_match": "math_equiv", "truthfulqa_mc2": "mc2"}
CAVEATS = {"em": "lighteval's em strips both strings before comparing them; exact_match does not",
           "extractive_match": "lighteval's extractive match (its Math-Verify settings) is approximated by math_equiv",
           "acc_with_logprob_normalization": "lighteval 0.11 gives every normalized acc this name: read as acc_norm"}
SPACE = "lighteval's acc_norm here counts the choice's leading space in its length; scoregap's acc_norm does not"
REBUILT = ("{name} logs no prompt string (model_response.input): prompts rebuilt from each doc and its shots as "
           "lighteval's plain-text prompt manager does (a chat template renders otherwise)")


def read_lighteval(path: Path | str, task: str = "", metric: str = "") -> tuple[LoggedRun, Reconstruction]:
    """One task of a lighteval run. `task`: a full name ("lighteval|arc:challenge|0") or its middle
    ("arc:challenge"), optional when the file holds one task. `metric`: lighteval's name or
    scoregap's; by default acc_norm where a normalized acc exists, else the first metric."""
    file, data, notes = read_results(Path(path))
    general = data["config_general"]
    model = general["model_config"] if isinstance(general.get("model_config"), dict) else {}   # 0.11 on
    name = pick_task(data["results"], task, file)
    config = task_config(data, name)
    declared = declared_metrics(config)
    metric_name = pick_metric(data["results"][name], metric, declared, where=f'{file}: task "{name}"')
    score = float(data["results"][name][metric_name])
    k = int(_parts(name)[2]) if _parts(name)[2].isdigit() else int(config.get("num_fewshots") or 0)
    facts, recorded = run_facts(data, config, name, k, metric_name, declared)
    docs, details, read_notes = read_details(file, data, name, metric_name, facts.get("chat.system_prompt", ""))
    mean = sum(float(d.correct or 0) for d in docs) / len(docs) if docs else score
    if all(d.correct is not None for d in docs) and abs(mean - score) > 1e-6:
        recorded.append(f"the details' {metric_name} averages {mean:.6f}, not the score {score:.6f}: the metric is "
                        f"not a mean over docs, or the details are partial")
    recon = reconstruct(_parts(name)[1], facts, config, k)
    return LoggedRun(
        tool="lighteval", path=str(file), task=name, metric=metric_name, filter="", score=score,
        model=str(general.get("model_name") or model.get("model_name") or ""),
        revision=str(general.get("model_sha") or model.get("revision") or ""), facts=facts,
        notes=tuple(dict.fromkeys(notes + recorded + read_notes + list(recon.unrepresentable))), docs=docs,
        samples_path=details, version=str((data.get("versions") or {}).get(name, config.get("version", "")))), recon


def read_results(path: Path) -> tuple[Path, dict[str, Any], list[str]]:
    """The results file named, or the newest by name under a folder (a note says so when there are
    several), its data, and notes."""
    kind = path_kind(path)
    if kind not in ("file", "directory"):
        raise InputError(f"{path}: no such file or folder. Name a lighteval output folder (its --output-dir) or one "
                         f"of its results_<timestamp>.json files; {LAYOUT}.")
    found = [path] if kind == "file" else sorted(path.rglob("results_*.json"), key=lambda p: (p.name, str(p)))
    if not found:
        raise InputError(f"{path}: this folder holds no results_*.json file, so it is not a lighteval output folder; "
                         f"{LAYOUT}. Name the --output-dir folder or a results file.")
    file, others = found[-1], ", ".join(p.name for p in found[:-1])
    notes = [(f"{len(found)} results files under {path}: read the newest by name, {file} (the others: {others}); "
              f"name a file to read another")] if others else []
    try:
        data = json.loads(read_text(file, "lighteval results file", limit=RESULTS_LIMIT))
    except (json.JSONDecodeError, RecursionError) as err:
        where = f", line {err.lineno}" if isinstance(err, json.JSONDecodeError) else ""
        raise InputError(f"{file}{where}: not valid JSON, so not a lighteval results file; {LAYOUT}.") from None
    data = data if isinstance(data, dict) else {}
    if isinstance(data.get("results"), dict) and isinstance(data.get("config_general"), dict):
        return file, data, notes
    if ("configs" in data or "config" in data) and "results" in data:
        raise InputError(f'{file}: this looks like lm-evaluation-harness\'s results file ("results", "configs", '
                         f'"config"), not lighteval\'s: use `scoregap import lm-eval` for it.')
    raise InputError(f'{file}: not a lighteval results file: it needs the keys "config_general" and "results" (with '
                     f'"config_tasks") that lighteval writes; {LAYOUT}.')


def _parts(key: str) -> tuple[str, str, str]:
    """"suite|task|k" (or with lighteval's old 4th field, truncate_fewshots) -> (suite, task, k)."""
    parts = key.split("|")
    return (parts[0], parts[1], parts[2]) if len(parts) >= 3 else ("", key, "")


def pick_task(results: Mapping[str, Any], task: str, file: Path) -> str:
    """The results key of `task` (a full name, with or without the 4th field, or the middle part)."""
    tasks = [k for k in results if k != "all" and ":_average|" not in k]
    found = tasks if not task else [k for k in tasks if k.split("|")[:3] == task.split("|")[:3]] or [
        k for k in tasks if _parts(k)[1] == task or k.startswith(task + "|")]
    if len(found) == 1:
        return found[0]
    if not task or found:
        raise InputError(f"{file}: {'this run' if not task else repr(task)} holds {len(found)} tasks ("
                         f'{", ".join(found) or "none"}); name one (in full, or its middle part: "arc:challenge").')
    raise InputError(f'{file}: no task "{task}" in this run.{did_you_mean(task, tasks)} Its tasks: '
                     f'{", ".join(tasks) or "none"} (a full name, or the middle part such as "arc:challenge").')


def task_config(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """config_tasks' entry: keyed by the full name (0.11 on) or without the few-shot field (before)."""
    configs = data.get("config_tasks") or {}
    for name in (key, "|".join(key.split("|")[:3]), "|".join(key.split("|")[:2])):
        if isinstance(configs.get(name), dict):
            return configs[name]
    return next((c for c in configs.values() if isinstance(c, dict) and c.get("name") == _parts(key)[1]), {})


def declared_metrics(config: Mapping[str, Any]) -> list[str]:
    """Enum names before 0.8 ("loglikelihood_acc_norm_nospace"), later dicts with a metric_name."""
    out: list[str] = []
    for item in config.get("metrics") or config.get("metric") or []:
        name = item.get("metric_name") if isinstance(item, dict) else item
        out += [str(n) for n in (name if isinstance(name, list) else [name]) if n]
    return out


def scoregap_metric(name: str, declared: Sequence[str] = ()) -> tuple[str | None, str]:
    """scoregap's name for a lighteval metric (None where no mapping is sure), and a caveat or ""."""
    base, _, params = name.partition(":")   # 0.12 on: "acc:logprob_normalization=LogProbCharNorm(...)"
    if base.startswith("acc") and "LogProbCharNorm" in params:
        return "acc_norm", "" if "ignore_first_space=True" in params else SPACE
    if base.startswith("acc") and ("LogProbTokenNorm" in params or "LogProbPMINorm" in params):
        return ("acc_token" if "Token" in params else "acc_mutual_info"), ""
    if name.startswith("acc_norm") or name == "acc_with_logprob_normalization":
        spaced = "loglikelihood_acc_norm" in declared and "loglikelihood_acc_norm_nospace" not in declared
        return "acc_norm", SPACE if spaced else CAVEATS.get(name, "")
    return (None, "") if params else (METRICS.get(name), CAVEATS.get(name, ""))


def pick_metric(results_entry: Mapping[str, Any], preferred: str = "", declared: Sequence[str] = (),
                where: str = "") -> str:
    """The score's metric: `preferred` (lighteval's name or scoregap's), else a normalized acc, else the first."""
    names = [k for k, v in results_entry.items()
             if not k.endswith("_stderr") and isinstance(v, (int, float)) and not isinstance(v, bool)]
    found = [n for n in names if n == preferred] or [n for n in names if scoregap_metric(n, declared)[0] == preferred]
    if preferred and not found:
        raise InputError(f'{where}: no metric "{preferred}". Its metrics: {", ".join(names) or "none"}.')
    if not names:
        raise InputError(f"{where}: no score is recorded (its results hold no number but stderrs).")
    return found[0] if found else next((n for n in names if scoregap_metric(n, declared)[0] == "acc_norm"), names[0])


def run_facts(data: Mapping[str, Any], config: Mapping[str, Any], key: str, k: int, metric: str,
              declared: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """Recorded settings as dotted setup keys, and what is recorded that no key holds."""
    general = data.get("config_general") or {}
    model = general["model_config"] if isinstance(general.get("model_config"), dict) else {}
    dtype = general.get("model_dtype") or model.get("dtype")
    batch = [b for b in (general.get("override_batch_size"), general.get("batch_size"), model.get("batch_size"))
             if isinstance(b, int) and not isinstance(b, bool) and b > 0]
    chat = general.get("use_chat_template", model.get("override_chat_template"))
    system = general.get("system_prompt", model.get("system_prompt"))
    size, stop = config.get("generation_size"), config.get("stop_sequence")
    temperature = (model.get("generation_parameters") or {}).get("temperature")
    mapped, caveat = scoregap_metric(metric, declared)
    generates = metric_kind(mapped) == "generate" if mapped else type(size) is int and size > 1
    facts: dict[str, Any] = {"fewshot.k": k}
    for dotted, value, keep in (
            ("loading.dtype", DTYPES.get(str(dtype).removeprefix("torch.")), bool(dtype)),
            ("loading.batch_size", batch[0] if batch else None, bool(batch)),
            ("chat.apply_template", chat, isinstance(chat, bool)),
            ("chat.system_prompt", system, isinstance(system, str) and bool(system)),
            ("scoring.metric", mapped, bool(mapped)),
            ("generation.max_new_tokens", size, type(size) is int and size > 0),
            ("generation.stop", stop, isinstance(stop, list) and all(isinstance(s, str) for s in stop)),
            ("generation.temperature", temperature, type(temperature) in (int, float))):
        if keep and value is not None and (generates or not dotted.startswith("generation.")):
            facts[dotted] = float(value) if dotted == "generation.temperature" else value
    unnamed = dtype and "loading.dtype" not in facts
    notes = [f'dtype "{dtype}": none of float32, bfloat16, float16, auto'] if unnamed else []
    if not isinstance(chat, bool):
        notes.append("the results do not say whether a chat template was applied (--use-chat-template before 0.11; "
                     "from 0.11 the tokenizer's, unless override_chat_template): the logged prompts show it")
    notes += [caveat] if caveat else [] if mapped else [f'metric "{metric}" has no scoregap equivalent']
    if config:
        notes += [f"lighteval task version {config['version']}"] if "version" in config else []
        notes.append(f'data: {config.get("hf_repo")} ({config.get("hf_subset")}), split '
                     f'{"/".join(config.get("evaluation_splits") or [])}; '
                     f'prompt function "{config.get("prompt_function")}"')
    if k:
        notes.append(f"shots: {config.get('few_shots_select') or 'balanced'} from "
                     f"{config.get('few_shots_split') or 'train'}, drawn doc after doc from the Random(42) that "
                     f"first shuffled the docs")
    if general.get("max_samples"):
        notes.append(f"max_samples = {general['max_samples']}: lighteval scored the first {general['max_samples']} "
                     f"docs after its Random(42) shuffle (a random subset), which task.limit cannot say")
    summary = (data.get("summary_tasks") or {}).get(key) or {}
    notes += [f"{summary[field]} {what} (summary_tasks {field})" for field, what in (
        ("num_truncated_few_shots", "docs got fewer shots than asked, to fit the context"),
        ("truncated", "prompts were truncated to fit the model's context")) if (summary.get(field) or 0) > 0]
    sha = general.get("lighteval_sha")
    return facts, notes + ([f"lighteval_sha: {sha}"] if sha not in (None, "", "?") else [])


def read_details(file: Path, data: Mapping[str, Any], key: str, metric: str,
                 system_prompt: str) -> tuple[tuple[LoggedDoc, ...], str, list[str]]:
    """The task's details_<task>_<ts>.parquet (the results file's timestamp, under the same output
    folder; "|" and ":" may be "_") as LoggedDocs, its path, and notes."""
    ts = file.stem.removeprefix("results_")
    root = next((p.parent for p in file.parents if p.name == "results"), file.parent)
    base = root / "details" if (root / "details").is_dir() else root
    canon = re.sub(r"[|:]", "_", "|".join(key.split("|")[:3]))
    path = next((p for p in sorted(base.rglob(f"details_*_{ts}.parquet"))
                 if re.sub(r"[|:]", "_", p.name[len("details_"):-len(f"_{ts}.parquet")]) == canon), None)
    if path is None:
        return (), "", [(f"no details for {key} beside {file.name} (lighteval writes them with --save-details): "
                         f"prompts and per-doc outcomes cannot be compared")]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f'{path}: reading lighteval details (parquet) needs pyarrow: pip install "scoregap[hub]".') \
            from None
    try:
        rows = pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError) as err:
        raise InputError(f"{path}: this details file cannot be read as parquet ({err}). lighteval writes one "
                         f"details_<task>_<timestamp>.parquet per task with --save-details; write it again.") from None
    columns = set(rows[0]) if rows else set()
    if rows and not ({"doc", "model_response"} <= columns or {"full_prompt", "example"} & columns):
        raise InputError(f"{path}: not a lighteval details file: its columns are {', '.join(sorted(columns))}; "
                         f"lighteval's are example, full_prompt, predictions, metrics... (up to 0.10) or doc, "
                         f"model_response, metric (0.11 on).")
    expected = task_config(data, key).get("effective_num_docs")
    seeds = (data.get("config_general") or {}).get("num_fewshot_seeds") or 1
    if isinstance(expected, int) and expected > 0 and seeds <= 1 and len(rows) != expected:
        raise InputError(f"{path}: {len(rows)} rows, but {file} records {expected} docs scored for {key} "
                         f"(config_tasks effective_num_docs): these details are not from that run. Keep each "
                         f"details folder with the results file of the same timestamp.")
    logged = [_logged(i, row, metric, system_prompt, _parts(key)[1].partition(":")[2]) for i, row in enumerate(rows)]
    notes = [REBUILT.format(name=path.name)] if any(rebuilt for _, rebuilt in logged) else []
    return tuple(doc for doc, _ in logged), str(path), notes


def _literal(value: Any, default: Any) -> Any:
    """A cell of the older layout: lighteval before 0.8 wrote str(value), "[(-4.1, False)]"."""
    if not isinstance(value, str):
        return default if value is None else value
    for text in (value, re.sub(r"\bnan\b", "None", re.sub(r"\bnp\.\w+\(([^()]*)\)", r"\1", value))):
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            continue
    return default


def _outputs(value: Any) -> tuple[list[float], str | None]:
    """Per-choice loglikelihoods (floats, or (logprob, is_greedy) pairs), else the first generated text."""
    items = [p[0] if isinstance(p, (list, tuple)) and p else p
             for p in (value if isinstance(value, (list, tuple)) else [])]
    if items and all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in items):
        return [float(p) for p in items], None
    return [], next((p for p in items if isinstance(p, str)), None)


def _query(doc: Mapping[str, Any]) -> str:   # the doc's own text, without the instruction lighteval may prefix
    query, instruction = str(doc.get("query") or doc.get("example") or ""), doc.get("instruction") or ""
    return query[len(instruction):].strip() if instruction and query.startswith(instruction) else query


def _plain_prompt(doc: Mapping[str, Any], system_prompt: str) -> str:
    """lighteval 0.11's plain-text prompt: system prompt, instruction, shots, query, a blank line apart."""
    parts = [p for p in (system_prompt, doc.get("instruction") or "") if p]
    for shot in doc.get("fewshot_samples") or []:
        gold, choices = shot.get("gold_index"), shot.get("choices") or []
        gold = gold[0] if isinstance(gold, list) and gold else gold
        answer = str(choices[gold]) if isinstance(gold, int) and 0 <= gold < len(choices) else ""
        parts.append(_query(shot) + " " + answer.strip())
    return "\n\n".join(parts + [_query(doc)])


def _logged(number: int, row: Mapping[str, Any], metric: str, system_prompt: str,
            subtask: str) -> tuple[LoggedDoc, bool]:   # and whether its prompt had to be rebuilt
    rebuilt = False
    if "doc" in row and "model_response" in row:          # 0.11 on
        doc = {k: v for k, v in dict(row.get("doc") or {}).items() if k not in ("fewshot_samples", "images")}
        response, metrics = row.get("model_response") or {}, row.get("metric") or {}
        prompt = response.get("input")                     # a string; API models log chat messages instead
        if not isinstance(prompt, str) or not prompt:
            prompt, rebuilt = _plain_prompt(row.get("doc") or {}, system_prompt), True
        scores, text = _outputs(response.get("logprobs"))[0], _outputs(response.get("text"))[1]
    else:                                                  # up to 0.10
        doc = {k: row[k] if k in ("example", "instruction") else _literal(row[k], None) for k in (
            "example", "instruction", "choices", "gold", "gold_index", "specifics", "num_asked_few_shots",
            "num_effective_few_shots") if k in row}
        prompt, metrics = str(row.get("full_prompt") or ""), _literal(row.get("metrics"), {})
        scores, text = _outputs(_literal(row.get("predictions"), []))
    choices = [str(c) for c in doc.get("choices") or []]
    multiple_choice = bool(choices) and (len(scores) == len(choices) or text is None)
    value = metrics.get(metric) if isinstance(metrics, dict) else None
    return LoggedDoc(
        doc_id=number, doc=doc, question=_query(doc) or re.split(r"\n\s*\n", prompt.strip())[-1],
        requests=tuple((prompt, c) for c in choices) if multiple_choice else ((prompt, ""),),
        correct=float(value) if isinstance(value, (int, float)) else None,
        loglikelihoods=tuple(scores) if multiple_choice and len(scores) == len(choices) else (),
        prediction=text or "", subtask=subtask), rebuilt


def reconstruct(middle: str, facts: Mapping[str, Any], config: Mapping[str, Any], k: int) -> Reconstruction:
    """The bundled preset of the task's prompt (lm-eval/base for other tasks) and the recorded keys
    that differ from it, each validated; one that does not validate is listed with the reason."""
    function = str(config.get("prompt_function") or "")
    benchmark, prompt = BENCHMARKS.get(middle.split(":")[0] if middle.startswith("mmlu") else middle, ("", ""))
    benchmark = "" if prompt and function and function != prompt else benchmark     # another prompt than the preset's
    extends = (MMLU.get(function) or ("original/mmlu" if function == "mmlu_" + middle[5:] else "lighteval/mmlu")) \
        if benchmark == "mmlu" else f"lighteval/{benchmark}" if benchmark else "lm-eval/base"
    lost = [] if benchmark else [(f'lighteval\'s prompt function "{function or "unknown"}" is Python and cannot '
                                  f"be expressed as a setup: write prompt.template and task.fields to render it")]
    if k:
        lost.append(f"lighteval's few-shot selection ({config.get('few_shots_select') or 'balanced'}) and its "
                    f"Random(42) doc shuffle are approximated")
    subject = middle.partition(":")[2] if benchmark == "mmlu" else ""
    setup = load_setup(extends)
    values: dict[str, Any] = {}
    for key, value in {**({"task.subsets": [subject]} if subject else {}), **facts}.items():
        current = setup.get(key)
        if (list(current) if isinstance(current, tuple) else current) == value:
            continue
        group = {key: value}
        if key == "scoring.metric" and metric_kind(value) != setup.scoring.method:
            group["scoring.method"] = metric_kind(value)
        try:
            setup.with_values({**values, **group}, origin=f"the setup rebuilt from lighteval's {middle}")
        except InputError as err:
            lost.append(f"{', '.join(f'{n} = {v!r}' for n, v in group.items())} was recorded but does not fit: {err}")
        else:
            values.update(group)
    return Reconstruction(extends=extends, values=values, task_file=None, unrepresentable=tuple(lost))
