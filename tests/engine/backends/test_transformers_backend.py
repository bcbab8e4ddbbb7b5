"""The transformers backend against a direct computation on the same tiny model (float32, CPU).

The reference is lm-eval's way: one unpadded forward pass over context+continuation tokens, a full
log-softmax, and the sum over the continuation positions. The backend shares the context's key/value
cache across continuations and pads batches; it must still give the same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from scoregap.engine.backends.transformers import TransformersBackend
from scoregap.engine.progress import NullProgress
from scoregap.engine.requests import Generate, Loglikelihood
from scoregap.engine.tokenization import encode, encode_pair

MC_CONTEXT = (
    "The following are multiple choice questions (with answers) about arithmetic.\n\n"
    "What is 39 plus 60?\nA. eighty-nine\nB. one hundred\nC. one hundred and nine\nD. ninety-nine\nAnswer:"
)
SHORT_CONTEXT = "Question: What is 2 plus 3?\nAnswer:"

REQUESTS = [
    # a shared context, single-token continuations (the letters)
    *[Loglikelihood(MC_CONTEXT, f" {label}") for label in "ABCD"],
    # the same context, multi-token continuations of different lengths
    Loglikelihood(MC_CONTEXT, " ninety-nine"),
    Loglikelihood(MC_CONTEXT, " one hundred and nine"),
    # other contexts of other lengths (left padding in a batch)
    Loglikelihood(SHORT_CONTEXT, " five"),
    Loglikelihood(SHORT_CONTEXT, " 5"),
    Loglikelihood("What day comes after Monday? The answer is", " Tuesday"),
    Loglikelihood("What month comes after March?", " April"),
    Loglikelihood("hi", " there, friend."),
    # trailing whitespace in the context, and the other BOS policies
    Loglikelihood("Answer: ", "12"),
    Loglikelihood(SHORT_CONTEXT, " five", "false"),
    Loglikelihood("<s><|user|>\nWhat is 2 plus 3?</s>\n<|assistant|>\n", "five", "true"),
    # the unconditional request of acc_mutual_info
    Loglikelihood("", " one hundred"),
]


@pytest.fixture(scope="module")
def backend(tiny_model: Path) -> TransformersBackend:
    return TransformersBackend(str(tiny_model), dtype="float32", device="cpu")


@pytest.fixture(scope="module")
def reference_model(tiny_model: Path) -> Any:
    """Loaded on its own, so a backend that loads the model wrongly cannot agree by accident."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()


@torch.inference_mode()
def reference(model: Any, tokenizer: Any, request: Loglikelihood) -> tuple[float, bool, int]:
    ctx, cont = encode_pair(tokenizer, request.context, request.continuation, request.bos)
    ids = torch.tensor([ctx + cont])
    logprobs = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
    positions = torch.arange(len(ctx) - 1, len(ctx) + len(cont) - 1)
    target = torch.tensor(cont)
    chosen = logprobs[positions, target]
    greedy = bool((logprobs[positions].argmax(-1) == target).all())
    return float(chosen.sum()), greedy, len(cont)


@pytest.mark.parametrize("batch_size", [1, 3, 8, "auto"])
def test_loglikelihoods_match_a_direct_computation(
    backend: TransformersBackend, reference_model: Any, batch_size: int | str
) -> None:
    results = backend.loglikelihood(REQUESTS, batch_size, NullProgress())
    assert len(results) == len(REQUESTS)
    for request, result in zip(REQUESTS, results):
        logprob, greedy, n_tokens = reference(reference_model, backend.tokenizer, request)
        assert result.logprob == pytest.approx(logprob, abs=1e-4), request
        assert result.is_greedy == greedy, request
        assert result.n_tokens == n_tokens, request
        assert result.logprob < 0
        assert result.min_margin >= 0


def test_results_do_not_depend_on_request_order(backend: TransformersBackend) -> None:
    forward = backend.loglikelihood(REQUESTS, 4, NullProgress())
    backward = backend.loglikelihood(REQUESTS[::-1], 4, NullProgress())[::-1]
    for a, b in zip(forward, backward):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4)


def test_counts_and_doubled_bos_are_reported(backend: TransformersBackend) -> None:
    tok = backend.tokenizer
    results = backend.loglikelihood(REQUESTS, 8, NullProgress())
    by_request = dict(zip(REQUESTS, results))
    short = by_request[Loglikelihood(SHORT_CONTEXT, " five")]
    assert short.n_context_tokens == len(encode(tok, SHORT_CONTEXT))
    assert by_request[Loglikelihood(MC_CONTEXT, " one hundred and nine")].n_tokens > 1
    chat = by_request[REQUESTS[-2]]
    assert chat.doubled_bos
    assert not short.doubled_bos
    assert by_request[Loglikelihood("", " one hundred")].n_context_tokens == 1


def _greedy_continuation(model: Any, tokenizer: Any, context: str, n: int) -> str | None:
    """A continuation of `n` argmax tokens that re-encodes to the same tokens, if there is one."""
    ctx = encode(tokenizer, context)
    ids = list(ctx)
    with torch.inference_mode():
        for _ in range(n):
            ids.append(int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax()))
    text = tokenizer.decode(ids[len(ctx):])
    if not text or any(t in tokenizer.all_special_ids for t in ids[len(ctx):]):
        return None
    _, cont = encode_pair(tokenizer, context, text)
    return text if cont == ids[len(ctx):] else None


@pytest.mark.parametrize("n", [1, 3])
def test_is_greedy_is_true_for_the_argmax_continuation(
    backend: TransformersBackend, reference_model: Any, n: int
) -> None:
    contexts = ["What is 2 plus 3?", "Question: What is 5 times 8?\nAnswer:", "The answer is",
                "What day comes after Monday?", "hello", "Answer:", "What month"]
    found = [(c, t) for c in contexts if (t := _greedy_continuation(reference_model, backend.tokenizer, c, n))]
    assert found, "no context gave a re-encodable greedy continuation"
    requests = [Loglikelihood(c, t) for c, t in found]
    for result in backend.loglikelihood(requests, 8, NullProgress()):
        assert result.is_greedy
        assert result.n_tokens == n


def test_an_empty_continuation_is_an_input_error(backend: TransformersBackend) -> None:
    from scoregap.engine.errors import InputError

    with pytest.raises(InputError, match="encodes to no tokens"):
        backend.loglikelihood([Loglikelihood("Answer:", "")], 1, NullProgress())


# ---------------------------------------------------------------------------------------------
# Generation

PROMPTS = [SHORT_CONTEXT, "What day comes after Monday?", MC_CONTEXT, "hi"]


def _generate(backend: TransformersBackend, requests: list[Generate], batch_size: int | str = 8) -> list:
    return backend.generate(requests, batch_size, NullProgress())


def test_greedy_generation_is_deterministic(backend: TransformersBackend) -> None:
    requests = [Generate(p, max_new_tokens=12, stop=()) for p in PROMPTS]
    first = _generate(backend, requests)
    assert first == _generate(backend, requests)
    one_by_one = [_generate(backend, [r], 1)[0] for r in requests]
    assert [r.text for r in one_by_one] == [r.text for r in first]  # padding does not change it
    assert all(r.text for r in first)


def test_a_stop_string_cuts_the_text(backend: TransformersBackend) -> None:
    full = _generate(backend, [Generate(SHORT_CONTEXT, max_new_tokens=16, stop=())])[0].text
    at = next(k for k in range(2, len(full) - 1) if full.find(full[k:k + 2]) == k and full[k:k + 2].strip())
    stop = full[at:at + 2]
    result = _generate(backend, [Generate(SHORT_CONTEXT, max_new_tokens=16, stop=(stop, "never-seen"))])[0]
    assert result.finish_reason == "stop"
    assert result.text == full[:at]
    assert stop not in result.text


def test_stop_strings_cut_each_row_of_a_batch(backend: TransformersBackend) -> None:
    fulls = [r.text for r in _generate(backend, [Generate(p, 16, ()) for p in PROMPTS])]
    stops = tuple({f[3:5] for f in fulls if f[3:5].strip()})
    results = _generate(backend, [Generate(p, 16, stops) for p in PROMPTS])
    for full, result in zip(fulls, results):
        cut = min((full.find(s) for s in stops if s in full), default=-1)
        if cut >= 0:
            assert (result.text, result.finish_reason) == (full[:cut], "stop")
        else:
            assert result.text == full


def test_max_new_tokens_gives_finish_reason_length(backend: TransformersBackend) -> None:
    result = _generate(backend, [Generate(SHORT_CONTEXT, max_new_tokens=3, stop=())])[0]
    assert result.finish_reason == "length"
    assert 0 < result.n_tokens <= 3
    assert result.n_prompt_tokens == len(encode(backend.tokenizer, SHORT_CONTEXT))
    longer = _generate(backend, [Generate(SHORT_CONTEXT, max_new_tokens=12, stop=())])[0]
    assert longer.text.startswith(result.text)


def test_sampling_repeats_with_a_seed_and_varies_across_seeds(backend: TransformersBackend) -> None:
    def sample(seed: int) -> str:
        request = Generate("What day comes after Monday?", max_new_tokens=16, stop=(),
                           temperature=1.0, seed=seed)
        return _generate(backend, [request])[0].text

    first = sample(1)
    assert sample(1) == first
    assert {sample(2), sample(3)} != {first}


def test_each_sampled_request_draws_from_its_own_stream(backend: TransformersBackend, monkeypatch) -> None:
    """Bug: every sampled request was seeded with the same generation.seed, so all docs shared one
    random stream (a plain reseed moved a sampled score by +10.8 points with p = 0.0009)."""
    seeds: list[int] = []
    real = torch.manual_seed
    monkeypatch.setattr(torch, "manual_seed", lambda s: seeds.append(s) or real(s))
    requests = [Generate(f"What is {i} plus {i}?", max_new_tokens=4, stop=(), temperature=0.7, seed=1234)
                for i in range(3)]
    first = _generate(backend, requests)
    assert seeds == [r.sample_seed for r in requests] and len(set(seeds)) == 3
    again = _generate(backend, list(reversed(requests)))          # another order, the same draws
    assert [r.text for r in reversed(again)] == [r.text for r in first]
    assert requests[0].sample_seed == Generate("What is 0 plus 0?", 4, (), 0.7, 1.0, 1234).sample_seed
    assert requests[0].sample_seed != Generate("What is 0 plus 0?", 4, (), 0.7, 1.0, 1235).sample_seed
