"""From raw model outputs to per-doc scores, under any metric — without the model.

`plan` turns a setup into the requests each doc needs; `score_doc` turns their stored results into
scores. Because results keep every per-choice loglikelihood and every generation, a metric,
extraction, normalization or aggregation variant is only a second call to `score_doc`: zero model
calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from scoregap.engine import answers, metrics
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

MC_FREE_METRICS = ("acc", "acc_norm", "acc_bytes", "acc_token")


@dataclass(frozen=True)
class PlannedDoc:
    doc: Doc
    prompt: Prompt
    requests: tuple[Request, ...]          # choices first, then unconditional ones (mutual info)


def plan(
    setup: Setup, task: Task, chat: ChatRenderer | None, limit: int = 0, only: frozenset[int] | None = None
) -> list[PlannedDoc]:
    """Render every doc (up to `limit`, or those in `only`) and list the requests it needs."""
    builder = PromptBuilder(setup, task, chat)
    docs = task.docs[:limit] if limit else task.docs
    if only is not None:
        docs = tuple(d for d in docs if d.doc_id in only)
    bos = setup.loading.add_bos_token
    planned = []
    for doc in docs:
        prompt = builder.render(doc)
        if task.kind == "multiple_choice":
            requests: list[Request] = [Loglikelihood(prompt.context, c, bos) for c in prompt.continuations]
            if setup.scoring.metric == "acc_mutual_info":
                requests += [Loglikelihood("", c, bos) for c in prompt.continuations]
        else:
            g = setup.generation
            requests = [Generate(prompt.context, g.max_new_tokens, tuple(g.stop), g.temperature, g.top_p, g.seed, bos)]
        planned.append(PlannedDoc(doc, prompt, tuple(requests)))
    return planned


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
        raw={"generation": result.text, "finish_reason": result.finish_reason, "n_tokens": result.n_tokens},
    )


def aggregate(scoring: ScoringSpec, scores: Sequence[DocScore]) -> metrics.Aggregate:
    return metrics.aggregate(
        [s.score for s in scores], [s.subtask for s in scores], how=scoring.aggregate
    )
