"""Running setups: requests deduplicated, looked up in the cache, the rest computed and stored.

`Engine` is the one place where requests meet a backend. It deduplicates requests across every
setup it is given, answers what it can from the cache, loads the model only if something is
missing, computes the rest in batches committed to the cache as they finish, and counts the model
calls it made (tests and reports use `calls`).

Rendering a prompt needs the tokenizer (its chat template) but never the weights: the engine keeps
one tokenizer per model for that, so a fully cached evaluation, or the prompt shown in the app,
loads no model at all. `model_input` is the one way front ends see what the model is fed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from scoregap.engine import metrics
from scoregap.engine.backends import get_backend
from scoregap.engine.backends.base import Backend
from scoregap.engine.cache import Cache
from scoregap.engine.errors import InputError
from scoregap.engine.model import BackendPool, ModelRef
from scoregap.engine.progress import NullProgress, Progress
from scoregap.engine.requests import Generate, Loglikelihood, Request, Result
from scoregap.engine.scoring import DocScore, PlannedDoc, aggregate, plan, score_doc
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
        device = get_backend(loading.backend).resolve_device(loading.device).split(":")[0]
        return "|".join([
            self.model.fingerprint, loading.backend, loading.dtype, f"bs={loading.batch_size}",
            device, loading.attn_implementation, f"pad={loading.padding_side}",
        ])

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
        render = chat_renderer(tokenizer)
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
                continuation = prompt.continuations[gold if isinstance(gold, int) else 0]
                ctx, cont = encode_pair(tokenizer, prompt.context, continuation, bos)
                ids, text = ctx + cont, prompt.context + continuation
            else:
                ids, text = encode(tokenizer, prompt.context, bos), prompt.context
            pieces = tuple((i, tokenizer.decode([i])) for i in ids)
        return ModelInput(doc.doc_id, text, pieces)

    def run(self, requests: Sequence[Request], loading: LoadingSpec, label: str = "requests") -> dict[str, Result]:
        """Results for every request, by request key; computes only what the cache lacks."""
        scope = self.scope(loading)
        unique = {r.key(): r for r in requests}
        cache_keys = {k: Cache.key(scope, k) for k in unique}
        stored = self.cache.get_many(cache_keys.values())
        results = {k: stored[ck] for k, ck in cache_keys.items() if ck in stored}
        self.calls.cached += len(results)
        missing = [r for k, r in unique.items() if k not in results]
        if not missing:
            return results
        backend = self.backend(loading)
        self.progress.start(label, len(missing))
        try:
            for kind in (Loglikelihood, Generate):
                todo = [r for r in missing if isinstance(r, kind)]
                for start in range(0, len(todo), CHUNK):
                    chunk = todo[start : start + CHUNK]
                    if kind is Loglikelihood:
                        outs = backend.loglikelihood(chunk, loading.batch_size, self.progress)
                        self.calls.loglikelihood += len(chunk)
                    else:
                        outs = backend.generate(chunk, loading.batch_size, self.progress)
                        self.calls.generate += len(chunk)
                    if len(outs) != len(chunk):   # zip would pair results with the wrong requests
                        raise RuntimeError(f"the {loading.backend} backend returned {len(outs)} results for "
                                           f"{len(chunk)} requests; refusing to store misaligned results")
                    self.calls.per_scope[scope] = self.calls.per_scope.get(scope, 0) + len(chunk)
                    fresh = {r.key(): out for r, out in zip(chunk, outs)}
                    self.cache.put_many({cache_keys[k]: v for k, v in fresh.items()})
                    results.update(fresh)
        finally:
            self.progress.finish()
        return results

    def plan(self, setup: Setup, limit: int = 0, only: frozenset[int] | None = None) -> tuple[Task, list[PlannedDoc]]:
        task = load_task(setup.task, setup_source=setup.source)
        limit = limit or setup.task.limit
        if task.kind == "multiple_choice" and setup.scoring.method != "loglikelihood":
            raise InputError(
                f"{setup.source or 'The setup'}: the task {task.name} is multiple choice; score it "
                f'with scoring.method = "loglikelihood" (generative multiple choice needs a '
                f"generate task with an extract step)."
            )
        if task.kind == "generate" and setup.scoring.method != "generate":
            raise InputError(
                f'{setup.source or "The setup"}: the task {task.name} is a generate task; it needs '
                f'scoring.method = "generate" and a generative metric such as exact_match.'
            )
        return task, plan(setup, task, self.chat_renderer(setup), limit, only)

    def evaluate(self, setup: Setup, limit: int = 0, only: frozenset[int] | None = None) -> Evaluation:
        """Score `setup` on the first `limit` docs (0: the setup's task.limit, else all), or on
        the docs in `only` among them."""
        began = time.perf_counter()
        task, planned = self.plan(setup, limit, only)
        requests = [r for p in planned for r in p.requests]
        results = self.run(requests, setup.loading, label=f"{task.name}: {len(planned)} docs")
        scores = [score_doc(setup.scoring, p, [results[r.key()] for r in p.requests]) for p in planned]
        return Evaluation(setup, task, planned, scores, aggregate(setup.scoring, scores),
                          time.perf_counter() - began)
