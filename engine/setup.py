"""Evaluation setups: the TOML profile format, its strict validation, and the resolved `Setup` value.

A setup file is TOML with the sections below. `extends = "NAME"` inherits a preset first: NAME is
looked up as a path relative to the file, then under the bundled `profiles/` folder (with or
without `.toml`). The child overrides its parent key by key; `[task.fields]` merges key by key too.

Validation is strict because a typo in a setup silently changes a score: an unknown key, a wrong
type or a value outside the allowed set is an `InputError` naming the file, the line, the key, the
allowed values and, for near-misses, the key that was probably meant.

The resolved `Setup` is frozen and hashable; `Setup.digest` is stable across runs and machines for
equal content, so it can name results. Variants are derived with `Setup.with_values`, which runs
the same validation, so a check can never build a setup that a user could not have written.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from scoregap.engine.answers import NORMALIZERS, validate_extract
from scoregap.engine.errors import InputError, did_you_mean
from scoregap.engine.metrics import ALL_METRICS

PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"
if not PROFILES_DIR.is_dir():  # installed layout: scoregap/engine beside scoregap/profiles
    import scoregap.profiles as _profiles

    PROFILES_DIR = Path(_profiles.__file__).resolve().parent


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
    "fewshot.sampler": ("first_n", "random"),
    "fewshot.order": ("sampled", "reversed", "shuffled"),
    "chat.description_in": ("system", "user"),
    "scoring.method": ("loglikelihood", "generate"),
    "scoring.metric": ALL_METRICS,
    "scoring.aggregate": ("micro", "macro"),
    "loading.backend": ("transformers", "vllm"),
    "loading.dtype": ("auto", "float32", "bfloat16", "float16"),
    "loading.add_bos_token": ("auto", "true", "false"),
    "loading.attn_implementation": ("auto", "eager", "sdpa"),
    "loading.padding_side": ("right", "left"),
}
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
# Loading files


def resolve_preset(name: str, relative_to: Path | None = None) -> Path:
    """A preset name or path -> the TOML file it names."""
    candidates: list[Path] = []
    for base in ([relative_to] if relative_to else []) + [Path.cwd(), PROFILES_DIR]:
        candidates.append(base / name)
        if not name.endswith(".toml"):
            candidates.append(base / f"{name}.toml")
    for path in candidates:
        if path.is_file():
            return path.resolve()
    available = sorted(
        str(p.relative_to(PROFILES_DIR).with_suffix(""))
        for p in PROFILES_DIR.rglob("*.toml")
        if "tasks" not in p.parts and "demo" not in p.parts
    )
    raise InputError(
        f'Setup "{name}" was not found: it is neither a file (looked in '
        f"{', '.join(str(c.parent) for c in candidates[::2])}) nor a bundled preset."
        f"{did_you_mean(name, available)} Bundled presets: {', '.join(available) or 'none'}."
    )


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; a syntax error names the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot be read ({err}).") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path}: not valid TOML: {err}. Fix the syntax at that place.") from None


def line_of(text: str, section: str, key: str) -> int | None:
    """The line where `key` is set inside `[section]` (tomllib keeps no positions)."""
    current = ""
    pattern = re.compile(rf'^\s*("?){re.escape(key)}\1\s*=')
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[+\s*([^\]]+?)\s*\]+", line)
        if header:
            current = header.group(1).strip()
            continue
        if current == section and pattern.match(line):
            return number
    return None


def load_setup(name_or_path: str | Path, *, relative_to: Path | None = None) -> Setup:
    """Read a setup file or bundled preset, following `extends`, and validate it."""
    path = resolve_preset(str(name_or_path), relative_to)
    data, places = _load_merged(path, chain=())
    return build_setup(data, origin=str(path), source=str(path), places=places)


Places = dict[tuple[str, str], str]  # (section, key) -> "file, line N" for messages


def _load_merged(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], Places]:
    if path in chain:
        loop = " -> ".join(str(p) for p in chain + (path,))
        raise InputError(f"{path}: `extends` forms a loop ({loop}). Remove one of the links.")
    raw, text = read_toml(path)
    parent_name = raw.pop("extends", None)
    data: dict[str, Any] = {}
    places: Places = {}
    if parent_name is not None:
        if not isinstance(parent_name, str):
            raise InputError(f'{path}: "extends" must be a string naming a preset or a file.')
        parent = resolve_preset(parent_name, relative_to=path.parent)
        data, places = _load_merged(parent, chain + (path,))
    for section, values in raw.items():
        if section not in SECTIONS:
            number = _section_line(text, section)
            line = f", line {number}" if number else ""
            raise InputError(
                f'{path}{line}: unknown section [{section}].{did_you_mean(section, list(SECTIONS))} '
                f"A setup has the sections {', '.join(f'[{s}]' for s in SECTIONS)} and an optional "
                f'top-level "extends".'
            )
        if not isinstance(values, dict):
            raise InputError(f"{path}: [{section}] must be a table of keys, not a single value.")
        target = data.setdefault(section, {})
        for key, value in values.items():
            if section == "task" and key == "path" and isinstance(value, str) and value:
                value = _resolve_task_path(value, path.parent)
            if section == "task" and key == "fields" and isinstance(value, dict):
                value = {**target.get("fields", {}), **value}
            target[key] = value
            line = line_of(text, section, key)
            if line is None and section == "task" and key == "fields":
                line = _section_line(text, "task.fields")
            places[(section, key)] = f"{path}, line {line}" if line else str(path)
    return data, places


def _section_line(text: str, section: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"^\s*\[\s*{re.escape(section)}\s*\]", line):
            return number
    return None


def _resolve_task_path(value: str, base: Path) -> str:
    """Task paths are relative to the file that names them, else to the bundled profiles."""
    candidate = Path(value).expanduser()
    if candidate.is_absolute():
        return str(candidate)
    for root in (base, PROFILES_DIR):
        if (root / candidate).is_file():
            return str((root / candidate).resolve())
    return str((base / candidate).resolve())


# ---------------------------------------------------------------------------------------------
# Validation


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
    allowed = CHOICES.get(dotted)
    if allowed is not None and value not in allowed:
        shown = ", ".join(f'"{a}"' for a in allowed if a)
        raise InputError(
            f'{where}: {dotted} = "{value}" is not allowed.{did_you_mean(str(value), allowed)} '
            f"Allowed values: {shown}."
        )
    return value


def _check_consistency(setup: Setup, places: Places, origin: str) -> None:
    def where(dotted: str) -> str:
        return places.get(_split_dotted(dotted), origin)

    if setup.task.limit < 0:
        raise InputError(f"{where('task.limit')}: task.limit must be 0 (all docs) or positive.")
    if setup.fewshot.k < 0:
        raise InputError(f"{where('fewshot.k')}: fewshot.k must be 0 or positive.")
    if setup.generation.max_new_tokens < 1:
        raise InputError(f"{where('generation.max_new_tokens')}: must be at least 1.")
    if not 0.0 <= setup.generation.top_p <= 1.0:
        raise InputError(f"{where('generation.top_p')}: top_p must lie between 0 and 1.")
    if setup.generation.temperature < 0.0:
        raise InputError(f"{where('generation.temperature')}: temperature cannot be negative.")
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



NOT_CODEBASES = ("tasks", "demo", "samples")


def presets_for(kind: str) -> tuple[str, ...]:
    """Codebase presets (profiles/<codebase>/<name>.toml, not `base`) that score a task `kind`."""
    method = "loglikelihood" if kind == "multiple_choice" else "generate"
    names = []
    for path in sorted(PROFILES_DIR.glob("*/*.toml")):
        if path.parent.name in NOT_CODEBASES or path.stem == "base":
            continue
        name = f"{path.parent.name}/{path.stem}"
        try:
            if load_setup(name).scoring.method == method:
                names.append(name)
        except InputError:
            continue   # a broken preset is reported when named, not here
    return tuple(names)
