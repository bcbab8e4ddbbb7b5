"""Running setups: requests deduplicated, looked up in the cache, the rest computed and stored.

`Engine` is the one place where requests meet a backend. It deduplicates requests across every
setup it is given, answers what it can from the cache, loads the model only if something is
missing, computes the rest in batches committed to the cache as they finish, and counts the model
calls it made (tests and reports use `calls`).

Rendering a prompt needs the tokenizer (its chat template) but never the weights: the engine keeps
one tokenizer per model for that, so a fully cached evaluation, or the prompt shown in the app,
loads no model at all. `model_input` is the one way front ends see what the model is fed. Loading
the model is said through `Progress.stage` before it starts.

Only trustworthy numbers are stored. A backend that meets NaN or inf logits, or an input longer
than the model's window, raises for the first affected request of its batch; the engine, which
knows which doc each request belongs to, turns that into an `InputError` naming the model and the
doc, and caches nothing of the batch. A result that is not finite anyway (from any backend, or
stored by an older version) is never stored or used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scoregap.engine import metrics
from scoregap.engine.backends import get_backend
from scoregap.engine.backends.base import Backend
from scoregap.engine.cache import Cache
from scoregap.engine.errors import InputError
from scoregap.engine.events import loading_model
from scoregap.engine.model import BackendPool, ModelRef
from scoregap.engine.progress import NullProgress, Progress
from scoregap.engine.requests import (
    BackendOutputError,
    ContextTooLong,
    Generate,
    Loglikelihood,
    NonFiniteOutput,
    Request,
    Result,
    non_finite_fields,
    too_long,
)
from scoregap.engine.scoring import DocScore, PlannedDoc, aggregate, check_method, plan, score_doc
from scoregap.engine.setup import LoadingSpec, Setup
from scoregap.engine.tasks import Doc, Task, load_task
from scoregap.engine.tokenization import chat_renderer, encode, encode_pair

CHUNK = 1024  # requests per cache commit: a kill loses at most this much work


@dataclass
class Evaluation:
    setup: Setup
    task: Task
    planned: list[PlannedDoc]
    scores: list[DocScore]
    result: metrics.Aggregate
    seconds: float = 0.0

    @property
    def metric(self) -> str:
        return self.setup.scoring.metric


@dataclass
class Calls:
    """Model calls made by this engine (cache hits are not calls)."""

    loglikelihood: int = 0
    generate: int = 0
    cached: int = 0
    tokens: int = 0            # token positions the backends ran through the model (`tokens_fed`)
    per_scope: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.loglikelihood + self.generate


@dataclass(frozen=True)
class ModelInput:
    """What the model is fed for one doc: the text and its token ids (with the gold answer
    appended for multiple choice, tokenized as it is scored), and each token's text."""

    doc_id: int
    text: str
    tokens: tuple[tuple[int, str], ...]


class Engine:
    def __init__(self, model: ModelRef, cache: Cache, progress: Progress | None = None) -> None:
        self.model = model
        self.cache = cache
        self.progress: Progress = progress or NullProgress()
        self.pool = BackendPool()
        self.calls = Calls()
        self._tokenizers: dict[tuple, Any] = {}
        self._tokenizer_lock = threading.RLock()   # fast tokenizers are not safe across threads

    def backend(self, loading: LoadingSpec) -> Backend:
        return self.pool.get(self.model, loading)

    def scope(self, loading: LoadingSpec) -> str:
        """Everything outside a request that can change its result."""
        cls = get_backend(loading.backend)
        device = cls.resolve_device(loading.device).split(":")[0]
        return "|".join([
            self.model.fingerprint, loading.backend, loading.dtype, f"bs={loading.batch_size}",
            device, loading.attn_implementation, f"pad={loading.padding_side}",
            *(f"{key}={getattr(loading, key)}" for key in cls.scope_keys),
        ])

    def has_tokenizer(self, loading: LoadingSpec) -> bool:
        return (loading.backend, loading.trust_remote_code) in self._tokenizers

    def tokenizer(self, loading: LoadingSpec) -> Any:
        """The model's tokenizer for rendering prompts (loaded once; not the backend's own)."""
        key = (loading.backend, loading.trust_remote_code)
        with self._tokenizer_lock:
            if key not in self._tokenizers:
                self._tokenizers[key] = get_backend(loading.backend).load_tokenizer(self.model, loading)
            return self._tokenizers[key]

    def chat_renderer(self, setup: Setup) -> Any:
        if not setup.chat.apply_template:
            return None
        tokenizer = self.tokenizer(setup.loading)
        render = chat_renderer(tokenizer, self.model.name, self.model.directory)
        if render is None:
            return None

        def locked(messages: list[dict[str, str]]) -> str:
            with self._tokenizer_lock:
                return render(messages)

        return locked

    def model_input(self, setup: Setup, doc: Doc | None = None) -> ModelInput:
        """The exact input of one doc (the task's first by default) under `setup`."""
        task = load_task(setup.task, setup_source=setup.source)
        doc = doc or task.docs[0]
        planned = plan(setup, task, self.chat_renderer(setup), only=frozenset({doc.doc_id}))[0]
        prompt, bos = planned.prompt, setup.loading.add_bos_token
        tokenizer = self.tokenizer(setup.loading)
        with self._tokenizer_lock:
            if prompt.continuations:
                gold = doc.gold[0] if doc.gold else 0
                context, continuation = prompt.pair(gold if isinstance(gold, int) else 0)
                ctx, cont = encode_pair(tokenizer, context, continuation, bos)
                ids, text = ctx + cont, context + continuation
            else:
                ids, text = encode(tokenizer, prompt.context, bos), prompt.context
            pieces = tuple((i, tokenizer.decode([i])) for i in ids)
        return ModelInput(doc.doc_id, text, pieces)

    def run(self, requests: Sequence[Request], loading: LoadingSpec, label: str = "requests",
            owners: Mapping[str, str] | None = None) -> dict[str, Result]:
        """Results for every request, by request key; computes only what the cache lacks.
        `owners` names what each request (by key) belongs to ("doc 17 of census_mc") for messages."""
        scope = self.scope(loading)
        unique = {r.key(): r for r in requests}
        cache_keys = {k: Cache.key(scope, k) for k in unique}
        stored = self.cache.get_many(cache_keys.values())
        results = {k: stored[ck] for k, ck in cache_keys.items()
                   if ck in stored and not non_finite_fields(stored[ck])}   # a stored NaN is recomputed
        self.calls.cached += len(results)
        missing = [r for k, r in unique.items() if k not in results]
        if not missing:
            return results
        if not self.pool.holds(self.model, loading):
            self.progress.stage(loading_model(loading.backend))
        backend = self.backend(loading)
        self.progress.start(label, len(missing))
        try:
            for kind in (Loglikelihood, Generate):
                todo = [r for r in missing if isinstance(r, kind)]
                for start in range(0, len(todo), CHUNK):
                    chunk = todo[start : start + CHUNK]
                    outs = self._compute(backend, chunk, loading, owners or {})
                    self.calls.per_scope[scope] = self.calls.per_scope.get(scope, 0) + len(chunk)
                    fresh = {r.key(): out for r, out in zip(chunk, outs)}
                    self.cache.put_many({cache_keys[k]: v for k, v in fresh.items()})
                    results.update(fresh)
        finally:
            self.progress.finish()
        return results

    def _compute(self, backend: Backend, chunk: list[Any], loading: LoadingSpec,
                 owners: Mapping[str, str]) -> list[Result]:
        """One backend call: a result per request, each finite, or an `InputError` naming the doc."""
        fed = getattr(backend, "tokens_fed", 0)
        try:
            if isinstance(chunk[0], Loglikelihood):
                outs: list[Result] = list(backend.loglikelihood(chunk, loading.batch_size, self.progress))
                self.calls.loglikelihood += len(chunk)
            else:
                outs = list(backend.generate(chunk, loading.batch_size, self.progress))
                self.calls.generate += len(chunk)
            self.calls.tokens += getattr(backend, "tokens_fed", 0) - fed
        except BackendOutputError as err:
            if not 0 <= err.index < len(chunk):
                raise
            raise self._output_error(err, chunk[err.index], loading, owners, len(chunk)) from err
        if len(outs) != len(chunk):   # zip would pair results with the wrong requests
            raise RuntimeError(f"the {loading.backend} backend returned {len(outs)} results for "
                               f"{len(chunk)} requests; refusing to store misaligned results")
        spoiled = next((i for i, out in enumerate(outs) if non_finite_fields(out)), None)
        if spoiled is not None:   # a backend that did not check its logits itself
            raise self._output_error(NonFiniteOutput([spoiled], "loglikelihood"), chunk[spoiled], loading,
                                     owners, len(chunk))
        return outs

    def _output_error(self, err: BackendOutputError, request: Request, loading: LoadingSpec,
                      owners: Mapping[str, str], batch: int) -> InputError:
        """What the user reads when a backend could not give request a trustworthy result."""
        where = owners.get(request.key()) or _describe(request)
        model = f'The model "{self.model.name}" ({self.model.directory})'
        if isinstance(err, ContextTooLong):
            return InputError(f"{model}: {where} {too_long(err.n_tokens, err.limit, err.new_tokens)}")
        if isinstance(err, NonFiniteOutput):
            return InputError(f"{model} produced non-finite logits (NaN or inf) for {where}: "
                              f"{_nonfinite_causes(loading.dtype)} Nothing of that batch ({batch} requests) was "
                              f"cached.")
        return InputError(f"{model}: {where}: {err}")

    def plan(self, setup: Setup, limit: int = 0, only: frozenset[int] | None = None) -> tuple[Task, list[PlannedDoc]]:
        task = load_task(setup.task, setup_source=setup.source)
        limit = limit or setup.task.limit
        check_method(setup, task)
        return task, plan(setup, task, self.chat_renderer(setup), limit, only)

    def evaluate(self, setup: Setup, limit: int = 0, only: frozenset[int] | None = None) -> Evaluation:
        """Score `setup` on the first `limit` docs (0: the setup's task.limit, else all), or on
        the docs in `only` among them."""
        began = time.perf_counter()
        task, planned = self.plan(setup, limit, only)
        requests = [r for p in planned for r in p.requests]
        owners: dict[str, str] = {}
        for p in planned:
            for r in p.requests:
                owners.setdefault(r.key(), f"doc {p.doc.doc_id} of {task.name}")
        results = self.run(requests, setup.loading, label=f"{task.name}: {len(planned)} docs", owners=owners)
        scores = [score_doc(setup.scoring, p, [results[r.key()] for r in p.requests]) for p in planned]
        return Evaluation(setup, task, planned, scores, aggregate(setup.scoring, scores),
                          time.perf_counter() - began)


def _describe(request: Request) -> str:
    """A request named by the start of its text, when no doc is known for it."""
    text = request.context if isinstance(request, Loglikelihood) else request.prompt
    short = text if len(text) <= 60 else text[:57] + "..."
    return f"the request {short!r}"


def _nonfinite_causes(dtype: str) -> str:
    """The likely causes of NaN or inf logits, and what to try, given loading.dtype."""
    if dtype == "float32":
        return ("its weights are probably corrupt (a NaN or inf in a weight file): re-download the model, "
                "or check the weights with torch.isfinite.")
    return (f'its weights are probably corrupt, or loading.dtype = "{dtype}" overflows: try '
            f'loading.dtype = "float32", and re-download the model if that does not help.')
