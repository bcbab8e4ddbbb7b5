"""The transformers backend: loglikelihoods and generations from a Hugging Face causal LM.

Loglikelihood requests that share a context (the choices of one question, and the same question
under variants that differ only in what is scored) are run as one group: the context goes through
the model once, its key/value cache is copied to every continuation, and logits are computed only
at the continuation positions. The prefix every context of a batch shares (a few-shot block)
runs once, and its cache is kept across calls, so the next batch and the next variant with the
same first shots start from it (engine/backends/batching.py plans batches and keeps blocks).
The log-softmax is taken in float32 whatever the model's dtype.
This computes exactly what scoring `context_tokens + continuation_tokens` in one pass computes
(lm-eval's way), up to float rounding, at a fraction of the cost.

`batch_size` counts continuations per forward pass; the choices of one question always travel
together. "auto" starts large and halves on out-of-memory. `padding_side` places the padding of
the context batch ("right" as lm-eval does, or "left"); batched generation always pads left.

Nothing it returns is silently wrong. Logits that are NaN or infinite (corrupt weights, a float16
overflow) at a scored position or at any generation step raise `NonFiniteOutput` for the first
affected request of the batch, before anything of it is returned (so before anything is cached).
An input longer than the model's window raises `ContextTooLong`, unless the request asks for
lm-eval's left truncation. What a user can get wrong in loading (a device this machine lacks, a
truncated weight file, missing tokenizer files, a chat template that fails as the tokenizer
loads) is an `InputError` that names the key or the file (engine/backends/hf_loading.py).
"""

from __future__ import annotations

import copy
import inspect
import math
import sys
from typing import TYPE_CHECKING, Any

import torch

from scoregap.engine.backends import backend
from scoregap.engine.backends.base import (
    complete,
    encode_generation,
    encode_scored,
    package_version,
    release_memory,
    without_config,
)
from scoregap.engine.backends.batching import MIN_SHARED_PREFIX, PrefixStore, cheaper_order, shared_prefix
from scoregap.engine.backends.hf_generation import generate_batch
from scoregap.engine.backends.hf_loading import (
    available_devices,
    check_device,
    load_model,
    load_tokenizer,
    model_max_length,
    resolve_device,
)
from scoregap.engine.errors import InputError
from scoregap.engine.progress import Cancelled, Progress
from scoregap.engine.requests import (
    Generate,
    GenerationResult,
    Loglikelihood,
    LoglikelihoodResult,
    NonFiniteOutput,
)
from scoregap.engine.tokenization import has_doubled_bos

if TYPE_CHECKING:
    from scoregap.engine.model import ModelRef
    from scoregap.engine.setup import LoadingSpec

AUTO_BATCH = {"cuda": 64, "cpu": 32, "mps": 16}


def cache_bytes(cache: Any) -> int:
    """Memory of a key/value cache's tensors; a cache whose tensors cannot be found counts as too
    big to keep (memory that is not measured is not held)."""
    tensors = [t for layer in getattr(cache, "layers", ()) for t in (getattr(layer, "keys", None),
                                                                     getattr(layer, "values", None))
               if isinstance(t, torch.Tensor)]
    return sum(t.numel() * t.element_size() for t in tensors) if tensors else sys.maxsize


def _is_oom(err: BaseException) -> bool:
    return isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err).lower()


@backend("transformers")
class TransformersBackend:
    name = "transformers"
    load_keys = ("dtype", "device", "attn_implementation", "padding_side", "trust_remote_code")
    scope_keys: tuple[str, ...] = ()

    @classmethod
    def load(cls, model: ModelRef, loading: LoadingSpec) -> TransformersBackend:
        return cls(model.directory, dtype=loading.dtype, device=loading.device,
                   attn_implementation=loading.attn_implementation, padding_side=loading.padding_side,
                   trust_remote_code=loading.trust_remote_code, name=model.name)

    @classmethod
    def load_tokenizer(cls, model: ModelRef, loading: LoadingSpec) -> Any:
        return load_tokenizer(model.directory, model.name, loading.trust_remote_code)

    @classmethod
    def resolve_device(cls, device: str) -> str:
        return resolve_device(device)

    @classmethod
    def accepts(cls, model: ModelRef) -> str:
        return without_config(model, "a transformers model")

    @classmethod
    def versions(cls) -> dict[str, Any]:
        cuda = torch.cuda.is_available()
        return {"torch": torch.__version__, "transformers": package_version("transformers"),
                "cuda": torch.version.cuda if cuda else None,
                "gpu": torch.cuda.get_device_name(0) if cuda else None,
                "cpu_threads": torch.get_num_threads()}

    def __init__(
        self,
        model_dir: str,
        *,
        dtype: str = "float32",
        device: str = "auto",
        attn_implementation: str = "auto",
        padding_side: str = "right",
        trust_remote_code: bool = False,
        name: str = "",
    ) -> None:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()   # our own progress reporting owns the terminal
        name = name or model_dir
        self.device = resolve_device(device)
        check_device(self.device)
        self.padding_side = padding_side   # of loglikelihood batches; generation always pads left
        self.tokenizer = load_tokenizer(model_dir, name, trust_remote_code)
        kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
        if attn_implementation != "auto":
            kwargs["attn_implementation"] = attn_implementation
        self.model = load_model(model_dir, name, dtype, kwargs)
        self._to_device(name)
        self.dtype = str(self.model.dtype).removeprefix("torch.")
        self.max_length = model_max_length(self.model.config, self.tokenizer)
        self.tokens_fed = 0
        self.prefixes = PrefixStore(cache_bytes)   # few-shot blocks, across calls (so variants)
        # transformers 5.24 renamed forward's `past_key_values` (and the output field) to `cache`
        self.cache_arg = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id or 0

    def close(self) -> None:
        """Give the device's memory back (before vLLM, which wants its share up front, loads)."""
        self.model = None
        self.prefixes.clear()
        release_memory()

    def _to_device(self, name: str) -> None:
        try:
            self.model.to(self.device).eval()
        except (RuntimeError, AssertionError) as err:   # torch says "not compiled with CUDA" by assert
            detail = " ".join(f"{type(err).__name__}: {err}".split())
            raise InputError(f'The model "{name}" could not be moved to loading.device = "{self.device}" '
                             f"({detail}). Devices here: {', '.join(['auto', *available_devices()])}; "
                             f"choose another, or a smaller dtype if it ran out of memory.") from err

    def _batch_size(self, batch_size: int | str) -> int:
        if batch_size == "auto":
            return AUTO_BATCH.get(self.device.split(":")[0], 32)
        return int(batch_size)

    # -- loglikelihood -------------------------------------------------------------------------

    def loglikelihood(
        self, requests: list[Loglikelihood], batch_size: int | str, progress: Progress
    ) -> list[LoglikelihoodResult]:
        encoded = [encode_scored(self.tokenizer, i, r, self.max_length) for i, r in enumerate(requests)]
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (ctx, _) in enumerate(encoded):
            groups.setdefault(tuple(ctx), []).append(i)
        size = self._batch_size(batch_size)
        results: list[LoglikelihoodResult | None] = [None] * len(requests)

        def rows(item: tuple[tuple[int, ...], list[int]]) -> int:
            """Rows a context costs in the forward passes: one when every continuation is one token
            (its last logits score them all), else one per continuation (the second pass)."""
            return 1 if all(len(encoded[i][1]) == 1 for i in item[1]) else len(item[1])

        share = self.padding_side == "right"

        def cont(item: tuple[tuple[int, ...], list[int]]) -> int:
            return max(len(encoded[i][1]) for i in item[1])

        plan = cheaper_order(list(groups.items()), rows, size, cont, share)
        done = 0
        while done < len(plan):
            if progress.cancelled():
                raise Cancelled()
            batch = plan[done]
            try:
                scored = self._score_groups(batch, encoded)
            except RuntimeError as err:
                if batch_size == "auto" and _is_oom(err) and size > 1:
                    size //= 2
                    self.prefixes.clear()
                    torch.cuda.empty_cache() if torch.cuda.is_available() else None
                    plan = plan[:done] + cheaper_order([item for b in plan[done:] for item in b], rows, size,
                                                       cont, share)
                    continue
                raise
            bad = [index for index, result in scored if result is None]
            if bad:   # nothing of the call is returned: the engine caches none of it
                raise NonFiniteOutput(bad, "loglikelihood")
            for index, result in scored:
                results[index] = result
            done += 1
            progress.advance(sum(len(item[1]) for item in batch))
        return complete(results, "transformers loglikelihood")

    @torch.inference_mode()
    def _score_groups(
        self, groups: list[tuple[tuple[int, ...], list[int]]], encoded: list[tuple[list[int], list[int]]]
    ) -> list[tuple[int, LoglikelihoodResult | None]]:
        """Each request's result, or None where the logits at a scored position were not finite."""
        device = self.device
        longest_cont = max(len(encoded[i][1]) for _, idxs in groups for i in idxs)
        contexts = [list(ctx) for ctx, _ in groups]   # each fits the window (`encode_scored`)
        lengths = torch.tensor([len(c) for c in contexts])
        shared = shared_prefix(contexts) if self.padding_side == "right" and len(contexts) > 1 else 0
        if shared < MIN_SHARED_PREFIX:
            shared = 0
        cache = None
        if shared:   # the few-shot block every context starts with: computed once, copied per context
            cache = self._prefix(tuple(contexts[0][:shared]))
            cache.reorder_cache(torch.zeros(len(groups), dtype=torch.long, device=device))
        tails = [c[shared:] for c in contexts]
        width = max(len(t) for t in tails)
        ids = torch.full((len(groups), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(groups), width), dtype=torch.long)
        for g, tail in enumerate(tails):
            span = slice(width - len(tail), width) if self.padding_side == "left" else slice(0, len(tail))
            ids[g, span] = torch.tensor(tail)
            mask[g, span] = 1
        ids, mask = ids.to(device), mask.to(device)
        positions = shared + (mask.cumsum(-1) - 1).clamp(min=0)
        if shared:
            mask = torch.cat([torch.ones((len(groups), shared), dtype=torch.long, device=device), mask], dim=1)
        if self.padding_side == "left":   # every context ends at the last column
            keep: int | torch.Tensor = 1
            last = torch.zeros(len(groups), dtype=torch.long)
        else:                              # logits only at the distinct last positions
            ends = lengths - shared - 1
            columns = torch.unique(ends)
            keep = columns.to(device)
            last = torch.searchsorted(columns, ends)
        self.tokens_fed += len(tails) * width   # positions computed, padding included
        out = self.model(   # the context cache is kept only when continuations follow
            input_ids=ids, attention_mask=mask, position_ids=positions, **{self.cache_arg: cache},
            use_cache=longest_cont > 1 or cache is not None, logits_to_keep=keep,
        )
        first = out.logits[torch.arange(len(groups)), last.to(device)].float()   # predicts cont[0]
        next_position = (lengths.to(device))[:, None]

        rows = [(g, i) for g, (_, idxs) in enumerate(groups) for i in idxs]
        conts = [encoded[i][1] for _, i in rows]
        rest = None
        if longest_cont > 1:
            owner = torch.tensor([g for g, _ in rows], device=device)
            cache = getattr(out, self.cache_arg)
            cache.reorder_cache(owner)                # one copy of the context cache per continuation
            span_len = longest_cont - 1
            cont_ids = torch.full((len(rows), span_len), self.pad_id, dtype=torch.long)
            cont_mask = torch.zeros((len(rows), span_len), dtype=torch.long)
            for r, cont in enumerate(conts):
                cont_ids[r, : len(cont) - 1] = torch.tensor(cont[:-1])
                cont_mask[r, : len(cont) - 1] = 1
            cont_ids, cont_mask = cont_ids.to(device), cont_mask.to(device)
            full_mask = torch.cat([mask[owner], cont_mask], dim=1)
            cont_pos = next_position[owner] + torch.arange(span_len, device=device)
            rest = self.model(
                input_ids=cont_ids, attention_mask=full_mask, position_ids=cont_pos,
                **{self.cache_arg: cache}, use_cache=True,
            ).logits
            self.tokens_fed += len(rows) * span_len
        scored: list[tuple[int, LoglikelihoodResult | None]] = []
        # Once per context, not per choice: the first token's distribution, its margin and argmax
        # (all a one-token continuation needs), and whether the context doubles its BOS.
        first_logprobs = torch.log_softmax(first, dim=-1)
        top2 = first_logprobs.topk(2, dim=-1).values
        first_margin = (top2[:, 0] - top2[:, 1]).tolist()
        first_argmax = first_logprobs.argmax(dim=-1).tolist()
        doubled = [has_doubled_bos(self.tokenizer, ctx) for ctx in contexts]
        for r, ((g, index), cont) in enumerate(zip(rows, conts)):
            if len(cont) == 1:
                logprob, margin = float(first_logprobs[g, cont[0]]), first_margin[g]
                greedy = first_argmax[g] == cont[0]
            else:
                assert rest is not None
                logprobs = torch.cat([first_logprobs[g : g + 1],
                                      torch.log_softmax(rest[r, : len(cont) - 1].float(), dim=-1)], dim=0)
                target = torch.tensor(cont, device=device)
                chosen = logprobs.gather(1, target[:, None]).squeeze(1)
                top = logprobs.topk(2, dim=-1).values
                logprob, margin = float(chosen.sum()), float((top[:, 0] - top[:, 1]).min())
                greedy = bool((logprobs.argmax(dim=-1) == target).all())
            if not (math.isfinite(logprob) and math.isfinite(margin)):
                scored.append((index, None))   # a NaN or +inf logit anywhere in a row spoils all of it
                continue
            scored.append((index, LoglikelihoodResult(
                logprob=logprob, is_greedy=greedy, n_tokens=len(cont), n_context_tokens=len(contexts[g]),
                min_margin=margin, doubled_bos=doubled[g],
            )))
        return scored

    def _prefix(self, tokens: tuple[int, ...]) -> Any:
        """The key/value cache of `tokens` (one row), a copy the caller may extend. A kept block
        that starts alike gives its first positions (cropped when it runs on): only the rest is
        computed, and kept when it adds a block of its own (another shot count, another order)."""
        key, reused = self.prefixes.match(tokens)
        cache = None
        if reused >= MIN_SHARED_PREFIX:
            cache = copy.deepcopy(self.prefixes.get(key))
            if reused < len(key):
                if not cache.is_croppable:
                    cache, reused = None, 0
                else:
                    cache.crop(reused - len(key))   # a negative count drops that many
        else:
            reused = 0
        if reused < len(tokens):
            out = self.model(input_ids=torch.tensor([tokens[reused:]], device=self.device),
                             **{self.cache_arg: cache}, use_cache=True)
            cache = getattr(out, self.cache_arg)
            self.tokens_fed += len(tokens) - reused
            if len(tokens) - reused >= MIN_SHARED_PREFIX:
                self.prefixes.keep(tokens, copy.deepcopy(cache))
        return cache

    # -- generation ----------------------------------------------------------------------------

    def generate(
        self, requests: list[Generate], batch_size: int | str, progress: Progress
    ) -> list[GenerationResult]:
        prompts = [encode_generation(self.tokenizer, i, r, self.max_length) for i, r in enumerate(requests)]
        results: list[GenerationResult | None] = [None] * len(requests)
        greedy: dict[tuple, list[int]] = {}
        for i, r in enumerate(requests):
            if r.temperature == 0.0:
                greedy.setdefault((r.max_new_tokens, r.stop, r.bos), []).append(i)
            else:   # sampled: one at a time, so the request's own seed alone fixes the draw
                if progress.cancelled():
                    raise Cancelled()
                torch.manual_seed(r.sample_seed)   # its own stream: docs draw independently
                results[i] = self._generate_rows([i], requests, prompts)[0]
                progress.advance(1)
        size = self._batch_size(batch_size)
        for indices in greedy.values():
            indices.sort(key=lambda i: -len(requests[i].prompt))
            start = 0
            while start < len(indices):
                if progress.cancelled():
                    raise Cancelled()
                chunk = indices[start : start + size]
                try:
                    outs = self._generate_rows(chunk, requests, prompts)
                except RuntimeError as err:
                    if batch_size == "auto" and _is_oom(err) and size > 1:
                        size //= 2
                        self.prefixes.clear()
                        continue
                    raise
                for i, out in zip(chunk, outs):
                    results[i] = out
                start += len(chunk)
                progress.advance(len(chunk))
        return complete(results, "transformers generate")

    def _generate_rows(self, indices: list[int], requests: list[Generate], prompts: list[list[int]]
                       ) -> list[GenerationResult]:
        """The requests at `indices`, generated as one batch; a non-finite row names its request."""
        try:
            return self._generate_batch([requests[i] for i in indices], [prompts[i] for i in indices])
        except NonFiniteOutput as err:
            raise NonFiniteOutput([indices[row] for row in err.indices], "generation") from None

    def _generate_batch(self, batch: list[Generate], prompts: list[list[int]]) -> list[GenerationResult]:
        results, fed = generate_batch(self.model, self.tokenizer, self.device, self.pad_id, batch, prompts)
        self.tokens_fed += fed
        return results
