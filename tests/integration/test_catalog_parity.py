"""Every catalog entry scores exactly as lm-evaluation-harness 0.4.13's own task YAML does.

lm-eval runs its installed task definitions through include-YAMLs that only point
`dataset_path` at a replica in the hub layout (scripts/make_replicas.py) and set a few-shot
count; scoregap runs `lm-eval/<benchmark>` with `task.hf` at the same replica and the same k.
One lm-eval run covers every entry (its task index alone takes ~20 s). Required per entry:
identical prompt strings (context and continuation of every request), per-choice
loglikelihoods within 1e-4, identical per-doc metric values, identical aggregates (MMLU: the
group's doc-weighted mean; GSM8K: both filters; TruthfulQA MC2: the mass on true answers).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

lm_eval = pytest.importorskip("lm_eval")

from replicas import MMLU_SUBJECTS, write_replicas  # noqa: E402

from scoregap.engine.cache import Cache  # noqa: E402
from scoregap.engine.evaluate import Engine, Evaluation  # noqa: E402
from scoregap.engine.model import resolve_model  # noqa: E402
from scoregap.engine.presets import load_setup  # noqa: E402

pytestmark = pytest.mark.slow
TASKS = Path(lm_eval.__file__).parent / "tasks"

ENTRIES: dict[str, tuple[str, str, int, tuple[str, ...]]] = {
    # benchmark: (lm-eval YAML, replica, k, per-doc metrics compared)
    "arc_challenge": ("arc/arc_challenge.yaml", "allenai/ai2_arc", 3, ("acc", "acc_norm")),
    "arc_easy": ("arc/arc_easy.yaml", "allenai/ai2_arc", 0, ("acc", "acc_norm")),
    "hellaswag": ("hellaswag/hellaswag.yaml", "Rowan/hellaswag", 2, ("acc", "acc_norm")),
    "winogrande": ("winogrande/default.yaml", "allenai/winogrande", 2, ("acc",)),
    "truthfulqa_mc1": ("truthfulqa/truthfulqa_mc1.yaml", "truthfulqa/truthful_qa", 0, ("acc",)),
    "truthfulqa_mc2": ("truthfulqa/truthfulqa_mc2.yaml", "truthfulqa/truthful_qa", 0, ("acc",)),
    "piqa": ("piqa/piqa.yaml", "baber/piqa", 1, ("acc", "acc_norm")),
    "gsm8k": ("gsm8k/gsm8k.yaml", "openai/gsm8k", 5, ()),
    "mmlu": ("", "cais/mmlu", 2, ("acc",)),
}
OUR_METRIC = {"truthfulqa_mc2": {"acc": "mc2"}}   # lm-eval's name -> scoregap's, where they differ


def _write_yamls(folder: Path, replicas: dict[str, Path]) -> None:
    for name, (yaml, replica, k, _) in ENTRIES.items():
        if name == "mmlu":
            continue
        (folder / f"sg_{name}.yaml").write_text(
            f"include: {TASKS / yaml}\ntask: sg_{name}\ndataset_path: {replicas[replica]}\nnum_fewshot: {k}\n")
    for subject in MMLU_SUBJECTS:
        (folder / f"sg_mmlu_{subject}.yaml").write_text(
            f"include: {TASKS / 'mmlu/default' / f'mmlu_{subject}.yaml'}\ntask: sg_mmlu_{subject}\n"
            f"dataset_path: {replicas['cais/mmlu']}\nnum_fewshot: {ENTRIES['mmlu'][2]}\ntag: []\n")
    tasks = "".join(f"  - sg_mmlu_{s}\n" for s in MMLU_SUBJECTS)
    (folder / "sg_mmlu.yaml").write_text(
        f"group: sg_mmlu\ntask:\n{tasks}aggregate_metric_list:\n  - metric: acc\n    weight_by_size: True\n")


@pytest.fixture(scope="module")
def world(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The replicas, one lm-eval run over every entry, and scoregap's evaluation of each."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    root = tmp_path_factory.mktemp("catalog-parity")
    replicas = write_replicas(root / "replicas")
    (root / "yaml").mkdir()
    _write_yamls(root / "yaml", replicas)
    names = [f"sg_{n}" for n in ENTRIES]
    out = simple_evaluate(
        model=HFLM(pretrained=str(tiny_model), device="cpu", dtype="float32", batch_size=1),
        tasks=names, task_manager=TaskManager(include_path=str(root / "yaml"), include_defaults=False), log_samples=True,
        random_seed=0, numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=1234,
    )
    cache = Cache(root / "cache")
    engine = Engine(resolve_model(str(tiny_model), cache=cache), cache)
    ours: dict[str, Evaluation] = {}
    for name, (_, replica, k, _) in ENTRIES.items():
        values: dict[str, Any] = {"task.hf": str(replicas[replica]), "fewshot.k": k, "loading.batch_size": 1}
        if name == "mmlu":
            values["task.subsets"] = list(MMLU_SUBJECTS)
        ours[name] = engine.evaluate(load_setup(f"lm-eval/{name}").with_values(values))
    return {"out": out, "ours": ours, "engine": engine}


def _samples(out: dict[str, Any], task: str, filter_name: str = "none") -> list[dict[str, Any]]:
    rows = [s for s in out["samples"][task] if s.get("filter", "none") == filter_name]
    return sorted(rows, key=lambda s: s["doc_id"])


def _compare_choices(name: str, samples: list[dict[str, Any]], ours: Evaluation, docs: list[int]) -> float:
    """Prompts, loglikelihoods and per-doc metrics of one (sub)task; the largest |Δll|."""
    worst = 0.0
    assert len(samples) == len(docs), f"{name}: {len(samples)} docs in lm-eval, {len(docs)} here"
    for sample, index in zip(samples, docs):
        planned, score = ours.planned[index], ours.scores[index]
        pairs = [planned.prompt.pair(i) for i in range(len(planned.prompt.continuations))]
        assert [tuple(a) for a in sample["arguments"]] == pairs, f"{name} doc {sample['doc_id']}: prompts differ"
        theirs = [r[0][0] for r in sample["resps"]]
        worst = max(worst, max(abs(a - b) for a, b in zip(theirs, score.raw["loglikelihoods"])))
        for metric in ENTRIES[name][3]:
            mine = score.scores[OUR_METRIC.get(name, {}).get(metric, metric)]
            assert sample[metric] == pytest.approx(mine, abs=1e-9), f"{name} doc {sample['doc_id']}: {metric}"
    return worst


@pytest.mark.parametrize("name", [n for n in ENTRIES if n not in ("mmlu", "gsm8k")])
def test_a_multiple_choice_entry_matches_lm_eval(name: str, world: dict[str, Any]) -> None:
    out, ours = world["out"], world["ours"][name]
    worst = _compare_choices(name, _samples(out, f"sg_{name}"), ours, list(range(len(ours.scores))))
    print(f"{name}: {len(ours.scores)} docs, max |Δll| {worst:.1e}")   # shown with -s: the parity table
    assert worst < 1e-4, f"{name}: max |Δ loglikelihood| = {worst:.2e}"
    results = out["results"][f"sg_{name}"]
    assert math.isclose(results[f"{ENTRIES[name][3][0]},none"], ours.result.score, abs_tol=1e-9)


def test_mmlu_matches_each_subject_and_the_doc_weighted_group(world: dict[str, Any]) -> None:
    out, ours = world["out"], world["ours"]["mmlu"]
    worst = 0.0
    for subject in MMLU_SUBJECTS:
        docs = [i for i, s in enumerate(ours.scores) if s.subtask == subject]
        worst = max(worst, _compare_choices("mmlu", _samples(out, f"sg_mmlu_{subject}"), ours, docs))
    print(f"mmlu: {len(ours.scores)} docs, max |Δll| {worst:.1e}")
    assert worst < 1e-4, f"mmlu: max |Δ loglikelihood| = {worst:.2e}"
    assert math.isclose(out["results"]["sg_mmlu"]["acc,none"], ours.result.score, abs_tol=1e-9)


def test_gsm8k_matches_both_filters(world: dict[str, Any]) -> None:
    out, ours, engine = world["out"], world["ours"]["gsm8k"], world["engine"]
    flexible = engine.evaluate(ours.setup.with_values({"scoring.extract": "gsm8k_flexible"}))
    assert engine.calls.generate == len(ours.scores)   # the second filter re-reads stored text
    for filter_name, ev in (("strict-match", ours), ("flexible-extract", flexible)):
        samples = _samples(out, "sg_gsm8k", filter_name)
        assert len(samples) == len(ev.scores)
        for sample, planned, score in zip(samples, ev.planned, ev.scores):
            assert sample["arguments"][0][0] == planned.prompt.context, f"gsm8k doc {sample['doc_id']}: prompt"
            assert sample["resps"][0][0] == score.raw["generation"], f"gsm8k doc {sample['doc_id']}: generation"
            assert sample["exact_match"] == score.score, f"gsm8k doc {sample['doc_id']}: {filter_name}"
        assert math.isclose(out["results"]["sg_gsm8k"][f"exact_match,{filter_name}"], ev.result.score, abs_tol=1e-9)
