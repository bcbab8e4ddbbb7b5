"""From raw model outputs to per-doc scores, under any metric — without the model.

`plan` turns a setup into the requests each doc needs; `score_doc` turns their stored results into
scores. Because results keep every per-choice loglikelihood and every generation, a metric,
extraction, normalization or aggregation variant is only a second call to `score_doc`: zero model
calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scoregap.engine import answers, metrics
from scoregap.engine.errors import InputError
from scoregap.engine.prompts import ChatRenderer, Prompt, PromptBuilder
from scoregap.engine.requests import (
    Generate,
    GenerationResult,
    Loglikelihood,
    LoglikelihoodResult,
    Request,
    Result,
)
from scoregap.engine.setup import ScoringSpec, Setup
from scoregap.engine.tasks import Doc, Task

MC_FREE_METRICS = ("acc", "acc_norm", "acc_bytes", "acc_token", "mc2")


@dataclass(frozen=True)
class PlannedDoc:
    doc: Doc
    prompt: Prompt
    requests: tuple[Request, ...]          # choices first, then unconditional ones (mutual info)


def check_method(setup: Setup, task: Task) -> None:
    """Refuse a scoring method the task's kind cannot take (before any doc is planned)."""
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


def plan(
    setup: Setup, task: Task, chat: ChatRenderer | None, limit: int = 0, only: frozenset[int] | None = None
) -> list[PlannedDoc]:
    """Render every doc (up to `limit`, or those in `only`) and list the requests it needs."""
    builder = PromptBuilder(setup, task, chat)
    docs = task.docs[:limit] if limit else task.docs
    if only is not None:
        docs = tuple(d for d in docs if d.doc_id in only)
    bos, cut = setup.loading.add_bos_token, truncation(setup)
    planned = []
    for doc in docs:
        prompt = builder.render(doc)
        if task.kind == "multiple_choice":
            requests: list[Request] = [Loglikelihood(*prompt.pair(i), bos, cut) for i in range(len(prompt.continuations))]
            if setup.scoring.metric == "acc_mutual_info":
                requests += [Loglikelihood("", c, bos, cut) for c in prompt.continuations]
        else:
            g = setup.generation
            requests = [Generate(prompt.context, g.max_new_tokens, tuple(g.stop), g.temperature, g.top_p, g.seed,
                                 bos, cut)]
        planned.append(PlannedDoc(doc, prompt, tuple(requests)))
    return planned


def truncation(setup: Setup) -> str:
    """`loading.truncation` ("error" unless the setup asks for lm-eval's "left"): what a backend
    does with an input longer than the model's window."""
    return setup.loading.truncation


@dataclass(frozen=True)
class DocScore:
    doc_id: int
    subtask: str
    score: float                           # under the setup's metric
    scores: dict[str, float] = field(default_factory=dict)
    extracted: Any = None                  # predicted choice index, or the extracted answer
    raw: dict[str, Any] = field(default_factory=dict)   # what samples.jsonl shows of the outputs


def score_doc(scoring: ScoringSpec, planned: PlannedDoc, results: Sequence[Result]) -> DocScore:
    doc, prompt = planned.doc, planned.prompt
    if isinstance(results[0], LoglikelihoodResult):
        return _score_choices(scoring, doc, prompt, results)  # type: ignore[arg-type]
    return _score_generation(scoring, doc, results[0])        # type: ignore[arg-type]


def _score_choices(
    scoring: ScoringSpec, doc: Doc, prompt: Prompt, results: Sequence[LoglikelihoodResult]
) -> DocScore:
    n = len(prompt.targets)
    conditional, unconditional = results[:n], results[n:]
    lls = [r.logprob for r in conditional]
    kwargs: dict[str, Any] = {"n_tokens": [r.n_tokens for r in conditional]}
    if unconditional:
        kwargs["unconditional"] = [r.logprob for r in unconditional]
    names = MC_FREE_METRICS + (("acc_mutual_info",) if unconditional else ())
    scores = {m: metrics.score_choices(m, lls, prompt.targets, doc.gold, **kwargs) for m in names}
    if scoring.metric not in scores:
        raise ValueError(f"metric {scoring.metric} needs requests that were not planned")
    return DocScore(
        doc.doc_id, doc.subtask, scores[scoring.metric], scores,
        extracted=metrics.predicted_choice(scoring.metric, lls, prompt.targets, **kwargs),
        raw={
            "loglikelihoods": lls,
            "is_greedy": [r.is_greedy for r in conditional],
            "n_tokens": [r.n_tokens for r in conditional],
            "min_margin": min(r.min_margin for r in conditional),
            "doubled_bos": any(r.doubled_bos for r in conditional),
            **({"unconditional": kwargs["unconditional"]} if unconditional else {}),
        },
    )


def prediction(scoring: ScoringSpec, text: str) -> str:
    return answers.normalize(answers.extract(text, scoring.extract), scoring.normalize)


def _score_generation(scoring: ScoringSpec, doc: Doc, result: GenerationResult) -> DocScore:
    predicted = prediction(scoring, result.text)
    golds = [answers.normalize(g, scoring.normalize) for g in doc.gold]  # type: ignore[arg-type]
    scores = {m: metrics.score_generation(m, predicted, golds) for m in metrics.GEN_METRICS if m != "math_equiv"}
    if scoring.metric == "math_equiv":
        scores["math_equiv"] = metrics.score_generation("math_equiv", predicted, golds)
    return DocScore(
        doc.doc_id, doc.subtask, scores[scoring.metric], scores, extracted=predicted,
        raw={"generation": result.text, "finish_reason": result.finish_reason, "n_tokens": result.n_tokens,
             "doubled_bos": result.doubled_bos},
    )


@dataclass(frozen=True)
class OutputStats:
    """What a run's stored outputs show beyond the score: how generations ended, and how many
    inputs began with a doubled BOS token. Counted from the outputs, at no model cost."""

    n: int
    stop: int = 0                    # generations cut at a stop sequence
    eos: int = 0                     # ended by the model (EOS)
    length: int = 0                  # hit max_new_tokens: possibly truncated
    doubled_bos: int = 0             # docs whose input began with two BOS tokens

    @property
    def generated(self) -> int:
        return self.stop + self.eos + self.length

    def rate(self, count: int) -> float:
        return count / self.n if self.n else 0.0


def describe_outputs(o: OutputStats) -> str:
    """What stored outputs show, in words: how generations ended, and doubled BOS tokens."""
    parts = []
    if o.generated:
        parts.append(f"{100 * o.rate(o.stop):.1f}% of generations stopped at a stop sequence, "
                     f"{100 * o.rate(o.eos):.1f}% ended with EOS, {100 * o.rate(o.length):.1f}% hit "
                     f"max_new_tokens (possibly truncated)")
    if o.doubled_bos:
        parts.append(f"{o.doubled_bos} of {o.n} inputs began with a doubled BOS token")
    elif o.n:
        parts.append("no input began with a doubled BOS token")
    return "; ".join(parts) + "." if parts else ""


def output_stats(scores: Sequence[DocScore]) -> OutputStats:
    reasons = [s.raw.get("finish_reason") for s in scores]
    return OutputStats(
        n=len(scores), stop=reasons.count("stop"), eos=reasons.count("eos"), length=reasons.count("length"),
        doubled_bos=sum(1 for s in scores if s.raw.get("doubled_bos")),
    )


def aggregate(scoring: ScoringSpec, scores: Sequence[DocScore]) -> metrics.Aggregate:
    return metrics.aggregate(
        [s.score for s in scores], [s.subtask for s in scores], how=scoring.aggregate
    )


def doc_weights(scores: Sequence[DocScore], how: str) -> dict[int, float]:
    """Each doc's weight in an aggregate: 1 (micro), or n / (k · docs in its subtask) (macro),
    so that the plain mean of weighted per-doc scores is the aggregate."""
    if how != "macro":
        return {s.doc_id: 1.0 for s in scores}
    return dict(zip((s.doc_id for s in scores), _macro([s.subtask for s in scores])))


def _macro(subtasks: list[str]) -> list[float]:
    counts: dict[str, int] = {}
    for s in subtasks:
        counts[s] = counts.get(s, 0) + 1
    n, k = len(subtasks), len(counts)
    return [n / (k * counts[s]) for s in subtasks]


def reread(name: str, planned: Sequence[PlannedDoc], scores: Sequence[DocScore],
           weights: dict[int, float]) -> list[float]:
    """Per-doc outputs read on another scale or average (no model calls). A scale keeps the
    given aggregation weights; "micro" and "macro" replace them."""
    values = [s.score for s in scores]
    if name == "micro":
        return values
    if name == "macro":
        return [v * w for v, w in zip(values, _macro([s.subtask for s in scores]))]
    w = [weights.get(s.doc_id, 1.0) for s in scores]
    if name == "rescaled":   # the Open LLM Leaderboard's normalization: chance maps to 0
        out = []
        for p, v, weight in zip(planned, values, w):
            chance = 1.0 / max(len(p.doc.choices), 2)
            out.append(weight * (v - chance) / (1.0 - chance))
        return out
    if name == "percent":
        return [v * 100.0 * weight for v, weight in zip(values, w)]
    raise ValueError(name)
