"""The benchmark catalog: the benchmarks scoregap knows by name, read from their presets.

An entry is a bundled `profiles/lm-eval/<benchmark>.toml` whose `task.benchmark` is its own file
stem: lm-evaluation-harness 0.4.13's task, exactly (`lm-eval/arc_challenge`). A preset whose stem
differs (`lm-eval/gsm8k_cot`) is a variant of a benchmark, not an entry; it is listed with the
entry's codebase presets, beside every other codebase's `profiles/<codebase>/<benchmark>.toml`
(`engine/presets.py::presets_for`). The Open LLM Leaderboard's conventions, when bundled
(`leaderboard/<benchmark>`), are listed on their own: they are a reference a model card cites,
not a codebase. Nothing is typed twice: adding a preset adds it here.

`PUBLISHED_DOCS` is the one table kept by hand: how many docs each benchmark's eval split has,
as the dataset cards on the hub publish it (`dataset_info`, num_examples), not counted locally,
since the catalog is shown before any data is at hand (offline there may be none). lm-eval's
task READMEs do not state these sizes. A size is shown only for the split it was published for.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoregap.engine.errors import InputError
from scoregap.engine.presets import load_setup, presets_for
from scoregap.profiles import PROFILES_DIR

CATALOG_CODEBASE = "lm-eval"
LEADERBOARD = "leaderboard"

# benchmark -> (eval split, its docs), from the hub's dataset cards (not counted here).
PUBLISHED_DOCS: dict[str, tuple[str, int]] = {
    "arc_challenge": ("test", 1172),        # allenai/ai2_arc, ARC-Challenge
    "arc_easy": ("test", 2376),             # allenai/ai2_arc, ARC-Easy
    "hellaswag": ("validation", 10042),     # Rowan/hellaswag
    "mmlu": ("test", 14042),                # cais/mmlu, all 57 subjects
    "gsm8k": ("test", 1319),                # openai/gsm8k, main
    "winogrande": ("validation", 1267),     # allenai/winogrande, winogrande_xl (every size shares it)
    "truthfulqa_mc1": ("validation", 817),  # truthfulqa/truthful_qa, multiple_choice
    "truthfulqa_mc2": ("validation", 817),
    "piqa": ("validation", 1838),           # ybisk/piqa (baber/piqa is its parquet copy)
}


@dataclass(frozen=True)
class Entry:
    """One benchmark of the catalog, as its lm-eval preset sets it up."""

    name: str                        # the preset to name: "lm-eval/arc_challenge"
    benchmark: str                   # "arc_challenge"
    hf: str                          # the hub dataset id
    configs: tuple[str, ...]         # its config, or MMLU's 57 subjects; () for the default one
    split: str                       # the split scored
    fewshot_split: str               # where shots come from ("" : the scored split)
    kind: str                        # "multiple_choice" | "generate"
    k: int                           # default shots
    metric: str                      # the primary metric
    docs: int | None                 # published size of `split`; None when unknown
    codebases: tuple[str, ...]       # other codebases' presets (and variants) for this benchmark
    leaderboard: str                 # "leaderboard/<benchmark>" when bundled, else ""

    @property
    def config(self) -> str:
        """The config as a reader wants it: its name, or how many there are."""
        if len(self.configs) > 1:
            return f"{len(self.configs)} configs"
        return self.configs[0] if self.configs else ""

    @property
    def description(self) -> str:
        """One line: where the docs come from and how they are scored."""
        source = f"{self.hf} ({self.config})" if len(self.configs) > 1 else self.hf
        return f"{source} · {self.metric} · {self.k}-shot"

    @property
    def presets(self) -> tuple[str, ...]:
        """Every other preset for this benchmark: codebases, then the leaderboard's."""
        return self.codebases + ((self.leaderboard,) if self.leaderboard else ())


def entries() -> list[Entry]:
    """The catalog, by name. A preset that does not load is left out (it is reported where it
    is named); tests/engine/test_catalog.py keeps every bundled one loading."""
    found = []
    for path in sorted((PROFILES_DIR / CATALOG_CODEBASE).glob("*.toml")):
        name = f"{CATALOG_CODEBASE}/{path.stem}"
        try:
            setup = load_setup(name)
        except InputError:
            continue
        task = setup.task
        if task.benchmark != path.stem:
            continue                 # base.toml, or a variant such as gsm8k_cot
        split, docs = PUBLISHED_DOCS.get(task.benchmark, ("", None))
        found.append(Entry(
            name=name, benchmark=task.benchmark, hf=task.hf,
            configs=task.subsets or ((task.subset,) if task.subset else ()),
            split=task.split, fewshot_split=task.fewshot_split, kind=task.kind, k=setup.fewshot.k,
            metric=setup.scoring.metric, docs=docs if split == task.split else None,
            codebases=tuple(p for p in presets_for(task.kind, task.benchmark) if p != name),
            leaderboard=_leaderboard(task.benchmark),
        ))
    return found


def entry(name: str) -> Entry | None:
    """The entry named `name` ("lm-eval/mmlu"), or None."""
    return next((e for e in entries() if e.name == name), None)


def search(query: str, catalog: list[Entry]) -> list[Entry]:
    """The entries matching every word of `query` (case-insensitive) in their name, hub id,
    config or metric: "arc" finds both ARC sets, "mmlu" MMLU, a file path nothing."""
    words = query.lower().split()
    return [e for e in catalog
            if all(w in f"{e.name} {e.hf} {e.config} {e.metric}".lower() for w in words)]


def _leaderboard(benchmark: str) -> str:
    name = f"{LEADERBOARD}/{benchmark}"
    if not (PROFILES_DIR / f"{name}.toml").is_file():
        return ""
    try:
        if load_setup(name).task.benchmark == benchmark:
            return name
    except InputError:
        pass
    return ""
