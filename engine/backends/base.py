"""What every backend provides. The engine talks to backends only through these two protocols.

A backend is registered by name (`@backend("transformers")` in `scoregap.engine.backends`) and
its module is imported only when a setup names it, so importing the engine never imports torch.
The registered class is the `BackendType`: it loads a model (`load`), or only its tokenizer
(`load_tokenizer`: what rendering and tokenizing a prompt needs, without the weights), resolves a
device name and says whether it can run a given model at all (`accepts`). What `load` returns is
a `Backend`: it answers loglikelihood and generation requests in batches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from scoregap.engine.errors import InputError
from scoregap.engine.progress import Progress
from scoregap.engine.requests import (
    ContextTooLong,
    Generate,
    GenerationResult,
    Loglikelihood,
    LoglikelihoodResult,
)
from scoregap.engine.tokenization import encode, encode_pair

if TYPE_CHECKING:
    from scoregap.engine.model import ModelRef
    from scoregap.engine.setup import LoadingSpec


class Backend(Protocol):
    """A loaded model. Results come back in the order of the requests, one per request."""

    name: str
    tokenizer: Any
    tokens_fed: int
    """Token positions run through the model so far (what the work cost, for reports and benches)."""

    def loglikelihood(
        self, requests: list[Loglikelihood], batch_size: int | str, progress: Progress
    ) -> list[LoglikelihoodResult]: ...

    def generate(
        self, requests: list[Generate], batch_size: int | str, progress: Progress
    ) -> list[GenerationResult]: ...


class BackendType(Protocol):
    """The registered class of a backend: what the engine needs before a model is loaded."""

    name: str
    load_keys: tuple[str, ...]
    """The `[loading]` keys a loaded instance depends on: setups equal on these share one."""
    scope_keys: tuple[str, ...]
    """Its own loading keys that can change a result, beyond those every backend's cache scope
    holds (dtype, batch size, device, attention, padding)."""

    @classmethod
    def load(cls, model: ModelRef, loading: LoadingSpec) -> Backend: ...

    @classmethod
    def load_tokenizer(cls, model: ModelRef, loading: LoadingSpec) -> Any:
        """The model's tokenizer alone (a transformers-compatible object), for rendering prompts."""

    @classmethod
    def resolve_device(cls, device: str) -> str:
        """The device `loading.device` means here ("auto" resolved); part of every cache key."""

    @classmethod
    def accepts(cls, model: ModelRef) -> str:
        """'' when this backend can run the model, else one sentence saying why not."""

    @classmethod
    def versions(cls) -> dict[str, Any]:
        """The package versions (and hardware) its numbers depend on, for reports."""


def complete(results: list[Any], what: str) -> list[Any]:
    """The results of a batch call, after checking that every request got one.

    A backend fills a slot per request; an empty slot would shift every later result onto the
    wrong request, so it is a bug to stop on, never a row to drop."""
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        raise RuntimeError(f"{what}: no result for {len(missing)} of {len(results)} requests "
                           f"(first: #{missing[0]}); refusing to misalign results with requests.")
    return results


def encode_scored(tokenizer: Any, index: int, request: Loglikelihood, window: int) -> tuple[list[int], list[int]]:
    """(context, continuation) tokens of loglikelihood request `index` for a model that can be fed
    `window` tokens (the last continuation token is predicted, never fed). The context is cut on
    the left only if the request asks for it (lm-eval keeps the last window + 1 tokens)."""
    context, continuation = encode_pair(tokenizer, request.context, request.continuation, request.bos)
    if not continuation:
        raise InputError(
            f"The continuation {request.continuation!r} encodes to no tokens after its context; there "
            f"is nothing to score. Check prompt.target and target_delimiter.")
    fed = len(context) + len(continuation) - 1
    if fed <= window:
        return context, continuation
    room = window + 1 - len(continuation)
    if request.truncation != "left" or room < 1:
        raise ContextTooLong(index, fed, window)
    return context[-room:], continuation


def encode_generation(tokenizer: Any, index: int, request: Generate, window: int) -> list[int]:
    """The prompt tokens of generation request `index`, leaving room for its new tokens; cut on the
    left only if the request asks for it (lm-eval keeps the last window - max_new_tokens)."""
    prompt = encode(tokenizer, request.prompt, request.bos)
    room = window - request.max_new_tokens
    if len(prompt) <= room:
        return prompt
    if request.truncation != "left" or room < 1:
        raise ContextTooLong(index, len(prompt), window, request.max_new_tokens)
    return prompt[-room:]


def package_version(package: str) -> str | None:
    """The installed version of `package`, for reports (None when it is not installed)."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def without_config(model: ModelRef, what: str) -> str:
    """'' when the model directory holds a config.json, else why `what` cannot load it."""
    from pathlib import Path

    if not (Path(model.directory) / "config.json").is_file():
        return f"{model.directory} has no config.json: not {what}."
    return ""


def release_memory() -> None:
    """Return what a closed model held: Python's references first, then CUDA's cached blocks."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
