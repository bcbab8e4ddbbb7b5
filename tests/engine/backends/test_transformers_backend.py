"""The transformers backend against a direct computation on the same tiny model (float32, CPU).

The reference is lm-eval's way: one unpadded forward pass over context+continuation tokens, a full
log-softmax, and the sum over the continuation positions. The backend shares the context's key/value
cache across continuations and pads batches; it must still give the same numbers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch

from scoregap.engine.backends.transformers import TransformersBackend, resolve_device
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


# ---------------------------------------------------------------------------------------------
# Loading errors are input errors: exit code 2 and a paragraph naming the key or the file


def _cli_eval(setup: str, model: Path, tmp_path: Path, limit: str = "2") -> int:
    from scoregap.tui.cli import main

    return main(["eval", setup, "--model", str(model), "--limit", limit, "--out", str(tmp_path / "out"),
                 "--cache-dir", str(tmp_path / "cache"), "--quiet"])


def _one_paragraph(err: str) -> str:
    assert err.startswith("scoregap: error:"), err
    assert "Traceback" not in err and "\n\n" not in err.strip()
    return " ".join(err.split())


def _copy(tiny_model: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(tiny_model, target)
    return target


@pytest.mark.parametrize("device", ["cuda", "cuda:99", "tpu:99", "???"])
def test_a_device_this_machine_lacks_exits_2(tiny_model: Path, tmp_path: Path, write_setup, capsys,
                                             device: str) -> None:
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    setup = write_setup(f'extends = "samples/arith"\n[loading]\ndevice = "{device}"\n')
    assert _cli_eval(str(setup), tiny_model, tmp_path) == 2
    flat = _one_paragraph(capsys.readouterr().err)
    assert f'loading.device = "{device}"' in flat


@pytest.mark.parametrize("device", ["cuda:99", "tpu:99", "???", "meta", "CUDA"])
def test_the_device_check_names_the_key_and_the_devices_here(device: str) -> None:
    from scoregap.engine.backends.transformers import check_device
    from scoregap.engine.errors import InputError

    with pytest.raises(InputError) as info:
        check_device(device)
    message = str(info.value)
    assert message.startswith(f'loading.device = "{device}" ')
    assert "Devices here: auto, cpu" in message


def test_the_device_check_accepts_what_is_here() -> None:
    from scoregap.engine.backends.transformers import available_devices, check_device

    for device in ["cpu", *available_devices(), resolve_device("auto")]:
        check_device(device)


def test_cuda_without_cuda_fails_before_the_weights_load(tiny_model: Path) -> None:
    from scoregap.engine.errors import InputError

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InputError, match='loading.device = "cuda" is not available on this machine'):
        TransformersBackend(str(tiny_model), device="cuda")


def test_a_truncated_weight_file_exits_2_naming_it(tiny_model: Path, tmp_path: Path, capsys) -> None:
    model = _copy(tiny_model, tmp_path / "model")
    weights = model / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    assert _cli_eval("samples/arith", model, tmp_path) == 2
    flat = _one_paragraph(capsys.readouterr().err)
    assert f"{weights.resolve()} of the model" in flat
    assert "cannot be read: truncated or corrupt" in flat and "Re-download it" in flat


@pytest.mark.parametrize("missing", [("tokenizer.json",), ("tokenizer.json", "tokenizer_config.json")])
def test_missing_tokenizer_files_exit_2_saying_which(tiny_model: Path, tmp_path: Path, capsys,
                                                    missing: tuple[str, ...]) -> None:
    model = _copy(tiny_model, tmp_path / "model")
    for name in missing:
        (model / name).unlink()
    assert _cli_eval("samples/arith", model, tmp_path) == 2
    flat = _one_paragraph(capsys.readouterr().err)
    assert f'The tokenizer of the model "{model}" cannot be loaded' in flat
    assert "tokenizer.json is missing" in flat and "It holds: " in flat
    assert "sentencepiece" not in flat.lower()


# ---------------------------------------------------------------------------------------------
# Inputs longer than the model's window: an error naming the doc, or lm-eval's left truncation

WINDOW = 48


@pytest.fixture(scope="module")
def short_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a 48-token window (max_position_embeddings), so the sample prompts overflow it."""
    import json

    model = _copy(tiny_model, tmp_path_factory.mktemp("short") / "model")
    config = json.loads((model / "config.json").read_text())
    config["max_position_embeddings"] = WINDOW
    (model / "config.json").write_text(json.dumps(config))
    return model


@pytest.fixture(scope="module")
def short_backend(short_model: Path) -> TransformersBackend:
    return TransformersBackend(str(short_model), dtype="float32", device="cpu")


def test_an_overlong_context_exits_2_naming_the_doc(short_model: Path, tmp_path: Path, capsys) -> None:
    assert _cli_eval("samples/arith", short_model, tmp_path) == 2
    flat = _one_paragraph(capsys.readouterr().err)
    assert f'The model "{short_model}"' in flat
    assert re.search(rf"doc \d+ of arith is \d+ tokens long .* more than the model's window of {WINDOW}", flat)
    assert 'loading.truncation = "left"' in flat
    from scoregap.engine.cache import Cache

    assert Cache(tmp_path / "cache").count() == 0


def test_an_overlong_request_is_refused_unless_it_asks_for_left_truncation(
    short_backend: TransformersBackend, reference_model: Any
) -> None:
    from scoregap.engine.requests import ContextTooLong

    fits = Loglikelihood(SHORT_CONTEXT, " five")
    long = Loglikelihood(MC_CONTEXT, " one hundred and nine")
    with pytest.raises(ContextTooLong) as info:
        short_backend.loglikelihood([fits, long], 4, NullProgress())
    ctx, cont = encode_pair(short_backend.tokenizer, long.context, long.continuation)
    assert (info.value.index, info.value.n_tokens, info.value.limit) == (1, len(ctx) + len(cont) - 1, WINDOW)

    cut = [Loglikelihood(r.context, r.continuation, truncation="left") for r in (fits, long)]
    results = short_backend.loglikelihood(cut, 4, NullProgress())
    for request, result in zip(cut, results):
        logprob, n_context = lmeval_truncated(reference_model, short_backend.tokenizer, request, WINDOW)
        assert result.logprob == pytest.approx(logprob, abs=1e-4)
        assert result.n_context_tokens == n_context
    assert results[1].n_context_tokens + results[1].n_tokens - 1 == WINDOW


@torch.inference_mode()
def lmeval_truncated(model: Any, tokenizer: Any, request: Loglikelihood, window: int) -> tuple[float, int]:
    """lm-eval's `_loglikelihood_tokens`: feed (ctx + cont)[-(window + 1):][:-1], score the last
    len(cont) positions. Returns the logprob and the context tokens fed."""
    ctx, cont = encode_pair(tokenizer, request.context, request.continuation)
    fed = (ctx + cont)[-(window + 1):][:-1]
    logprobs = torch.log_softmax(model(input_ids=torch.tensor([fed])).logits[0].float(), dim=-1)
    positions = torch.arange(len(fed) - len(cont), len(fed))
    return float(logprobs[positions, torch.tensor(cont)].sum()), len(fed) - len(cont) + 1


def test_an_overlong_prompt_for_generation(short_backend: TransformersBackend) -> None:
    from scoregap.engine.requests import ContextTooLong

    prompt_tokens = len(encode(short_backend.tokenizer, MC_CONTEXT))
    assert prompt_tokens > WINDOW - 8
    with pytest.raises(ContextTooLong) as info:
        short_backend.generate([Generate("hi", 8), Generate(MC_CONTEXT, 8)], 2, NullProgress())
    assert (info.value.index, info.value.n_tokens, info.value.new_tokens) == (1, prompt_tokens, 8)
    result = short_backend.generate([Generate(MC_CONTEXT, 8, truncation="left")], 1, NullProgress())[0]
    assert result.n_prompt_tokens == WINDOW - 8                       # lm-eval keeps the last 40
    with pytest.raises(ContextTooLong, match="leaves no room for a prompt"):
        short_backend.generate([Generate("hi", WINDOW, truncation="left")], 1, NullProgress())


def test_loading_truncation_left_evaluates_overlong_docs(short_model: Path, tmp_path: Path) -> None:
    """`loading.truncation = "left"` (read with a default, so setups from before the key work)."""
    from dataclasses import replace

    from scoregap.engine.cache import Cache
    from scoregap.engine.errors import InputError
    from scoregap.engine.evaluate import Engine
    from scoregap.engine.model import resolve_model
    from scoregap.engine.presets import load_setup

    setup = load_setup("samples/arith")
    try:
        setup = setup.with_values({"loading.truncation": "left"})
    except InputError:   # the setup format does not have the key yet: set it on the value
        loading = replace(setup.loading)
        object.__setattr__(loading, "truncation", "left")
        setup = replace(setup, loading=loading)
    cache = Cache(tmp_path / "cache")
    ev = Engine(resolve_model(str(short_model), cache=cache), cache).evaluate(setup, limit=3)
    assert ev.result.n == 3
    planned = ev.planned[0].requests[0]
    assert planned.truncation == "left" and planned.key() != replace(planned, truncation="error").key()


def test_one_token_continuations_cost_one_row_per_context_and_stay_exact(
        backend: TransformersBackend, reference_model: Any, monkeypatch) -> None:
    """MMLU's layout: every continuation is one token (" A".." D"). A context's last logits score
    all its choices, so a batch of 4 holds 4 contexts (16 requests), one forward pass each, with
    no key/value cache kept; every result still equals the direct computation."""
    contexts = [f"Question: What is {i} plus {i + 1}?\nA. one\nB. two\nC. three\nD. four\nAnswer:" for i in range(12)]
    requests = [Loglikelihood(c, f" {label}") for c in contexts for label in "ABCD"]
    calls: list[tuple[int, bool]] = []
    forward = backend.model.forward

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append((int(kwargs["input_ids"].shape[0]), bool(kwargs.get("use_cache"))))
        return forward(*args, **kwargs)

    monkeypatch.setattr(backend.model, "forward", counted)
    results = backend.loglikelihood(requests, 4, NullProgress())
    assert calls == [(4, False)] * 3
    monkeypatch.undo()
    for request, result in zip(requests, results):
        logprob, greedy, _ = reference(reference_model, backend.tokenizer, request)
        assert result.logprob == pytest.approx(logprob, abs=1e-4) and result.is_greedy == greedy
    alone = backend.loglikelihood(requests[:4], 1, NullProgress())
    assert [r.min_margin for r in alone] == pytest.approx([r.min_margin for r in results[:4]], abs=1e-4)


SHOTS = "".join(f"Question: What is {i} times {i}?\nAnswer: {i * i}\n\n" for i in range(2, 8))


@pytest.mark.parametrize("batch_size", [2, 8])
def test_a_prefix_every_context_shares_is_computed_once_and_changes_no_result(
        backend: TransformersBackend, reference_model: Any, monkeypatch, batch_size: int) -> None:
    """Fixed shots (first_n) make every context of a batch start alike: that prefix runs once
    (a one-row forward pass), its cache is copied per context, and only the rest of each context
    is computed; the next batch reuses the kept block. One- and multi-token continuations alike
    equal the direct computation."""
    requests = [Loglikelihood(f"{SHOTS}Question: What is {i} plus {i}?\nAnswer:", cont)
                for i in range(6) for cont in (" A", " B", f" {2 * i}", " one hundred and nine")]
    from scoregap.engine.backends.batching import MIN_SHARED_PREFIX, shared_prefix

    backend.prefixes.clear()   # a block kept by an earlier test would be reused, not computed
    ids = [encode(backend.tokenizer, r.context) for r in requests[::4]]
    assert shared_prefix(ids) >= MIN_SHARED_PREFIX
    calls: list[tuple[int, int]] = []
    forward = backend.model.forward

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(tuple(kwargs["input_ids"].shape))
        return forward(*args, **kwargs)

    monkeypatch.setattr(backend.model, "forward", counted)
    results = backend.loglikelihood(requests, batch_size, NullProgress())
    monkeypatch.undo()
    whole = {len(c) for c in ids}
    prefix_passes = [n for rows, n in calls if rows == 1 and n >= MIN_SHARED_PREFIX and n not in whole]
    # batch 2 holds one context (4 continuations of it): nothing to share; batch 8 holds two, and
    # its first batch's block serves the other two
    assert len(prefix_passes) == (0 if batch_size == 2 else 1)
    for request, result in zip(requests, results):
        logprob, greedy, n_tokens = reference(reference_model, backend.tokenizer, request)
        assert result.logprob == pytest.approx(logprob, abs=1e-4), request
        assert (result.is_greedy, result.n_tokens) == (greedy, n_tokens), request


def test_per_doc_shots_in_a_few_orders_are_batched_by_their_shots_and_stay_exact(
        backend: TransformersBackend, reference_model: Any) -> None:
    """A shuffled-shot repeat gives each doc one of a few shot orders. Longest-first batching
    scatters the orders, so a batch shares nothing; batching contexts that start alike lets each
    batch compute its order's shots once. The backend picks the cheaper order by counting the
    positions each would compute, and either way every result equals the direct computation."""
    blocks = [SHOTS, "\n\n".join(reversed(SHOTS.split("\n\n")[:-1])) + "\n\n"]   # the same shots reversed
    # Longest first alternates the two blocks here: each doc is a word shorter than the one before.
    requests = [Loglikelihood(f"{blocks[i % 2]}Question: What is{' two' * (9 - i)}?\nAnswer:", cont)
                for i in range(8) for cont in (" A", " B")]
    fed = backend.tokens_fed
    results = backend.loglikelihood(requests, 4, NullProgress())
    shared_cost = backend.tokens_fed - fed
    for request, result in zip(requests, results):
        logprob, greedy, n_tokens = reference(reference_model, backend.tokenizer, request)
        assert result.logprob == pytest.approx(logprob, abs=1e-4), request
        assert (result.is_greedy, result.n_tokens) == (greedy, n_tokens), request
    contexts = [len(encode(backend.tokenizer, r.context)) for r in requests[::2]]
    assert shared_cost < 0.6 * sum(contexts)    # each batch of 4 computed its shots once


def test_variants_that_share_a_few_shot_block_compute_it_once_per_model_and_stay_exact(
        backend: TransformersBackend, reference_model: Any, monkeypatch) -> None:
    """Lever 1: the block is kept across calls. A second variant with the same shots (another
    question format) computes no block; a variant with one more shot computes only that shot; one
    with fewer shots crops the kept block. Every result equals the direct computation."""
    from scoregap.engine.backends.batching import MIN_SHARED_PREFIX

    shots = SHOTS.split("\n\n")[:-1]
    more = SHOTS + "Question: What is 9 times 9?\nAnswer: 81\n\n"
    fewer = "\n\n".join(shots[:4]) + "\n\n"
    variants = {
        "yours": [Loglikelihood(f"{SHOTS}Question: What is {i} plus {i}?\nAnswer:", c)
                  for i in range(4) for c in (" A", f" {2 * i}")],
        "another format": [Loglikelihood(f"{SHOTS}Q: {i} + {i} = ?\nA:", c) for i in range(4) for c in (" A", " B")],
        "one more shot": [Loglikelihood(f"{more}Question: What is {i} plus {i}?\nAnswer:", " A") for i in range(4)],
        "fewer shots": [Loglikelihood(f"{fewer}Question: What is {i} plus {i}?\nAnswer:", " A") for i in range(4)],
    }
    block, one_shot = (len(encode(backend.tokenizer, text)) for text in (SHOTS, "Question: What is 9 times 9?\nAnswer: 81\n\n"))
    backend.prefixes.clear()
    forward = backend.model.forward
    for name, requests in variants.items():
        calls: list[tuple[int, int]] = []

        def counted(*args: Any, calls: list = calls, **kwargs: Any) -> Any:
            calls.append(tuple(kwargs["input_ids"].shape))
            return forward(*args, **kwargs)

        monkeypatch.setattr(backend.model, "forward", counted)
        results = backend.loglikelihood(requests, 2, NullProgress())
        monkeypatch.undo()
        one_row = [n for rows, n in calls if rows == 1]   # the block passes (batches of 2 contexts)
        if name == "yours":
            assert one_row[0] >= block and all(n < MIN_SHARED_PREFIX for n in one_row[1:]), one_row
        elif name == "one more shot":   # the kept block, then the new shot (and the question's start)
            assert one_row[0] >= one_shot - 2 and one_row[0] < block, one_row
        else:                           # the same shots, or the first four: cropped from the kept block
            assert all(n < MIN_SHARED_PREFIX for n in one_row), (name, one_row)
        for request, result in zip(requests, results):
            logprob, greedy, n_tokens = reference(reference_model, backend.tokenizer, request)
            assert result.logprob == pytest.approx(logprob, abs=1e-4), (name, request)
            assert (result.is_greedy, result.n_tokens) == (greedy, n_tokens), (name, request)


def test_a_kept_block_is_measured_and_an_unmeasurable_cache_is_not_kept(backend: TransformersBackend) -> None:
    from scoregap.engine.backends.transformers import cache_bytes

    backend.prefixes.clear()
    backend.loglikelihood([Loglikelihood(f"{SHOTS}Question: What is {i} plus {i}?\nAnswer:", " A") for i in range(4)],
                          8, NullProgress())
    (value, size), = backend.prefixes.entries.values()
    config = backend.model.config
    head = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    per_token = 2 * config.num_hidden_layers * config.num_key_value_heads * head * 4   # float32
    assert size == cache_bytes(value) == per_token * value.get_seq_length() == backend.prefixes.used
    assert cache_bytes(object()) > backend.prefixes.budget
