"""Evaluation setups: the TOML profile format, its strict validation, and the resolved `Setup` value.

A setup file is TOML with the sections below. `extends = "NAME"` inherits a preset first: NAME is
looked up as a path relative to the file, then under the bundled `profiles/` folder (with or
without `.toml`). The child overrides its parent key by key; `[task.fields]` merges key by key too.

Validation is strict because a typo in a setup silently changes a score: an unknown key, a wrong
type or a value outside the allowed set is an `InputError` naming the file, the line, the key, the
allowed values and, for near-misses, the key that was probably meant. Numbers must be finite: a
NaN or an infinity (TOML has both) is never a setting, and would slip past every range check.

Two loading keys need a word. `loading.device` is "auto", "cpu", "cuda", "cuda:N", "mps" or
"mps:N": its form is checked here, whether this machine has that device when the model loads.
`loading.truncation` says what happens to an input longer than the model's window: "error" (the
default) stops with a message naming the doc, "left" drops its oldest tokens as
lm-evaluation-harness does without a word. A silently shortened prompt changes a score, so a
setup gets lm-eval's behaviour only when it asks for it.

The resolved `Setup` is frozen and hashable; `Setup.digest` is stable across runs and machines for
equal content, so it can name results. Variants are derived with `Setup.with_values`, which runs
the same validation, so a check can never build a setup that a user could not have written.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from scoregap.engine.answers import NORMALIZERS, validate_extract
from scoregap.engine.backends import NAMES as BACKENDS
from scoregap.engine.errors import InputError, did_you_mean
from scoregap.engine.metrics import ALL_METRICS
from scoregap.engine.requests import TRUNCATIONS


@dataclass(frozen=True)
class TaskSpec:
    path: str = ""
    hf: str = ""
    subset: str = ""
    split: str = "test"
    fewshot_split: str = ""
    kind: str = ""
    limit: int = 0
    fields: tuple[tuple[str, str], ...] = ()
    benchmark: str = ""                 # the catalog's name for it ("arc_challenge"): picks codebase presets
    revision: str = ""                  # a hub dataset revision (commit, tag or branch)
    subsets: tuple[str, ...] = ()       # several dataset configs, each a subtask (MMLU's subjects)
    process: str = ""                   # a named doc processor (engine/processors.py)


@dataclass(frozen=True)
class PromptSpec:
    description: str = ""
    template: str = "{{ question }}\n{{ choices }}\nAnswer:"
    choice_labels: str = "A"
    choice_format: str = "{{ label }}. {{ text }}"
    choice_separator: str = "\n"
    target: str = "label"
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"


@dataclass(frozen=True)
class FewshotSpec:
    k: int = 0
    sampler: str = "first_n"
    seed: int = 1234
    order: str = "sampled"
    multiturn: bool = False


@dataclass(frozen=True)
class ChatSpec:
    apply_template: bool = False
    system_prompt: str = ""
    description_in: str = "system"


@dataclass(frozen=True)
class ScoringSpec:
    method: str = "loglikelihood"
    metric: str = "acc"
    extract: str = "none"
    normalize: tuple[str, ...] = ()
    aggregate: str = "micro"
    partial: bool = False               # each choice ends the context; the shared rest is scored


@dataclass(frozen=True)
class GenerationSpec:
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ("\n\n",)
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 1234


@dataclass(frozen=True)
class LoadingSpec:
    backend: str = "transformers"
    dtype: str = "float32"
    batch_size: int | str = 16
    device: str = "auto"
    add_bos_token: str = "auto"
    attn_implementation: str = "auto"
    padding_side: str = "right"
    trust_remote_code: bool = False
    truncation: str = "error"
    # vLLM only (the transformers backend refuses a value other than the default):
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int = 0               # 0: the model's own window
    enforce_eager: bool = False


VLLM_KEYS = ("tensor_parallel_size", "gpu_memory_utilization", "max_model_len", "enforce_eager")
"""Loading keys only the vLLM backend reads; passed through to `vllm.LLM` as they are."""

SECTIONS: dict[str, type] = {
    "task": TaskSpec,
    "prompt": PromptSpec,
    "fewshot": FewshotSpec,
    "chat": ChatSpec,
    "scoring": ScoringSpec,
    "generation": GenerationSpec,
    "loading": LoadingSpec,
}

# Allowed values of the enumerated keys; "section.key" -> values.
CHOICES: dict[str, tuple[str, ...]] = {
    "task.kind": ("", "multiple_choice", "generate"),
    "prompt.choice_labels": ("A", "a", "1", "I", "none"),
    "prompt.target": ("label", "text", "label_text"),
    "fewshot.sampler": ("first_n", "random", "stream", "stream_excluding"),
    "fewshot.order": ("sampled", "reversed", "shuffled"),
    "chat.description_in": ("system", "user"),
    "scoring.method": ("loglikelihood", "generate"),
    "scoring.metric": ALL_METRICS,
    "scoring.aggregate": ("micro", "macro"),
    "loading.backend": BACKENDS,
    "loading.dtype": ("auto", "float32", "bfloat16", "float16"),
    "loading.add_bos_token": ("auto", "true", "false"),
    "loading.attn_implementation": ("auto", "eager", "sdpa"),
    "loading.padding_side": ("right", "left"),
    "loading.truncation": TRUNCATIONS,
}
DEVICE = re.compile(r"(auto|cpu|cuda(:\d+)?|mps(:\d+)?)")
TASK_FIELD_NAMES = ("question", "choices", "gold", "subtask", "target")


@dataclass(frozen=True)
class Setup:
    task: TaskSpec = field(default_factory=TaskSpec)
    prompt: PromptSpec = field(default_factory=PromptSpec)
    fewshot: FewshotSpec = field(default_factory=FewshotSpec)
    chat: ChatSpec = field(default_factory=ChatSpec)
    scoring: ScoringSpec = field(default_factory=ScoringSpec)
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    loading: LoadingSpec = field(default_factory=LoadingSpec)
    source: str = field(default="", compare=False)  # the file it came from, for messages only

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain TOML-ready data: every key, resolved (no `extends`)."""
        out: dict[str, dict[str, Any]] = {}
        for name in SECTIONS:
            section = asdict(getattr(self, name))
            for key, value in section.items():
                if isinstance(value, tuple):
                    section[key] = dict(value) if key == "fields" else list(value)
            out[name] = section
        return out

    @property
    def digest(self) -> str:
        payload = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def get(self, dotted: str) -> Any:
        section, key = _split_dotted(dotted)
        return getattr(getattr(self, section), key)

    def with_values(self, values: dict[str, Any], *, origin: str = "variant") -> Setup:
        """A copy with dotted keys replaced ("fewshot.k": 5), validated like a file."""
        data = self.to_dict()
        for dotted, value in values.items():
            section, key = _split_dotted(dotted, origin=origin)
            data[section][key] = value
        return build_setup(data, origin=origin, source=self.source)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict(), multiline_strings=False)


def _split_dotted(dotted: str, origin: str = "") -> tuple[str, str]:
    section, _, key = dotted.partition(".")
    if section not in SECTIONS or key not in {f.name for f in fields(SECTIONS[section])}:
        known = [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in fields(cls)]
        where = f"{origin}: " if origin else ""
        raise InputError(
            f'{where}"{dotted}" is not a setup key.{did_you_mean(dotted, known)} '
            f"Setup keys are written as section.key, for example fewshot.k or prompt.template."
        )
    return section, key


# ---------------------------------------------------------------------------------------------
# Validation


Places = dict[tuple[str, str], str]  # (section, key) -> "file, line N" for messages


def build_setup(
    data: dict[str, Any], *, origin: str, source: str = "", places: Places | None = None
) -> Setup:
    """Validate merged setup data and build the frozen value."""
    places = places or {}
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        values = dict(data.get(name, {}))
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            where = places.get((name, key), origin)
            if key not in known:
                raise InputError(
                    f'{where}: unknown key "{key}" in [{name}].{did_you_mean(key, list(known))} '
                    f"Keys allowed in [{name}]: {', '.join(known)}."
                )
            kwargs[key] = _check_value(name, key, value, known[key].type, where)
        sections[name] = cls(**kwargs)
    setup = Setup(**sections, source=source)
    _check_consistency(setup, places, origin)
    return setup


def _type_name(annotation: str) -> str:
    return {
        "str": "a string",
        "int": "an integer",
        "float": "a number",
        "bool": "true or false",
        "int | str": 'an integer or "auto"',
        "tuple[str, ...]": "a list of strings",
        "tuple[tuple[str, str], ...]": "a table of field names",
    }.get(annotation, annotation)


def _check_value(section: str, key: str, value: Any, annotation: Any, where: str) -> Any:
    dotted = f"{section}.{key}"
    annotation = str(annotation)
    wrong = InputError(
        f"{where}: {dotted} must be {_type_name(annotation)}, not {value!r}."
    )
    if dotted == "loading.add_bos_token" and isinstance(value, bool):
        value = "true" if value else "false"
    if annotation == "str":
        if not isinstance(value, str):
            raise wrong
    elif annotation == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
    elif annotation == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        value = float(value)
        if not math.isfinite(value):
            raise InputError(f"{where}: {dotted} must be a finite number, not {value}.")
    elif annotation == "bool":
        if not isinstance(value, bool):
            raise wrong
    elif annotation == "int | str":
        if not (value == "auto" or (isinstance(value, int) and not isinstance(value, bool))):
            raise wrong
        if isinstance(value, int) and value < 1:
            raise InputError(f'{where}: {dotted} must be at least 1 (or "auto"), not {value}.')
    elif annotation == "tuple[str, ...]":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise wrong
        value = tuple(value)
    elif annotation == "tuple[tuple[str, str], ...]":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise wrong
        for name in value:
            if name not in TASK_FIELD_NAMES:
                raise InputError(
                    f'{where}: unknown task field "{name}".{did_you_mean(name, TASK_FIELD_NAMES)} '
                    f"Task fields: {', '.join(TASK_FIELD_NAMES)}."
                )
        value = tuple(sorted(value.items()))
    if dotted == "loading.device" and not DEVICE.fullmatch(value):
        raise InputError(
            f'{where}: loading.device = "{value}" is not a device. Allowed: "auto" (the best this '
            f'machine has), "cpu", "cuda", "cuda:N" (N a GPU index: 0, 1, ...), "mps", "mps:N". '
            f"Whether the device exists here is checked when the model loads."
        )
    allowed = CHOICES.get(dotted)
    if allowed is not None and value not in allowed:
        shown = ", ".join(f'"{a}"' for a in allowed if a)
        raise InputError(
            f'{where}: {dotted} = "{value}" is not allowed.{did_you_mean(str(value), allowed)} '
            f"Allowed values: {shown}."
        )
    return value


def check_dotted(dotted: str, value: Any, where: str) -> Any:
    """One value of a dotted key ("fewshot.k"), checked for its type and allowed values alone
    (not against other keys: `build_setup` does that); `where` starts the message."""
    section, key = _split_dotted(dotted, origin=where)
    annotation = next(f.type for f in fields(SECTIONS[section]) if f.name == key)
    return _check_value(section, key, value, annotation, where)


def _check_consistency(setup: Setup, places: Places, origin: str) -> None:
    def where(dotted: str) -> str:
        return places.get(_split_dotted(dotted), origin)

    if setup.task.limit < 0:
        raise InputError(f"{where('task.limit')}: task.limit must be 0 (all docs) or positive.")
    if setup.task.subset and setup.task.subsets:
        raise InputError(f"{where('task.subsets')}: task.subset and task.subsets are both set; name one "
                         f"dataset config in subset, or several (each a subtask) in subsets.")
    if len(set(setup.task.subsets)) != len(setup.task.subsets):
        raise InputError(f"{where('task.subsets')}: task.subsets names a config twice.")
    from scoregap.engine.processors import PROCESSORS

    if setup.task.process and setup.task.process not in PROCESSORS:
        raise InputError(
            f'{where("task.process")}: task.process = "{setup.task.process}" is not a doc processor.'
            f"{did_you_mean(setup.task.process, list(PROCESSORS))} Processors: {', '.join(PROCESSORS)}."
        )
    if setup.scoring.partial and (setup.scoring.method != "loglikelihood" or setup.prompt.target != "text"):
        raise InputError(
            f'{where("scoring.partial")}: scoring.partial = true scores the rest of the doc after each '
            f'choice, so it needs scoring.method = "loglikelihood" and prompt.target = "text".'
        )
    if setup.fewshot.k < 0:
        raise InputError(f"{where('fewshot.k')}: fewshot.k must be 0 or positive.")
    if setup.generation.max_new_tokens < 1:
        raise InputError(f"{where('generation.max_new_tokens')}: must be at least 1.")
    if not 0.0 <= setup.generation.top_p <= 1.0:
        raise InputError(f"{where('generation.top_p')}: top_p must lie between 0 and 1.")
    if setup.generation.temperature < 0.0:
        raise InputError(f"{where('generation.temperature')}: temperature cannot be negative.")
    lo = setup.loading
    if lo.tensor_parallel_size < 1:
        raise InputError(f"{where('loading.tensor_parallel_size')}: loading.tensor_parallel_size must be at "
                         f"least 1 (the number of GPUs vLLM splits the model over).")
    if not 0.0 < lo.gpu_memory_utilization <= 1.0:
        raise InputError(f"{where('loading.gpu_memory_utilization')}: loading.gpu_memory_utilization is the "
                         f"share of each GPU's memory vLLM may take: a number above 0 and at most 1.")
    if lo.max_model_len < 0:
        raise InputError(f"{where('loading.max_model_len')}: loading.max_model_len must be 0 (the model's own "
                         f"window) or a positive number of tokens.")
    if lo.backend != "vllm":
        for key in VLLM_KEYS:
            if getattr(lo, key) != getattr(LoadingSpec, key):
                raise InputError(
                    f'{where("loading." + key)}: loading.{key} is a vLLM setting, and loading.backend is '
                    f'"{lo.backend}". Remove it, or set loading.backend = "vllm".')
    if setup.prompt.choice_labels == "none" and setup.prompt.target != "text":
        raise InputError(
            f'{where("prompt.target")}: with prompt.choice_labels = "none" there is no label to '
            f'score, so prompt.target must be "text".'
        )
    problem = validate_extract(setup.scoring.extract)
    if problem:
        raise InputError(f"{where('scoring.extract')}: scoring.extract: {problem}")
    for step in setup.scoring.normalize:
        if step not in NORMALIZERS:
            raise InputError(
                f'{where("scoring.normalize")}: unknown normalizer "{step}".'
                f"{did_you_mean(step, NORMALIZERS)} Allowed: {', '.join(NORMALIZERS)}."
            )
    from scoregap.engine.metrics import metric_kind

    if metric_kind(setup.scoring.metric) != setup.scoring.method:
        raise InputError(
            f'{where("scoring.metric")}: metric "{setup.scoring.metric}" needs scoring.method = '
            f'"{metric_kind(setup.scoring.metric)}", but the setup says "{setup.scoring.method}".'
        )
