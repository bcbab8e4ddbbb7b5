"""An lm-eval task config (as its results file records it) rebuilt as a scoregap setup.

A catalog task extends its `lm-eval/<task>` preset, which reproduces lm-eval's own YAML; only the
run's settings go on top (shots, chat template, system instruction, dtype, batch size, metric and
filter) and a local copy of the data when the run read one. Any other task is rebuilt from its
config: the Jinja of doc_to_text becomes prompt.template as it is (a setup's templates see the
doc's fields; the few names a setup gives its own meaning are read through `doc`), doc_to_choice
and doc_to_target name the fields, and the delimiters, description, sampler and generation
arguments carry over. What cannot be said is returned in `unrepresentable`, never dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from os.path import commonprefix  # of any strings, not only paths
from typing import Any

from scoregap.engine import catalog
from scoregap.engine.errors import InputError
from scoregap.engine.runs import Reconstruction
from scoregap.profiles import PROFILES_DIR

DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16", "auto": "auto",
          "half": "float16", "float": "float32", "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
GSM8K_FILTERS = {"strict-match": "gsm8k_strict", "flexible-extract": "gsm8k_flexible"}
SAMPLERS = {"default": "stream", "first_n": "first_n"}

STOCK_FILE = PROFILES_DIR / "lm-eval" / "stock.json"
STOCK_FIELDS = ("dataset_name", "test_split", "validation_split", "fewshot_split", "description", "doc_to_text",
                "doc_to_choice", "doc_to_target", "process_docs", "process_results", "output_type")
"""The fields of a catalog task's config that shape its docs and prompts, as lm-eval 0.4.13's
stock YAML has them (scripts/make_lmeval_stock.py writes them): a run that recorded another value
ran another task than the preset reproduces."""


@cache
def stock_configs() -> Mapping[str, Mapping[str, Any]]:
    return json.loads(STOCK_FILE.read_text(encoding="utf-8"))["tasks"]


def stock_differences(configs: Mapping[str, Mapping[str, Any]], versions: Mapping[str, Any]) -> list[str]:
    """Each recorded field of a catalog task that is not lm-eval 0.4.13's own, in words: the
    setup renders the stock task, so these are what it cannot say (a task version that differs
    from the stock one too: the task may have changed since)."""
    stock = stock_configs()
    out: list[str] = []
    for name, config in configs.items():
        theirs = stock.get(name)
        if theirs is None:
            continue
        changed = [f for f in STOCK_FIELDS if f in config and _stock_value(config[f]) != _stock_value(theirs[f])]
        for f in changed:
            mine, stock_value = _apart(config[f], theirs[f])
            out.append(f"{name}: {f} is {mine}, lm-eval 0.4.13's is {stock_value} (the setup renders the stock "
                       f"task; log samples to see the prompts)")
        version = versions.get(name)
        if version not in (None, "Yaml") and theirs["version"] is not None and not _same_version(version, theirs["version"]):
            out.append(f"{name}: task version {version}, where the catalog reproduces lm-eval 0.4.13's version "
                       f"{theirs['version']} (the task changed between the two)")
    return out


def _apart(a: Any, b: Any) -> tuple[str, str]:
    """Two values as `_short` shows them; two long strings from a little before where they part."""
    if isinstance(a, str) and isinstance(b, str) and max(len(repr(a)), len(repr(b))) > 70:
        start = max(len(commonprefix([a, b])) - 20, 0)
        cut = lambda text: ("…" if start else "") + _short(text[start:])
        return cut(a), cut(b)
    return _short(a), _short(b)


def _same_version(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _stock_value(value: Any) -> Any:
    """A recorded value as compared with the stock one: whitespace at the ends of a function's
    source is not a difference."""
    return value.strip() if isinstance(value, str) else value


def catalog_benchmark(name: str, configs: Mapping[str, Any]) -> str:
    """The catalog benchmark a task is, by name: "arc_easy", or "mmlu" for lm-eval's MMLU group."""
    known = {e.benchmark for e in catalog.entries()}
    if name in known:
        return name
    if all(s.startswith("mmlu_") for s in configs) and "mmlu" in known and name.startswith("mmlu"):
        return "mmlu"
    return ""


def reconstruct(name: str, configs: Mapping[str, Mapping[str, Any]], data: Mapping[str, Any],
                metric: str, filter_name: str) -> Reconstruction:
    config = next(iter(configs.values()))
    values: dict[str, Any] = {}
    lost: list[str] = []
    missing = ""
    benchmark = catalog_benchmark(name, configs)
    if benchmark:
        extends = f"lm-eval/{benchmark}"
        _catalog_task(extends, config, values, lost)
    else:
        extends = "lm-eval/base"
        try:
            _task_from_config(config, values, lost)
        except InputError as err:   # the run still tells its settings, score and prompts
            missing = f'task "{name}": {err}'
            values = {k: v for k, v in values.items() if not k.startswith(("task.", "_"))}
    shots = data.get("n-shot", {}).get(name, config.get("num_fewshot"))
    values["fewshot.k"] = int(shots or 0)
    if values["fewshot.k"]:
        values["fewshot.seed"] = int((data.get("config") or {}).get("fewshot_seed") or 1234)
    _run_settings(data, values, lost)
    _scoring(benchmark, config, metric, filter_name, values, lost)
    if len(configs) > 1:
        values["scoring.aggregate"] = "micro"
        lost.append("the group's score is read as a doc-weighted mean over its subtasks (micro, lm-eval's "
                    "weight_by_size); the results file does not record the group's aggregation")
    limit = (data.get("config") or {}).get("limit")
    if limit:
        if isinstance(limit, float) and limit < 1:
            lost.append(f"limit = {limit} (a fraction of each task's docs): a setup limits by a count")
        elif len(configs) > 1:
            lost.append(f"limit = {int(limit)} per subtask: task.limit counts docs over all subtasks")
        else:
            values["task.limit"] = int(limit)
    version = data.get("versions", {}).get(name)
    if benchmark:
        lost += stock_differences(configs, data.get("versions") or {})
    elif version not in (None, "Yaml"):
        lost.append(f"task version {version} (recorded; no setup key holds it)")
    task_file = values.pop("_task_file", None)
    return Reconstruction(extends, values, task_file, tuple(lost), missing)


def _catalog_task(extends: str, config: Mapping[str, Any], values: dict[str, Any], lost: list[str]) -> None:
    """The preset, plus what the run changed that a key says: the data it read, the delimiters,
    the sampler, the generation arguments. (Its doc_to_*, description and splits are the preset's:
    `stock_differences` lists any the run changed, and the import's prompt check compares the
    prompts with the logged ones.)"""
    from scoregap.engine.presets import load_setup

    preset = load_setup(extends)
    path = config.get("dataset_path")
    if isinstance(path, str) and path and path != preset.task.hf:
        values["task.hf"] = path            # a local copy, as the run read it
    revision = (config.get("dataset_kwargs") or {}).get("revision")
    if revision:
        values["task.revision"] = str(revision)
    for key, name in (("prompt.target_delimiter", "target_delimiter"), ("prompt.fewshot_delimiter", "fewshot_delimiter")):
        if isinstance(config.get(name), str) and config[name] != preset.get(key):
            values[key] = config[name]
    sampler = (config.get("fewshot_config") or {}).get("sampler")
    if sampler is not None and sampler not in SAMPLERS:
        lost.append(f'few-shot sampler "{sampler}" (a setup has lm-eval\'s "default" and "first_n")')
    elif sampler is not None and SAMPLERS[sampler] != preset.fewshot.sampler.removesuffix("_excluding"):
        values["fewshot.sampler"] = SAMPLERS[sampler]
    if preset.scoring.method == "generate":
        read: dict[str, Any] = {}
        _generation(config.get("generation_kwargs") or {}, read, lost)
        values.update({k: v for k, v in read.items() if _plain(v) != _plain(preset.get(k))})


SHADOWED = ("choices", "choice_list", "labels", "choice")
"""Names a setup's template gives its own meaning (the formatted choices block, ...): an lm-eval
template that reads a doc field of that name reads it as `doc.<name>` here."""


def _jinja(source: Any) -> str | None:
    """lm-eval's doc_to_* as a Jinja template: a template stays one (doc fields that a setup's
    template shadows read through `doc`), a field name becomes "{{ name }}"; a Python function
    (saved as its source) cannot."""
    if not isinstance(source, str):
        return None
    if "{{" in source or "{%" in source:
        return re.sub(r"(\{\{|\{%)(.*?)(\}\}|%\})", lambda m: m.group(1) + _unshadow(m.group(2)) + m.group(3),
                      source, flags=re.DOTALL)
    return "{{ " + source + " }}" if re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", source.strip()) else None


def _unshadow(code: str) -> str:
    """Bare references to shadowed names inside one Jinja tag become `doc.<name>` (attributes,
    quoted strings and loop variables bound in the tag stay as they are)."""
    bound = set(re.findall(r"\bfor\s+([A-Za-z_][A-Za-z_0-9]*)", code)) | set(re.findall(r"\bset\s+([A-Za-z_]\w*)", code))
    parts = re.split(r"(\"[^\"]*\"|'[^']*')", code)
    pattern = r"(?<![\w.])(" + "|".join(n for n in SHADOWED if n not in bound) + r")\b"
    return "".join(p if i % 2 else re.sub(pattern, r"doc.\1", p) for i, p in enumerate(parts))


def _field(source: Any) -> str | None:
    """The doc field a doc_to_choice/doc_to_target names: "answer" or "{{answer}}"."""
    if isinstance(source, str):
        m = re.fullmatch(r"\s*(?:\{\{\s*)?([A-Za-z_][A-Za-z_0-9]*)(?:\s*\}\})?\s*", source)
        if m:
            return m.group(1)
    return None


def _task_from_config(config: Mapping[str, Any], values: dict[str, Any], lost: list[str]) -> None:
    kind = {"multiple_choice": "multiple_choice", "generate_until": "generate"}.get(config.get("output_type", ""))
    if kind is None:
        raise InputError(f'lm-eval output_type "{config.get("output_type")}" is not scored by scoregap: it scores '
                         f"multiple_choice and generate_until tasks.")
    values["task.kind"] = kind
    for key in ("process_docs", "process_results"):
        if config.get(key):
            lost.append(f"{key} is Python ({_short(config[key])}): not run here, so docs or scores may differ")
    split = config.get("test_split") or config.get("validation_split")
    pool = config.get("fewshot_split") or config.get("training_split") or config.get("validation_split") or split
    files = (config.get("dataset_kwargs") or {}).get("data_files")
    if config.get("dataset_path") in ("json", "jsonl") and isinstance(files, dict):
        task_file: dict[str, Any] = {"name": config.get("task", "task"), "kind": kind,
                                     "docs": _one_file(files.get(split), split)}
        if pool != split and files.get(pool):
            task_file["fewshot"] = _one_file(files[pool], pool)
        elif pool == split:
            lost.append("shots come from the scored split itself (lm-eval skips a doc's own row): a local task "
                        "needs its own few-shot file")
        values["_task_file"] = task_file
        values["task.path"] = "{task_file}"
    elif isinstance(config.get("dataset_path"), str):
        values["task.hf"] = config["dataset_path"]
        if config.get("dataset_name"):
            values["task.subset"] = config["dataset_name"]
        values["task.split"] = split or "test"
        if pool and pool != split:
            values["task.fewshot_split"] = pool
    template = _jinja(config.get("doc_to_text"))
    if template is None:
        raise InputError(f"doc_to_text is Python ({_short(config.get('doc_to_text'))}): a setup's prompt is a "
                         f"Jinja template. Write the task as Jinja, or use a catalog task.")
    values["prompt.template"] = template
    values["prompt.description"] = config.get("description") or ""
    values["prompt.target_delimiter"] = config.get("target_delimiter", " ")
    values["prompt.fewshot_delimiter"] = config.get("fewshot_delimiter", "\n\n")
    fields: dict[str, str] = {"question": _question_field(template)}
    target = _field(config.get("doc_to_target"))
    choice = config.get("doc_to_choice")
    if kind == "multiple_choice":
        if isinstance(choice, list) and all(isinstance(c, str) for c in choice):
            labels = {"ABCDEFGHIJ"[: len(choice)]: "A", "abcdefghij"[: len(choice)]: "a",
                      "123456789"[: len(choice)]: "1"}.get("".join(c.strip() for c in choice))
            if labels is None:
                raise InputError(f"doc_to_choice is the fixed list {choice}: a setup labels choices A.., a.. or 1.. only.")
            values.update({"prompt.choice_labels": labels, "prompt.target": "label"})
            lost.append(f"doc_to_choice is the fixed list {choice}: the choices' texts are read from a list field "
                        f"of the same length (fields.choices; check it)")
        elif _field(choice):
            fields["choices"] = _field(choice) or ""
            values.update({"prompt.choice_labels": "none", "prompt.target": "text",
                           "prompt.choice_format": "{{ text }}"})
        else:
            raise InputError(f"doc_to_choice {_short(choice)} is neither a field nor a list of labels: a setup cannot "
                             f"say it. Use a catalog task, or a task whose choices are one field.")
        if target is None:
            raise InputError(f"doc_to_target {_short(config.get('doc_to_target'))} is not a field holding the "
                             f"gold's index: a setup cannot say it.")
        fields["gold"] = target
    else:
        fields["gold"] = target or "answer"
        if target is None:
            lost.append(f"doc_to_target {_short(config.get('doc_to_target'))} is not one field: gold read from \"answer\"")
        values["scoring.method"] = "generate"
        values["scoring.metric"] = "exact_match"
        _generation(config.get("generation_kwargs") or {}, values, lost)
    values["task.fields"] = fields
    sampler = (config.get("fewshot_config") or {}).get("sampler", "default")
    if sampler not in SAMPLERS:
        lost.append(f'few-shot sampler "{sampler}" (a setup has lm-eval\'s "default" and "first_n")')
    values["fewshot.sampler"] = SAMPLERS.get(sampler, "stream")
    if values["fewshot.sampler"] == "stream" and not (config.get("fewshot_split") or config.get("test_split")):
        values["fewshot.sampler"] = "stream_excluding"


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


GENERATION_KWARGS = ("until", "max_gen_toks", "do_sample", "temperature", "top_p")
"""The generation arguments a setup says; any other (top_k, num_beams, ...) is listed, not dropped."""


def _generation(gen: Mapping[str, Any], values: dict[str, Any], lost: list[str]) -> None:
    if "until" in gen:
        until = gen["until"]
        values["generation.stop"] = [until] if isinstance(until, str) else list(until)
    if "max_gen_toks" in gen:
        values["generation.max_new_tokens"] = int(gen["max_gen_toks"])
    sampled = bool(gen.get("do_sample")) and float(gen.get("temperature", 1.0)) > 0
    values["generation.temperature"] = float(gen.get("temperature", 1.0)) if sampled else 0.0
    if sampled and "top_p" in gen:
        values["generation.top_p"] = float(gen["top_p"])
    lost += [f"generation_kwargs {key} = {_short(value)} (no setup key says it)"
             for key, value in gen.items() if key not in GENERATION_KWARGS]


def _question_field(template: str) -> str:
    """The field a task maps to "question": "question" when the template names it, else the
    first variable it reads."""
    names = re.findall(r"\{\{-?\s*([A-Za-z_][A-Za-z_0-9]*)", template)
    return "question" if "question" in names or not names else names[0]


def _one_file(value: Any, split: str) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        raise InputError(f'data_files["{split}"] is {_short(value)}: a local task reads one JSON Lines file per split.')
    return value


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 70 else text[:67] + "..."


def _run_settings(data: Mapping[str, Any], values: dict[str, Any], lost: list[str]) -> None:
    config = data.get("config") or {}
    args = model_args(config.get("model_args"))
    chat = bool(data.get("chat_template"))
    values["chat.apply_template"] = chat
    values["chat.system_prompt"] = data.get("system_instruction") or ""
    if chat:
        values["fewshot.multiturn"] = bool(data.get("fewshot_as_multiturn"))
    dtype = str(args.get("dtype") or args.get("torch_dtype") or config.get("model_dtype") or "").replace("torch.", "")
    if dtype:
        if dtype in DTYPES:
            values["loading.dtype"] = DTYPES[dtype]
        else:
            lost.append(f"dtype {dtype} (a setup has float32, bfloat16, float16, auto)")
    batch = str(config.get("batch_size") or args.get("batch_size") or "")
    if batch.isdigit() and int(batch) > 0:
        values["loading.batch_size"] = int(batch)
    elif batch.startswith("auto"):
        values["loading.batch_size"] = "auto"
    flags = {key: str(args.get(key, "")).lower() for key in ("trust_remote_code", "add_bos_token")}
    if flags["trust_remote_code"] in ("true", "false"):
        values["loading.trust_remote_code"] = flags["trust_remote_code"] == "true"
    if flags["add_bos_token"] in ("true", "false"):
        values["loading.add_bos_token"] = flags["add_bos_token"]
    _backend(str(config.get("model") or ""), args, values, lost)
    if config.get("device"):
        lost.append(f"device {config['device']} (the diagnosis picks this machine's device: loading.device = auto)")
    for key in ("parallelize", "max_length", "load_in_8bit", "load_in_4bit", "peft", "delta", "gguf_file"):
        if key in args:
            lost.append(f"model_args {key}={args[key]} (no setup key)")
    if data.get("chat_template_sha"):
        lost.append(f"chat template sha256 {str(data['chat_template_sha'])[:12]}…: the model's own template is used "
                    f"here; the import checks the prompts it renders against the logged ones")


BACKENDS = {"hf": "transformers", "hf-auto": "transformers", "huggingface": "transformers", "vllm": "vllm"}
"""lm-eval's model types (`--model`) -> loading.backend."""
VLLM_ARGS = {"tensor_parallel_size": int, "gpu_memory_utilization": float, "max_model_len": int}


def _backend(model: str, args: Mapping[str, Any], values: dict[str, Any], lost: list[str]) -> None:
    """The inference backend and, for vLLM, the settings passed through to it."""
    if not model:
        return
    if model not in BACKENDS:
        if "/" in model or model in ("HFLM", "VLLM"):
            # lm-eval's Python API given a model object records its name (or class) here, not a type
            lost.append(f'model "{model}" is a model\'s name, not an lm-eval model type: the run passed a model '
                        f"object to lm-eval's Python API, which does not record the backend (loading.backend "
                        f"keeps its default)")
        else:
            lost.append(f"model type {model} (scoregap runs transformers or vllm; loading.backend keeps its default)")
        return
    values["loading.backend"] = BACKENDS[model]
    if model != "vllm":
        return
    for key, kind in VLLM_ARGS.items():
        if key in args:
            try:
                values[f"loading.{key}"] = kind(args[key])
            except (TypeError, ValueError):
                lost.append(f"model_args {key}={args[key]} (not a number)")
    if str(args.get("enforce_eager", "")).lower() in ("true", "false"):
        values["loading.enforce_eager"] = str(args["enforce_eager"]).lower() == "true"
    for key in ("data_parallel_size", "quantization", "swap_space", "max_num_seqs"):
        if key in args:
            lost.append(f"model_args {key}={args[key]} (no setup key)")


def _scoring(benchmark: str, config: Mapping[str, Any], metric: str, filter_name: str,
             values: dict[str, Any], lost: list[str]) -> None:
    from scoregap.engine.metrics import ALL_METRICS

    preset_metric = ""
    if benchmark:
        from scoregap.engine.presets import load_setup

        preset_metric = load_setup(f"lm-eval/{benchmark}").scoring.metric
    if benchmark.startswith("truthfulqa_mc2") and metric == "acc":
        values["scoring.metric"] = "mc2"      # lm-eval names MC2's mass on true answers "acc"
    elif metric in ALL_METRICS:
        values["scoring.metric"] = metric
    else:
        values["scoring.metric"] = preset_metric or "acc"
        lost.append(f'metric "{metric}" (not one scoregap computes; scored as {values["scoring.metric"]})')
    if values.get("scoring.method") == "generate" or config.get("output_type") == "generate_until":
        if benchmark == "gsm8k" and filter_name in GSM8K_FILTERS:
            values["scoring.extract"] = GSM8K_FILTERS[filter_name]
            return
        steps = next((f.get("filter", []) for f in config.get("filter_list", [])
                      if isinstance(f, dict) and f.get("name") == filter_name), [])
        for step in steps:
            fn = step.get("function")
            if fn == "regex" and step.get("regex_pattern"):
                values["scoring.extract"] = "regex:" + str(step["regex_pattern"])
                if step.get("group_select", 0) not in (0,):
                    lost.append(f"regex filter group_select = {step['group_select']} (a setup takes the first match)")
            elif fn not in ("take_first",):
                lost.append(f'filter step "{fn}" of "{filter_name}" (no setup key)')
        for m in config.get("metric_list", []):
            if isinstance(m, dict) and m.get("metric") == metric:
                steps = [s for s, flag in (("lower", m.get("ignore_case")), ("punctuation", m.get("ignore_punctuation")))
                         if flag]
                if steps:
                    values["scoring.normalize"] = steps
                if m.get("regexes_to_ignore") and benchmark != "gsm8k":
                    lost.append(f"exact_match regexes_to_ignore {m['regexes_to_ignore']} (no setup key)")


def model_args(raw: Any) -> dict[str, Any]:
    """lm-eval's model_args: a dict, or the CLI's "pretrained=X,dtype=float32" string."""
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw:
        return {}
    out: dict[str, Any] = {}
    for part in raw.split(","):
        key, _, value = part.partition("=")
        if key.strip():
            out[key.strip()] = value.strip()
    return out
