"""What the engine asks of a model, and what it gets back.

Requests are frozen values; their `key()` covers every field that changes the result, so two
variants that need the same model call share one cache entry. Results carry enough detail to
re-score them offline under any metric (see `engine/metrics.py`).

A backend that cannot give a trustworthy result for a request says so with one of the errors
below, carrying the index of the first affected request of its call, instead of returning a
number: NaN or inf logits (`NonFiniteOutput`: corrupt weights, a dtype that overflows) or an input
longer than the model's window (`ContextTooLong`). Only the engine knows which doc a request
belongs to, so it turns them into the message the user reads (engine/evaluate.py); they are
`InputError`s themselves so that a backend used on its own still fails with a paragraph, never a
silently wrong number.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from scoregap.engine.errors import InputError

TRUNCATIONS = ("error", "left")
"""What a backend does with an input longer than the model's window: refuse it (`ContextTooLong`)
or drop its oldest tokens as lm-evaluation-harness does."""


def _digest(kind: str, fields: dict) -> str:
    payload = json.dumps([kind, fields], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Loglikelihood:
    """log P(continuation | context). `bos` is the setup's add_bos_token: "auto", "true" or "false"."""

    context: str
    continuation: str
    bos: str = "auto"
    truncation: str = "error"   # "left": an overlong input keeps its last tokens (lm-eval's rule)

    def key(self) -> str:
        return self._key

    @cached_property
    def _key(self) -> str:   # computed once: the engine and the cache ask for it many times
        fields = {"context": self.context, "continuation": self.continuation, "bos": self.bos}
        if self.truncation != "error":   # the default adds nothing: keys stored before it stay valid
            fields["truncation"] = self.truncation
        return _digest("loglikelihood", fields)


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
    truncation: str = "error"   # "left": an overlong prompt keeps its last tokens (lm-eval's rule)

    def key(self) -> str:
        return self._key

    @cached_property
    def _key(self) -> str:
        fields = {"prompt": self.prompt, "max_new_tokens": self.max_new_tokens, "stop": list(self.stop),
                  "temperature": self.temperature, "top_p": self.top_p, "seed": self.seed, "bos": self.bos}
        if self.truncation != "error":
            fields["truncation"] = self.truncation
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


def non_finite_fields(result: Result) -> tuple[str, ...]:
    """The fields of a result that are NaN or infinite (none, for a trustworthy result)."""
    return tuple(k for k, v in vars(result).items() if isinstance(v, float) and not math.isfinite(v))


# -- what a backend raises instead of returning an untrustworthy result -------------------------


class BackendOutputError(InputError):
    """Request `index` of a backend call (the first affected one) got no trustworthy result."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


class NonFiniteOutput(BackendOutputError):
    """The model's logits were NaN or infinite for the requests at `indices` of a call (`what`:
    "loglikelihood" or "generation"); `index` is the first. Nothing of the call is returned, so
    nothing of it can be cached."""

    def __init__(self, indices: Sequence[int], what: str) -> None:
        index = min(indices)
        super().__init__(index, f"The model produced non-finite logits (NaN or inf) for {what} request "
                                f"#{index} of this batch: its weights are probably corrupt, or the dtype "
                                f'overflows (try loading.dtype = "float32").')
        self.indices, self.what = tuple(sorted(indices)), what


class ContextTooLong(BackendOutputError):
    """Request `index` needs `n_tokens` positions (its input, plus `new_tokens` to generate), more
    than the model's window of `limit` tokens, and its `truncation` is "error"."""

    def __init__(self, index: int, n_tokens: int, limit: int, new_tokens: int = 0) -> None:
        super().__init__(index, f"Request #{index} of this batch {too_long(n_tokens, limit, new_tokens)}")
        self.n_tokens, self.limit, self.new_tokens = n_tokens, limit, new_tokens


def too_long(n_tokens: int, limit: int, new_tokens: int = 0) -> str:
    """What is too long and what to do, after the name of a request or a doc."""
    if new_tokens >= limit:
        return (f"asks for generation.max_new_tokens = {new_tokens}, which leaves no room for a prompt "
                f"in the model's window of {limit} tokens. Lower generation.max_new_tokens well below "
                f"{limit}.")
    if new_tokens:
        need = (f"has a prompt of {n_tokens} tokens; with generation.max_new_tokens = {new_tokens} it "
                f"needs {n_tokens + new_tokens} positions, more than the model's window of {limit}")
        fixes = "lower generation.max_new_tokens, shorten the prompt (fewer shots: fewshot.k)"
    else:
        need = (f"is {n_tokens} tokens long (context and continuation, as fed to the model), more than "
                f"the model's window of {limit}")
        fixes = "shorten the prompt (fewer shots: fewshot.k)"
    return (f"{need} (from its config.json). Nothing was truncated: {fixes}, or set "
            f'loading.truncation = "left" to drop the oldest tokens as lm-evaluation-harness does.')
