"""The fake backend: a scripted model, so the diagnosis can be tested in seconds without torch.

Why it exists: screening, reconciliation, the noise floor and Holm's correction are statistics
over per-doc outcomes, and testing them on a real model costs minutes and gives gaps nobody
chose. A fake model is one TOML file, `fake-model.toml`: the eval docs it has memorised, how many
it "knows" (`skill`), by how much its pick wins (`margin`), how many picks are knife-edge
(`close`), how much numeric noise a dtype or batch size adds (`jitter`), and scripted
sensitivities (`[[effect]]`: "numbered labels cost 40% of the docs 3 nats"). A test then knows
the true cause of every gap it diagnoses.

Everything a result holds is a pure function of the request (the result cache shares results
between equal requests), and of dtype and batch size through jitter alone. Every pseudo-random
choice is a sha256 of the model's seed and named parts, never Python's `hash()`, so results are
the same in every process. Requests are tokenized through `engine/tokenization.py` with a small
GPT-2-like tokenizer, so BOS rules, chat templates and token counts behave as with a real model.

The file's format: engine/backends/fake_model.py.

Loglikelihood: the doc is the memorised question found last in the context (few-shot examples
come first); a continuation names a choice by its text, its label (A a 1 I; bare, "(A)", "[A]",
"A.", "A)", "A:") or a label and its text. A choice scores -0.5 per token - 0.3 u(doc, choice)
- margin (the shift keeps log-probabilities negative); the model's pick (the gold on the docs it
knows, else a wrong choice) then leads the best other by `margin`, or by 0.004 on `close` docs;
each effect whose regex matches adds `nats` to the gold on the docs it touches; jitter adds
jitter * (h - 0.5), h a hash of (request key, dtype, batch size). Generation writes `output`
with the gold answer when right (a known doc, unless an effect says otherwise) or a wrong one
(gold + 1..5 for a number); at temperature > 0 correctness flips with chance `sampling_flip`,
drawn from (seed, prompt). Stop strings, `max_new_tokens` and finish reasons are as in real
decoding: the stop string must lie within the first `max_new_tokens` tokens. A request the model's
`nonfinite` regex matches has NaN logits: the batch holding it raises `NonFiniteOutput` for the
first such request, and returns nothing.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scoregap.engine.backends import MARKERS, backend
from scoregap.engine.backends.base import complete
from scoregap.engine.backends.fake_model import (
    FakeModel,
    FakeTokenizer,
    MemorisedDoc,
    read_model,
    split_tokens,
    unit,
)
from scoregap.engine.errors import InputError
from scoregap.engine.progress import Cancelled, Progress
from scoregap.engine.prompts import ROMAN
from scoregap.engine.requests import (
    Generate,
    GenerationResult,
    Loglikelihood,
    LoglikelihoodResult,
    NonFiniteOutput,
)
from scoregap.engine.tokenization import encode, encode_pair, has_doubled_bos

if TYPE_CHECKING:
    from scoregap.engine.model import ModelRef
    from scoregap.engine.setup import LoadingSpec

MODEL_FILE = MARKERS["fake"]
AUTO_BATCH = 32
CLOSE_LEAD = 0.004        # nats by which a pick wins on a `close` doc
GREEDY_LEAD = 0.5         # a choice is "greedy" when it leads the others by more than this
NO_CHOICE_PENALTY = 2.0   # a continuation that names no choice is this much less likely
LABEL_SCHEMES = ("A", "a", "1", "I")


# -- reading requests --------------------------------------------------------------------------


class DocIndex:
    """Finds the memorised doc a text is about: the one whose question occurs last in it."""

    def __init__(self, docs: Sequence[MemorisedDoc]) -> None:
        self.width = min([16, *(len(d.question) for d in docs)])
        self.by_prefix: dict[str, list[MemorisedDoc]] = {}
        for d in docs:
            self.by_prefix.setdefault(d.question[: self.width], []).append(d)
        self.found: dict[str, MemorisedDoc | None] = {}

    def find(self, text: str) -> MemorisedDoc | None:
        if len(self.found) > 20_000:   # a long diagnosis renders many prompts; keep memory flat
            self.found.clear()
        if text not in self.found:
            self.found[text] = self._scan(text)
        return self.found[text]

    def _scan(self, text: str) -> MemorisedDoc | None:
        for start in range(len(text) - self.width, -1, -1):
            candidates = self.by_prefix.get(text[start : start + self.width])
            matches = [d for d in candidates or () if text.startswith(d.question, start)]
            if matches:
                return max(matches, key=lambda d: len(d.question))
        return None


def label(scheme: str, index: int) -> str | None:
    """The label of choice `index` in a scheme, or None when the scheme has no such label."""
    if scheme in ("A", "a"):
        return chr(ord(scheme) + index) if index < 26 else None
    if scheme == "1":
        return str(index + 1)
    return ROMAN[index] if index < len(ROMAN) else None


_LABEL_FORM = re.compile(r"\((\w+)\)|\[(\w+)\]|(\w+)[.):]?")


@dataclass(frozen=True)
class Naming:
    """How a continuation names choice `index`: `prefix + piece + suffix`, where the piece is the
    choice's text (scheme "text") or its label in a label scheme."""

    index: int
    prefix: str
    suffix: str
    scheme: str

    def sibling(self, j: int, choices: Sequence[str]) -> str:
        """The same continuation naming choice j instead (what the prompt gives choice j)."""
        if self.scheme != "text":
            return self.prefix + (label(self.scheme, j) or "") + self.suffix
        return _relabel(self.prefix, self.index, j) + choices[j] + self.suffix


def _relabel(prefix: str, i: int, j: int) -> str:
    """A label+text prefix ("A. ") with choice i's label replaced by choice j's."""
    for scheme in LABEL_SCHEMES:
        old, new = label(scheme, i), label(scheme, j)
        m = re.search(rf"(?<![A-Za-z0-9]){re.escape(old or '')}(?![A-Za-z0-9])", prefix) if old else None
        if m and new:
            return prefix[: m.start()] + new + prefix[m.end():]
    return prefix


@functools.lru_cache(maxsize=65536)
def name_choice(continuation: str, choices: tuple[str, ...]) -> Naming | None:
    """Which choice a continuation names: its text, its label (A a 1 I, bare or wrapped), or a
    label followed by its text; None when it names none."""
    body = continuation.strip()
    lead = continuation[: len(continuation) - len(continuation.lstrip())]
    trail = continuation[len(lead) + len(body):]
    if body in choices:
        return Naming(choices.index(body), lead, trail, "text")
    m = _LABEL_FORM.fullmatch(body)
    if m:
        group = next(g for g in (1, 2, 3) if m.group(g) is not None)
        for scheme in LABEL_SCHEMES:
            for j in range(len(choices)):
                if label(scheme, j) == m.group(group):
                    before, after = lead + body[: m.start(group)], body[m.end(group):] + trail
                    return Naming(j, before, after, scheme)
    ends = [j for j, c in enumerate(choices) if c and body.endswith(c)]
    if ends:
        j = max(ends, key=lambda k: len(choices[k]))
        return Naming(j, lead + body[: len(body) - len(choices[j])], trail, "text")
    return None


# -- the backend -------------------------------------------------------------------------------


def _text(request: Loglikelihood | Generate) -> str:
    """What the model reads of a request (its `nonfinite` regex is matched against it)."""
    if isinstance(request, Loglikelihood):
        return request.context + request.continuation
    return request.prompt


def _model_file(model: ModelRef) -> Path:
    return Path(model.directory) / MODEL_FILE


@backend("fake")
class FakeBackend:
    name = "fake"
    load_keys = ("dtype", "device", "attn_implementation", "padding_side", "trust_remote_code")
    scope_keys: tuple[str, ...] = ()

    @classmethod
    def load(cls, model: ModelRef, loading: LoadingSpec) -> FakeBackend:
        return cls(read_model(_model_file(model)), dtype=loading.dtype, name_or_path=model.directory)

    @classmethod
    def load_tokenizer(cls, model: ModelRef, loading: LoadingSpec) -> FakeTokenizer:
        return FakeTokenizer(read_model(_model_file(model)).chat_template, model.directory)

    @classmethod
    def resolve_device(cls, device: str) -> str:
        return "cpu"

    @classmethod
    def accepts(cls, model: ModelRef) -> str:
        if not _model_file(model).is_file():
            return f"{model.directory} has no {MODEL_FILE}: not a fake model."
        return ""

    @classmethod
    def versions(cls) -> dict[str, Any]:
        return {"fake_backend": 1}

    def __init__(self, model: FakeModel, *, dtype: str = "float32", name_or_path: str = "") -> None:
        self.model = model
        self.dtype = dtype
        self.tokenizer = FakeTokenizer(model.chat_template, name_or_path)
        self.index = DocIndex(model.docs)
        self._values: dict[tuple, list[float]] = {}
        self._pairs: dict[tuple[str, str, str], tuple[list[int], list[int]]] = {}

    def _batched(self, requests: Sequence[Any], batch_size: int | str, progress: Progress,
                 answer: Any, what: str) -> list[Any]:
        size = AUTO_BATCH if batch_size == "auto" else int(batch_size)
        results: list[Any] = [None] * len(requests)
        for start in range(0, len(requests), size):
            if progress.cancelled():
                raise Cancelled()
            chunk = requests[start : start + size]
            spoiled = [start + j for j, r in enumerate(chunk) if self.model.spoils(_text(r))]
            if spoiled:   # as with real NaN logits: the batch fails, naming its first victim
                kind = "loglikelihood" if isinstance(chunk[0], Loglikelihood) else "generation"
                raise NonFiniteOutput(spoiled, kind)
            results[start : start + len(chunk)] = [answer(r, size) for r in chunk]
            progress.advance(len(chunk))
        return complete(results, what)

    # -- loglikelihood -------------------------------------------------------------------------

    def loglikelihood(
        self, requests: list[Loglikelihood], batch_size: int | str, progress: Progress
    ) -> list[LoglikelihoodResult]:
        self._values.clear()   # siblings of one question arrive together; older ones are done
        self._pairs.clear()
        return self._batched(requests, batch_size, progress, self._score, "fake loglikelihood")

    def _pair(self, context: str, continuation: str, bos: str) -> tuple[list[int], list[int]]:
        """`encode_pair`, once per pair in a call (a choice is also every sibling's sibling)."""
        key = (context, continuation, bos)
        if key not in self._pairs:
            self._pairs[key] = encode_pair(self.tokenizer, context, continuation, bos)
        return self._pairs[key]

    def _jitter(self, request: Loglikelihood, batch: int) -> float:
        if not self.model.jitter:
            return 0.0
        return self.model.jitter * (unit(self.model.seed, "jitter", request.key(), self.dtype, batch) - 0.5)

    def _base(self, n_tokens: int, *name: object) -> float:
        return -0.5 * n_tokens - 0.3 * unit(self.model.seed, "u", *name) - self.model.margin

    def _score(self, r: Loglikelihood, batch: int) -> LoglikelihoodResult:
        ctx, cont = self._pair(r.context, r.continuation, r.bos)
        if not cont:
            raise InputError(
                f"The continuation {r.continuation!r} encodes to no tokens after its context; "
                f"there is nothing to score. Check prompt.target and target_delimiter.")
        doc = self.index.find(r.context) if r.context else None
        naming = name_choice(r.continuation, doc.choices) if doc and doc.choices else None
        if doc is not None and naming is not None:
            values = self._choice_values(r, doc, naming, batch)
            i, gold = naming.index, int(doc.answer)
            top = max(range(len(values)), key=values.__getitem__)
            ranked = sorted(values, reverse=True)
            lead = ranked[0] - ranked[1] if len(ranked) > 1 else self.model.margin
            margin = lead if i in (top, gold) else values[top] - values[i]
            logprob, greedy = values[i], i == top and lead > GREEDY_LEAD
        else:
            what = "unconditional" if not r.context else doc.question if doc else r.context
            logprob = self._base(len(cont), what, r.continuation.strip()) + self._jitter(r, batch)
            logprob -= NO_CHOICE_PENALTY if doc is not None else 0.0
            margin, greedy = NO_CHOICE_PENALTY, False
        return LoglikelihoodResult(logprob=logprob, is_greedy=greedy, n_tokens=len(cont),
                                   n_context_tokens=len(ctx), min_margin=margin,
                                   doubled_bos=has_doubled_bos(self.tokenizer, ctx))

    def _choice_values(self, r: Loglikelihood, doc: MemorisedDoc, naming: Naming, batch: int) -> list[float]:
        """Every choice's loglikelihood under this request's rendering (cached per question)."""
        siblings = [naming.sibling(j, doc.choices) for j in range(len(doc.choices))]
        key = (r.context, tuple(siblings), r.bos, batch)
        if key not in self._values:
            m = self.model
            values = [self._base(len(self._pair(r.context, s, r.bos)[1]), doc.question, j)
                      for j, s in enumerate(siblings)]
            pick, gold = m.pick(doc), int(doc.answer)
            others = [v for j, v in enumerate(values) if j != pick]
            if others:
                values[pick] = max(others) + (CLOSE_LEAD if m.is_close(doc) else m.margin)
            values[gold] += sum(e.nats for e in m.effects if e.touches(r.context, m.seed, doc))
            self._values[key] = [v + self._jitter(Loglikelihood(r.context, s, r.bos), batch)
                                 for v, s in zip(values, siblings)]
        return self._values[key]

    # -- generation ----------------------------------------------------------------------------

    def generate(
        self, requests: list[Generate], batch_size: int | str, progress: Progress
    ) -> list[GenerationResult]:
        return self._batched(requests, batch_size, progress, self._generate, "fake generate")

    def _written(self, r: Generate) -> str:
        """What the model writes for a prompt, before stop strings and the token limit."""
        m, doc = self.model, self.index.find(r.prompt)
        if doc is None:
            return m.output.replace("{answer}", "unknown")
        correct, template = m.knows(doc), m.output
        for effect in m.effects:
            if effect.touches(r.prompt, m.seed, doc):
                correct = effect.nats > 0 if effect.nats else correct
                template = effect.output or template
        if r.temperature > 0.0:
            draw = random.Random(int(unit(m.seed, "sample", r.sample_seed) * 2**53)).random()
            correct = correct != (draw < m.sampling_flip)
        return template.replace("{answer}", doc.gold_text if correct else self._wrong(doc))

    def _wrong(self, doc: MemorisedDoc) -> str:
        gold, draw = doc.gold_text, unit(self.model.seed, "wrong answer", doc.question)
        if re.fullmatch(r"-?\d+", gold.strip()):
            return str(int(gold) + 1 + int(draw * 5))
        others = [c for c in doc.choices if c != gold]
        return others[int(draw * len(others))] if others else "unknown"

    def _generate(self, r: Generate, batch: int) -> GenerationResult:
        prompt = encode(self.tokenizer, r.prompt, r.bos)
        pieces = split_tokens(self._written(r))
        kept = "".join(pieces[: r.max_new_tokens])
        cut = min((kept.find(s) for s in r.stop if s in kept), default=-1)
        if cut >= 0:
            end = cut + len(next(s for s in r.stop if kept.find(s) == cut))
            n = next((i for i, total in enumerate(accumulate(map(len, pieces)), 1) if total >= end), 0)
            reason, text = "stop", kept[:cut]
        elif len(pieces) > r.max_new_tokens:
            n, reason, text = r.max_new_tokens, "length", kept
        else:
            n, reason, text = len(pieces), "eos", kept
        return GenerationResult(text=text, finish_reason=reason, n_tokens=n, n_prompt_tokens=len(prompt),
                                doubled_bos=has_doubled_bos(self.tokenizer, prompt))

