"""What the engine asks of a model, and what it gets back.

Requests are frozen values; their `key()` covers every field that changes the result, so two
variants that need the same model call share one cache entry. Results carry enough detail to
re-score them offline under any metric (see `engine/metrics.py`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property


def _digest(kind: str, fields: dict) -> str:
    payload = json.dumps([kind, fields], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Loglikelihood:
    """log P(continuation | context). `bos` is the setup's add_bos_token: "auto", "true" or "false"."""

    context: str
    continuation: str
    bos: str = "auto"

    def key(self) -> str:
        return self._key

    @cached_property
    def _key(self) -> str:   # computed once: the engine and the cache ask for it many times
        return _digest("loglikelihood", {"context": self.context, "continuation": self.continuation, "bos": self.bos})


@dataclass(frozen=True)
class Generate:
    """A completion of `prompt`, cut at the first stop string."""

    prompt: str
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 1234
    bos: str = "auto"

    def key(self) -> str:
        return self._key

    @cached_property
    def _key(self) -> str:
        fields = {"prompt": self.prompt, "max_new_tokens": self.max_new_tokens, "stop": list(self.stop),
                  "temperature": self.temperature, "top_p": self.top_p, "seed": self.seed, "bos": self.bos}
        if self.temperature == 0.0:
            # Greedy decoding ignores the sampling knobs: equal requests share a result.
            fields.update(top_p=1.0, seed=0)
        else:
            # Draws are seeded per request (sample_seed); results stored before that seeded every
            # request alike and must not be reused.
            fields["seeding"] = "per-request"
        return _digest("generate", fields)

    @cached_property
    def sample_seed(self) -> int:
        """The seed of this request's own random stream: the setup's generation seed and the
        request's prompt and settings, hashed. Every doc draws independently (one seed for all
        would correlate the draws of every doc), and the same request draws the same tokens
        whatever the batch, the order or the backend."""
        fields = {"seed": self.seed, "prompt": self.prompt, "max_new_tokens": self.max_new_tokens,
                  "stop": list(self.stop), "temperature": self.temperature, "top_p": self.top_p}
        return int(_digest("sample-seed", fields)[:8], 16) & 0x7FFFFFFF


Request = Loglikelihood | Generate


@dataclass(frozen=True)
class LoglikelihoodResult:
    logprob: float            # sum over continuation tokens, float32 log-softmax
    is_greedy: bool           # every continuation token was the argmax
    n_tokens: int             # continuation tokens scored
    n_context_tokens: int     # context tokens fed (including BOS)
    min_margin: float         # min over scored positions of (top-1 logit-prob - top-2), in log space
    doubled_bos: bool = False # the input began with two BOS tokens

    def to_json(self) -> dict:
        return dict(vars(self))


@dataclass(frozen=True)
class GenerationResult:
    text: str                 # the completion, cut before the first stop string
    finish_reason: str        # "stop" | "eos" | "length"
    n_tokens: int             # tokens generated (before cutting)
    n_prompt_tokens: int
    doubled_bos: bool = False

    def to_json(self) -> dict:
        return dict(vars(self))


Result = LoglikelihoodResult | GenerationResult


def result_from_json(data: dict) -> Result:
    if "logprob" in data:
        return LoglikelihoodResult(**data)
    return GenerationResult(**data)
