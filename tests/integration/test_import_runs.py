"""Runs made with lm-evaluation-harness 0.4.13 become sessions that reproduce them exactly.

lm-eval runs here, in-process, with --log_samples' files written by its own EvaluationTracker:
the tiny Llama on a local JSON task (0-shot; 5-shot; 3-shot under the chat template with a
system instruction and multi-turn shots), on the ARC-Easy replica through lm-eval's own
arc_easy.yaml (a catalog task), and the trained demo model on its census task, 0-shot and
3-shot. Required: every logged prompt re-rendered identically from the rebuilt setup, the same
per-choice loglikelihoods (1e-4) and score when scoregap evaluates it; two runs compared with no
model call naming the planted difference; and the whole diagnosis ranking it first.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

lm_eval = pytest.importorskip("lm_eval")

from replicas import write_replicas  # noqa: E402

from scoregap.checks import CHECKS  # noqa: E402
from scoregap.engine.cache import Cache  # noqa: E402
from scoregap.engine.evaluate import Engine  # noqa: E402
from scoregap.engine.lmeval_runs import read_lmeval  # noqa: E402
from scoregap.engine.model import resolve_model  # noqa: E402
from scoregap.engine.ranking import is_cause  # noqa: E402
from scoregap.engine.run import DiagnosisRun  # noqa: E402
from scoregap.engine.run_import import check_prompts, import_runs, verify_session  # noqa: E402
from scoregap.engine.run_comparison import compare_runs  # noqa: E402
from scoregap.engine.session import load_session  # noqa: E402
from scoregap.profiles import PROFILES_DIR  # noqa: E402

pytestmark = pytest.mark.slow
TASKS = Path(lm_eval.__file__).parent / "tasks"
ARITH = PROFILES_DIR / "tasks" / "arith"
CENSUS = PROFILES_DIR / "demo" / "tasks" / "census"
LIMIT = 24
CENSUS_LIMIT = 240     # the whole census split: 0 vs 3 shots is 23 docs apart there, 4 on 60 docs
CHAT_LIMIT = 60

LOCAL_TASK = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {folder}/{test}
    train: {folder}/{train}
test_split: test
fewshot_split: train
output_type: multiple_choice
doc_to_text: {text}
doc_to_choice: "{{{{choices}}}}"
doc_to_target: answer
metric_list:
{metrics}"""


def _metrics(*names: str) -> str:
    return "".join(f"  - metric: {m}\n" for m in names)


def _run(lm, tasks: Path, task: str, out: Path, **kwargs) -> Path:
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    tracker = EvaluationTracker(output_path=str(out))
    result = simple_evaluate(model=lm, tasks=[task], task_manager=TaskManager(include_path=str(tasks),
                             include_defaults=False), log_samples=True, evaluation_tracker=tracker, **kwargs)
    samples = result.pop("samples")
    tracker.save_results_aggregated(results=result, samples=samples)
    for name in result["configs"]:
        tracker.save_results_samples(task_name=name, samples=samples[name])
    return out


@pytest.fixture(scope="module")
def runs(tiny_model, tmp_path_factory) -> dict[str, Path]:
    from lm_eval.models.huggingface import HFLM

    root = tmp_path_factory.mktemp("lmeval-runs")
    tasks = root / "tasks"
    tasks.mkdir()
    (tasks / "arith_local.yaml").write_text(LOCAL_TASK.format(
        name="arith_local", folder=ARITH, test="arith.test.jsonl", train="arith.dev.jsonl",
        text='"Question: {{question}}\\nAnswer:"', metrics=_metrics("acc", "acc_norm")))
    census_text = "\"{% for c in choices %}{{ 'ABCD'[loop.index0] }}. {{ c }}\\n{% endfor %}{{ question }}\""
    (tasks / "census_mc.yaml").write_text(LOCAL_TASK.format(
        name="census_mc", folder=CENSUS, test="census.mc.test.jsonl", train="census.mc.dev.jsonl",
        text=census_text, metrics=_metrics("acc_norm", "acc")))
    replica = write_replicas(root / "replicas", only=("allenai/ai2_arc",))["allenai/ai2_arc"]
    (tasks / "arc_easy.yaml").write_text(f"include: {TASKS / 'arc/arc_easy.yaml'}\ntask: arc_easy\n"
                                         f"dataset_path: {replica}\n")
    tiny = HFLM(pretrained=str(tiny_model), device="cpu", dtype="float32", batch_size=4)
    demo = HFLM(pretrained=str(PROFILES_DIR / "demo" / "model"), device="cpu", dtype="float32", batch_size=16)
    seeds = {"random_seed": 0, "numpy_random_seed": 0, "torch_random_seed": 0, "fewshot_random_seed": 1234}
    return {
        "zero": _run(tiny, tasks, "arith_local", root / "zero", num_fewshot=0, limit=LIMIT, **seeds),
        "five": _run(tiny, tasks, "arith_local", root / "five", num_fewshot=5, limit=LIMIT, **seeds),
        "chat": _run(tiny, tasks, "arith_local", root / "chat", num_fewshot=3, limit=LIMIT, apply_chat_template=True,
                     fewshot_as_multiturn=True, system_instruction="Be brief.", **seeds),
        "arc_easy": _run(tiny, tasks, "arc_easy", root / "arc", num_fewshot=2, limit=LIMIT, **seeds),
        "census0": _run(demo, tasks, "census_mc", root / "census0", num_fewshot=0, limit=CENSUS_LIMIT, **seeds),
        "census3": _run(demo, tasks, "census_mc", root / "census3", num_fewshot=3, limit=CENSUS_LIMIT, **seeds),
        "census3chat": _run(demo, tasks, "census_mc", root / "census3chat", num_fewshot=3, limit=CHAT_LIMIT,
                            apply_chat_template=True, fewshot_as_multiturn=True, **seeds),
    }


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return Cache(tmp_path_factory.mktemp("import-cache"))


def _session(run: Path, out: Path, reported: Path | None = None, **kwargs):
    theirs = read_lmeval(reported, **kwargs) if reported else None
    imported = import_runs(read_lmeval(run, **kwargs), out, reported=theirs,
                           reported_score=None if reported else 0.5)
    return load_session(imported.session)


@pytest.mark.parametrize("name", ["zero", "five", "chat", "arc_easy"])
def test_the_rebuilt_setup_renders_every_logged_prompt_and_scores_the_same(name, runs, tiny_model, cache, tmp_path):
    session = _session(runs[name], tmp_path / "session.toml")
    logged, recon = read_lmeval(runs[name])
    assert recon.extends == ("lm-eval/arc_easy" if name == "arc_easy" else "lm-eval/base")
    assert not [line for line in recon.unrepresentable if line.startswith("arc_easy:")]   # lm-eval's own config
    n = len(logged.docs)
    assert n == (12 if name == "arc_easy" else LIMIT)       # the ARC replica's test split has 12 docs
    check = verify_session(session, cache)
    assert (check.checked, check.identical) == (n, n), check.first

    engine = Engine(resolve_model(str(tiny_model), cache=cache), cache)
    ours = engine.evaluate(session.yours)
    assert len(ours.scores) == n
    worst = max(abs(a - b) for doc, score in zip(logged.docs, ours.scores)
                for a, b in zip(doc.loglikelihoods, score.raw["loglikelihoods"]))
    assert worst < 1e-4
    assert [d.correct for d in logged.docs] == [s.scores[logged.metric] for s in ours.scores]
    assert math.isclose(ours.result.score, logged.score, abs_tol=1e-9)
    assert session.yours_score == pytest.approx(logged.score)


def test_two_runs_compared_name_every_planted_difference_without_a_model(runs, tmp_path, monkeypatch):
    """The import and the comparison make no model call: every way to one is counted (and let
    through, so a call that some caller would swallow still shows up in the count)."""
    from scoregap.engine.backends.transformers import TransformersBackend

    calls: list[str] = []

    def counting(name, real):
        def call(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(Engine, "run", counting("Engine.run", Engine.run))
    monkeypatch.setattr(TransformersBackend, "load", classmethod(counting("load", TransformersBackend.load.__func__)))
    for method in ("loglikelihood", "generate"):
        monkeypatch.setattr(TransformersBackend, method, counting(method, getattr(TransformersBackend, method)))
    session = _session(runs["zero"], tmp_path / "session.toml", reported=runs["chat"])
    assert {k: session.known[k] for k in ("fewshot.k", "chat.apply_template", "chat.system_prompt",
                                          "fewshot.multiturn")} == {
        "fewshot.k": 3, "chat.apply_template": True, "chat.system_prompt": "Be brief.", "fewshot.multiturn": True}
    c = compare_runs(read_lmeval(runs["zero"])[0], read_lmeval(runs["chat"])[0])
    assert c.matched == LIMIT and c.identical_prompts == 0
    assert set(c.keys) == {"fewshot.k", "chat.apply_template", "chat.system_prompt"}
    assert any("starts with '<s><|system|>↵Be brief." in line for line in c.prompt_evidence)
    assert sum(c.outcomes.values()) == LIMIT
    from scoregap.engine.run_import import import_session

    whole = import_session("lm-eval", runs["zero"], tmp_path / "whole.toml", reported_run=runs["chat"])
    assert whole.check is not None and whole.check.checked == LIMIT and whole.comparison.matched == LIMIT
    assert calls == []


def test_acc_against_acc_norm_is_a_stated_metric_on_identical_prompts(runs, tmp_path):
    session = _session(runs["census3"], tmp_path / "session.toml", reported=runs["census3"])
    yours = read_lmeval(runs["census3"], metric="acc")[0]
    theirs = read_lmeval(runs["census3"])[0]
    assert (yours.metric, theirs.metric) == ("acc", "acc_norm")
    c = compare_runs(yours, theirs)
    assert c.identical_prompts == c.matched == CENSUS_LIMIT
    assert [d.key for d in c.differences] == ["scoring.metric"]
    assert session.known["scoring.metric"] == "acc_norm"


def test_zero_against_three_shots_is_named_by_the_runs_alone(runs, tmp_path):
    session = _session(runs["census0"], tmp_path / "session.toml", reported=runs["census3"])
    assert session.known["fewshot.k"] == 3 and session.reported_score > session.yours_score
    c = compare_runs(read_lmeval(runs["census0"])[0], read_lmeval(runs["census3"])[0])
    assert [d.key for d in c.differences] == ["fewshot.k"]
    assert c.differences[0].evidence.startswith("every reported prompt has 3 shots and yours 0")
    assert c.outcomes["only reported"] > c.outcomes["only yours"]


PLANTED = {   # yours, your metric, reported, the check and the fix that must rank first
    "chat template on vs off": ("census3chat", "", "census3", "template", ("chat.apply_template", False)),
    "0 vs 3 shots": ("census0", "", "census3", "fewshot", ("fewshot.k", 3)),
    "acc vs acc_norm": ("census3", "acc", "census3", "metric", ("scoring.metric", "acc_norm")),
}


@pytest.mark.parametrize("case", PLANTED)
def test_the_planted_difference_between_two_runs_is_ranked_first(case, runs, cache, tmp_path):
    yours, metric, reported, check, (key, value) = PLANTED[case]
    imported = import_runs(read_lmeval(runs[yours], metric=metric), tmp_path / "session.toml",
                           reported=read_lmeval(runs[reported]))
    session = load_session(imported.session)
    assert session.known[key] == value
    run = DiagnosisRun.open(session, cache=cache, checks=CHECKS, limit=len(imported.yours.docs))
    report = run.run_all()
    causes = [f.variant for f in run.diagnosis.ranking if is_cause(f)]
    assert causes and causes[0].check == check and dict(causes[0].changes)[key] == value, causes
    assert causes[0].known
    shown = report["runs"]["comparison"]
    assert [d["key"] for d in shown["differences"]] == [key]
    assert check in shown["implicated"]
    assert report["ranking"][0]["runs_show"] == 1
    assert report["runs"]["remeasure"]["max_abs_delta_loglikelihood"] < 1e-4
    assert report["runs"]["remeasure"]["flips"] == 0
    if case == "chat template on vs off":   # the run's template is the demo tokenizer's own
        template = report["runs"]["chat_template"]
        assert template["here"] == template["yours"] and "is the one this model's tokenizer" in template["line"]
    from scoregap.engine.report_formats import markdown

    text = markdown(report)
    assert text.index("## What the two runs show") < text.index("## Ranked causes")
    assert "(the runs show it)" in text


def test_a_rebuilt_setup_that_differs_shows_the_first_difference(runs, tmp_path):
    session = _session(runs["five"], tmp_path / "session.toml")
    shifted = session.yours.with_values({"prompt.fewshot_delimiter": "\n"})
    check = check_prompts(shifted, read_lmeval(runs["five"])[0])
    assert check.identical == 0 and check.first is not None
    assert "Answer: one hundred and eighty\n\nQuestion" in check.first[1]
