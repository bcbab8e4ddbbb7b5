"""The transformers backend: loglikelihoods and generations from a Hugging Face causal LM.

Loglikelihood requests that share a context (the choices of one question, and the same question
under variants that differ only in what is scored) are run as one group: the context goes through
the model once, its key/value cache is copied to every continuation, and logits are computed only
at the continuation positions. The log-softmax is taken in float32 whatever the model's dtype.
This computes exactly what scoring `context_tokens + continuation_tokens` in one pass computes
(lm-eval's way), up to float rounding, at a fraction of the cost.

`batch_size` counts continuations per forward pass; the choices of one question always travel
together. "auto" starts large and halves on out-of-memory. `padding_side` places the padding of
the context batch ("right" as lm-eval does, or "left"); batched generation always pads left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from scoregap.engine.backends import backend
from scoregap.engine.backends.base import complete
from scoregap.engine.errors import InputError
from scoregap.engine.progress import Cancelled, Progress
from scoregap.engine.requests import (
    Generate,
    GenerationResult,
    Loglikelihood,
    LoglikelihoodResult,
)
from scoregap.engine.tokenization import encode, encode_pair, has_doubled_bos

if TYPE_CHECKING:
    from scoregap.engine.model import ModelRef
    from scoregap.engine.setup import LoadingSpec

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
AUTO_BATCH = {"cuda": 64, "cpu": 32, "mps": 16}


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _is_oom(err: BaseException) -> bool:
    return isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err).lower()


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@backend("transformers")
class TransformersBackend:
    name = "transformers"

    @classmethod
    def load(cls, model: ModelRef, loading: LoadingSpec) -> TransformersBackend:
        return cls(model.directory, dtype=loading.dtype, device=loading.device,
                   attn_implementation=loading.attn_implementation, padding_side=loading.padding_side,
                   trust_remote_code=loading.trust_remote_code)

    @classmethod
    def load_tokenizer(cls, model: ModelRef, loading: LoadingSpec) -> Any:
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(model.directory, trust_remote_code=loading.trust_remote_code)
        except (OSError, ValueError) as err:
            raise InputError(f'The tokenizer of "{model.name}" could not be loaded: {err}') from None

    @classmethod
    def resolve_device(cls, device: str) -> str:
        return resolve_device(device)

    @classmethod
    def accepts(cls, model: ModelRef) -> str:
        from pathlib import Path

        if not (Path(model.directory) / "config.json").is_file():
            return f"{model.directory} has no config.json: not a transformers model."
        return ""

    @classmethod
    def versions(cls) -> dict[str, Any]:
        cuda = torch.cuda.is_available()
        return {"torch": torch.__version__, "transformers": _version("transformers"),
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
    ) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()   # our own progress reporting owns the terminal
        self.device = resolve_device(device)
        self.padding_side = padding_side   # of loglikelihood batches; generation always pads left
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
            kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
            if attn_implementation != "auto":
                kwargs["attn_implementation"] = attn_implementation
            self.model = AutoModelForCausalLM.from_pretrained(
                model_dir, dtype="auto" if dtype == "auto" else DTYPES[dtype], **kwargs
            )
        except (OSError, ValueError) as err:
            raise InputError(f'The model "{model_dir}" could not be loaded with transformers: {err}') from None
        self.model.to(self.device).eval()
        self.dtype = str(self.model.dtype).removeprefix("torch.")
        self.max_length = int(getattr(self.model.config, "max_position_embeddings", 0) or 4096)
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id or 0

    def _batch_size(self, batch_size: int | str) -> int:
        if batch_size == "auto":
            return AUTO_BATCH.get(self.device.split(":")[0], 32)
        return int(batch_size)

    # -- loglikelihood -------------------------------------------------------------------------

    def loglikelihood(
        self, requests: list[Loglikelihood], batch_size: int | str, progress: Progress
    ) -> list[LoglikelihoodResult]:
        encoded = [encode_pair(self.tokenizer, r.context, r.continuation, r.bos) for r in requests]
        for request, (_, cont) in zip(requests, encoded):
            if not cont:
                raise InputError(
                    f"The continuation {request.continuation!r} encodes to no tokens after its "
                    f"context; there is nothing to score. Check prompt.target and target_delimiter."
                )
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (ctx, _) in enumerate(encoded):
            groups.setdefault(tuple(ctx), []).append(i)
        ordered = sorted(
            groups.items(),
            key=lambda item: (-(len(item[0]) + max(len(encoded[i][1]) for i in item[1])), item[0]),
        )
        size = self._batch_size(batch_size)
        results: list[LoglikelihoodResult | None] = [None] * len(requests)
        start = 0
        while start < len(ordered):
            if progress.cancelled():
                raise Cancelled()
            batch, count = [], 0
            for item in ordered[start:]:
                if batch and count + len(item[1]) > size:
                    break
                batch.append(item)
                count += len(item[1])
            try:
                scored = self._score_groups(batch, encoded)
            except RuntimeError as err:
                if batch_size == "auto" and _is_oom(err) and size > 1:
                    size //= 2
                    torch.cuda.empty_cache() if torch.cuda.is_available() else None
                    continue
                raise
            for index, result in scored:
                results[index] = result
            start += len(batch)
            progress.advance(count)
        return complete(results, "transformers loglikelihood")

    @torch.inference_mode()
    def _score_groups(
        self, groups: list[tuple[tuple[int, ...], list[int]]], encoded: list[tuple[list[int], list[int]]]
    ) -> list[tuple[int, LoglikelihoodResult]]:
        device = self.device
        longest_cont = max(len(encoded[i][1]) for _, idxs in groups for i in idxs)
        room = max(self.max_length - longest_cont + 1, 1)
        contexts = [list(ctx)[-room:] for ctx, _ in groups]   # left-truncate overlong contexts
        width = max(len(c) for c in contexts)
        lengths = torch.tensor([len(c) for c in contexts])
        ids = torch.full((len(groups), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(groups), width), dtype=torch.long)
        for g, ctx in enumerate(contexts):
            span = slice(width - len(ctx), width) if self.padding_side == "left" else slice(0, len(ctx))
            ids[g, span] = torch.tensor(ctx)
            mask[g, span] = 1
        ids, mask = ids.to(device), mask.to(device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        if self.padding_side == "left":   # every context ends at the last column
            keep: int | torch.Tensor = 1
            last = torch.zeros(len(groups), dtype=torch.long)
        else:                              # logits only at the distinct last positions
            ends = lengths - 1
            columns = torch.unique(ends)
            keep = columns.to(device)
            last = torch.searchsorted(columns, ends)
        out = self.model(
            input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=keep
        )
        first = out.logits[torch.arange(len(groups)), last.to(device)].float()   # predicts cont[0]
        next_position = (lengths.to(device))[:, None]

        rows = [(g, i) for g, (_, idxs) in enumerate(groups) for i in idxs]
        conts = [encoded[i][1] for _, i in rows]
        rest = None
        if longest_cont > 1:
            owner = torch.tensor([g for g, _ in rows], device=device)
            cache = out.past_key_values
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
                past_key_values=cache, use_cache=True,
            ).logits
        scored = []
        for r, ((g, index), cont) in enumerate(zip(rows, conts)):
            logits = first[g : g + 1]
            if len(cont) > 1:
                assert rest is not None
                logits = torch.cat([logits, rest[r, : len(cont) - 1].float()], dim=0)
            logprobs = torch.log_softmax(logits, dim=-1)
            target = torch.tensor(cont, device=device)
            chosen = logprobs.gather(1, target[:, None]).squeeze(1)
            top2 = logprobs.topk(2, dim=-1).values
            greedy = bool((logprobs.argmax(dim=-1) == target).all())
            ctx = contexts[g]
            scored.append((index, LoglikelihoodResult(
                logprob=float(chosen.sum()),
                is_greedy=greedy,
                n_tokens=len(cont),
                n_context_tokens=len(ctx),
                min_margin=float((top2[:, 0] - top2[:, 1]).min()),
                doubled_bos=has_doubled_bos(self.tokenizer, ctx),
            )))
        return scored

    # -- generation ----------------------------------------------------------------------------

    def generate(
        self, requests: list[Generate], batch_size: int | str, progress: Progress
    ) -> list[GenerationResult]:
        results: list[GenerationResult | None] = [None] * len(requests)
        greedy: dict[tuple, list[int]] = {}
        for i, r in enumerate(requests):
            if r.temperature == 0.0:
                greedy.setdefault((r.max_new_tokens, r.stop, r.bos), []).append(i)
            else:   # sampled: one at a time, so the request's own seed alone fixes the draw
                if progress.cancelled():
                    raise Cancelled()
                torch.manual_seed(r.sample_seed)   # its own stream: docs draw independently
                results[i] = self._generate_batch([r])[0]
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
                    outs = self._generate_batch([requests[i] for i in chunk])
                except RuntimeError as err:
                    if batch_size == "auto" and _is_oom(err) and size > 1:
                        size //= 2
                        continue
                    raise
                for i, out in zip(chunk, outs):
                    results[i] = out
                start += len(chunk)
                progress.advance(len(chunk))
        return complete(results, "transformers generate")

    @torch.inference_mode()
    def _generate_batch(self, batch: list[Generate]) -> list[GenerationResult]:
        from transformers import (
            GenerationConfig,
            StoppingCriteria,
            StoppingCriteriaList,
        )

        first = batch[0]
        prompts = [encode(self.tokenizer, r.prompt, r.bos) for r in batch]
        width = max(len(p) for p in prompts)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, p in enumerate(prompts):
            ids[row, width - len(p):] = torch.tensor(p)
            mask[row, width - len(p):] = 1
        tokenizer, stops = self.tokenizer, first.stop

        class StopStrings(StoppingCriteria):
            """Stops a row once its decoded text holds a stop string, even one merged into a token."""

            def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
                texts = tokenizer.batch_decode(input_ids[:, width:], skip_special_tokens=True)
                done = [any(s in t for s in stops) for t in texts]
                return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

        sampling = first.temperature > 0.0
        config = GenerationConfig(
            max_new_tokens=first.max_new_tokens,
            do_sample=sampling,
            temperature=first.temperature if sampling else None,
            top_p=first.top_p if sampling else None,
            top_k=0 if sampling else None,
            pad_token_id=self.pad_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )
        out = self.model.generate(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            generation_config=config,
            stopping_criteria=StoppingCriteriaList([StopStrings()]) if stops else None,
        )
        results = []
        eos = self.tokenizer.eos_token_id
        for row, p in enumerate(prompts):
            new = out[row, width:].tolist()
            ended_by_eos = eos is not None and eos in new
            if ended_by_eos:
                new = new[: new.index(eos)]
            while new and new[-1] == self.pad_id and self.pad_id != eos:
                new.pop()
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            cut = min((text.find(s) for s in stops if s in text), default=-1)
            if cut >= 0:
                text, reason = text[:cut], "stop"
            else:
                reason = "eos" if ended_by_eos else "length"
            results.append(GenerationResult(
                text=text, finish_reason=reason, n_tokens=len(new),
                n_prompt_tokens=len(p), doubled_bos=has_doubled_bos(self.tokenizer, p),
            ))
        return results
