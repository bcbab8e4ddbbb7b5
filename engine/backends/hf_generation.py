"""Batched generation for the transformers backend: greedy or sampled decoding with lm-eval's
stop and length rules, and a guard that no NaN or infinite logit is ever decoded from.
"""

from __future__ import annotations

from typing import Any

import torch

from scoregap.engine.requests import Generate, GenerationResult, NonFiniteOutput
from scoregap.engine.tokenization import has_doubled_bos


def finite_logits() -> Any:
    """A logits processor that raises `NonFiniteOutput` (with the rows) at the first generation step
    whose raw logits hold a NaN or +inf, or are -inf throughout: greedy decoding would otherwise
    pick token 0 and sampling would fail inside torch. It runs before the temperature and top-p
    warpers, which legitimately write -inf, so only their input is judged."""
    from transformers import LogitsProcessor

    class FiniteLogits(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            bad = scores.isnan().any(-1) | scores.isposinf().any(-1) | scores.isneginf().all(-1)
            if bool(bad.any()):
                raise NonFiniteOutput(bad.nonzero()[:, 0].tolist(), "generation")
            return scores

    return FiniteLogits()


@torch.inference_mode()
def generate_batch(model: Any, tokenizer: Any, device: str, pad_id: int, batch: list[Generate],
                   prompts: list[list[int]]) -> tuple[list[GenerationResult], int]:
    """`batch` (one stop/length/temperature) generated together from its token `prompts`, padded
    left; each result read back up to EOS, decoded, and cut at the first stop string. Also the
    positions the model ran (prompts padded, and every step's row, finished or not)."""
    from transformers import (
        GenerationConfig,
        LogitsProcessorList,
        StoppingCriteria,
        StoppingCriteriaList,
    )

    first = batch[0]
    width = max(len(p) for p in prompts)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, p in enumerate(prompts):
        ids[row, width - len(p):] = torch.tensor(p)
        mask[row, width - len(p):] = 1
    stops = first.stop

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
        pad_token_id=pad_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    out = model.generate(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        generation_config=config,
        stopping_criteria=StoppingCriteriaList([StopStrings()]) if stops else None,
        logits_processor=LogitsProcessorList([finite_logits()]),
    )
    results = []
    eos = tokenizer.eos_token_id
    for row, p in enumerate(prompts):
        new = out[row, width:].tolist()
        ended_by_eos = eos is not None and eos in new
        if ended_by_eos:
            new = new[: new.index(eos)]
        while new and new[-1] == pad_id and pad_id != eos:
            new.pop()
        text = tokenizer.decode(new, skip_special_tokens=True)
        cut = min((text.find(s) for s in stops if s in text), default=-1)
        if cut >= 0:
            text, reason = text[:cut], "stop"
        else:
            reason = "eos" if ended_by_eos else "length"
        results.append(GenerationResult(
            text=text, finish_reason=reason, n_tokens=len(new),
            n_prompt_tokens=len(p), doubled_bos=has_doubled_bos(tokenizer, p),
        ))
    return results, out.numel()
