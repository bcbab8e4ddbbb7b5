"""scoregap scores exactly as lm-evaluation-harness 0.4.13 does, on the same task and model.

For each setup, lm-eval runs the task YAML that `lmeval_export` writes, with its hf backend in
float32; scoregap runs the setup. Required: the same context strings, per-choice loglikelihoods
within 1e-4, and identical acc and acc_norm per doc. The task has multi-token choices (number
words), the model is the tiny Llama built locally, whose chat template writes its own BOS.
"""

from __future__ import annotations

import math

import pytest

lm_eval = pytest.importorskip("lm_eval")

from scoregap.engine.cache import Cache  # noqa: E402
from scoregap.engine.evaluate import Engine  # noqa: E402
from scoregap.engine.lmeval_export import export  # noqa: E402
from scoregap.engine.model import resolve_model  # noqa: E402
from scoregap.engine.presets import load_setup  # noqa: E402

pytestmark = pytest.mark.slow
LIMIT = 24

CASES = {
    # name: (layout, k, chat, multiturn[, sampler])
    "cloze-0shot": ("cloze", 0, False, False),
    "cloze-3shot": ("cloze", 3, False, False),
    "cloze-3shot-stream": ("cloze", 3, False, False, "stream"),   # exported as lm-eval's default sampler
    "cloze-3shot-chat": ("cloze", 3, True, False),
    "cloze-3shot-chat-multiturn": ("cloze", 3, True, True),
    "mmlu-0shot": ("mmlu", 0, False, False),
    "mmlu-3shot-chat-multiturn": ("mmlu", 3, True, True),
}


@pytest.fixture(scope="module")
def hflm(tiny_model):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=str(tiny_model), device="cpu", dtype="float32", batch_size=4)


@pytest.fixture(scope="module")
def engine(tiny_model, tmp_path_factory):
    cache = Cache(tmp_path_factory.mktemp("parity-cache"))
    return Engine(resolve_model(str(tiny_model), cache=cache), cache)


def _setup(layout: str, k: int, chat: bool, multiturn: bool, sampler: str = "first_n"):
    base = load_setup("samples/arith")   # lm-eval's MMLU layout on the bundled arith task
    values = {"fewshot.k": k, "chat.apply_template": chat, "fewshot.multiturn": multiturn,
              "loading.batch_size": 4, "fewshot.sampler": sampler}
    if layout == "cloze":   # continuation = " " + the choice's words: several tokens each
        values.update({"prompt.template": "Question: {{ question }}\nAnswer:",
                       "prompt.choice_labels": "none", "prompt.target": "text",
                       "prompt.choice_format": "{{ text }}", "prompt.description": ""})
    return base.with_values(values)


@pytest.mark.parametrize("case", list(CASES))
def test_same_prompts_loglikelihoods_and_scores_as_lm_eval(case, hflm, engine, tmp_path):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    setup = _setup(*CASES[case])
    ours = engine.evaluate(setup, limit=LIMIT)
    exported = export(setup, ours.task, model="tiny", limit=LIMIT, name=f"sg_{case.replace('-', '_')}")
    assert exported.unsupported == ()
    exported.write(tmp_path)
    out = simple_evaluate(
        model=hflm, tasks=[exported.task_name], task_manager=TaskManager(include_path=str(tmp_path), include_defaults=False),
        num_fewshot=exported.run_args["num_fewshot"], limit=LIMIT, log_samples=True,
        apply_chat_template=exported.run_args["apply_chat_template"],
        fewshot_as_multiturn=exported.run_args["fewshot_as_multiturn"],
        random_seed=0, numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=1234,
    )
    theirs = sorted(out["samples"][exported.task_name], key=lambda s: s["doc_id"])
    assert len(theirs) == len(ours.scores) == LIMIT
    worst = 0.0
    for sample, planned, score in zip(theirs, ours.planned, ours.scores):
        assert sample["doc_id"] == planned.doc.doc_id
        contexts = {arg[0] for arg in sample["arguments"]}
        assert contexts == {planned.prompt.context}, f"doc {planned.doc.doc_id}: prompts differ"
        assert [arg[1] for arg in sample["arguments"]] == list(planned.prompt.continuations)
        their_lls = [resp[0][0] for resp in sample["resps"]]
        our_lls = score.raw["loglikelihoods"]
        worst = max(worst, max(abs(a - b) for a, b in zip(their_lls, our_lls)))
        assert [resp[0][1] for resp in sample["resps"]] == score.raw["is_greedy"]
        assert sample["acc"] == score.scores["acc"], f"doc {planned.doc.doc_id}: acc differs"
        assert sample["acc_norm"] == score.scores["acc_norm"], f"doc {planned.doc.doc_id}: acc_norm"
    assert worst < 1e-4, f"max |Δ loglikelihood| = {worst:.2e}"
    metrics = out["results"][exported.task_name]
    assert math.isclose(metrics["acc,none"], ours.result.score, abs_tol=1e-12)
