"""Metrics and their aggregation, computed from stored raw outputs so that changing one is free.

The `metric` check asks whether the reported number used another metric than yours: acc versus
acc_norm on HellaSwag moves LLaMA-2-7B from 57.2 to 76.0, and micro versus macro averaging over
MMLU's subjects moves Qwen1.5-7B by 1.5 points. Answering that must not cost model calls, so every
metric here is a function of what the cache already holds: per-choice loglikelihoods (with token
counts and, for PMI, the unconditional loglikelihoods) or a generation.

The multiple-choice metrics follow lm-evaluation-harness 0.4.13 exactly (`ConfigurableTask.
process_results`), including numpy's first-maximum tie rule, because "the same as lm-eval" is the
baseline users compare against. `acc_token` is ours: lm-eval does not offer it, but some papers
normalize by token count and the cache stores it. The generative metrics follow HELM where HELM
defines them (prefix, quasi-exact) and delegate math equivalence to math-verify.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from scoregap.engine.answers import helm_normalize

MC_METRICS: tuple[str, ...] = ("acc", "acc_norm", "acc_bytes", "acc_token", "acc_mutual_info", "mc2")
GEN_METRICS: tuple[str, ...] = (
    "exact_match",
    "prefix_exact_match",
    "suffix_exact_match",
    "quasi_exact_match",
    "math_equiv",
)
ALL_METRICS: tuple[str, ...] = MC_METRICS + GEN_METRICS

AGGREGATIONS: tuple[str, ...] = ("micro", "macro")


def metric_kind(metric: str) -> Literal["loglikelihood", "generate"]:
    """Which kind of model output `metric` is computed from (the setup's `scoring.method`)."""
    if metric in MC_METRICS:
        return "loglikelihood"
    if metric in GEN_METRICS:
        return "generate"
    raise ValueError(f'unknown metric "{metric}"; allowed: {", ".join(ALL_METRICS)}')


# ------------------------------------------------------------------------------ multiple choice


def predicted_choice(
    metric: str,
    logprobs: Sequence[float],
    targets: Sequence[str],
    *,
    n_tokens: Sequence[int] | None = None,
    unconditional: Sequence[float] | None = None,
) -> int:
    """The index of the choice `metric` picks; on a tie, the first (numpy's argmax).

    `targets` are the choice strings without the target delimiter, as lm-eval's doc_to_choice
    gives them: acc_norm divides by their length in characters, acc_bytes in UTF-8 bytes.
    """
    if metric not in MC_METRICS:
        allowed = ", ".join(MC_METRICS)
        raise ValueError(f'"{metric}" is not a multiple-choice metric; allowed: {allowed}')
    if len(logprobs) != len(targets):
        raise ValueError(f"{len(logprobs)} loglikelihoods for {len(targets)} choices")
    if not targets:
        raise ValueError("a multiple-choice doc needs at least one choice")
    lls = [float(x) for x in logprobs]   # a handful of floats: plain Python beats numpy's overhead
    if metric in ("acc", "mc2"):
        scores = lls
    elif metric == "acc_norm":
        scores = _divide(lls, [len(t) for t in targets])
    elif metric == "acc_bytes":
        scores = _divide(lls, [len(t.encode("utf-8")) for t in targets])
    elif metric == "acc_token":
        if n_tokens is None or len(n_tokens) != len(targets):
            raise ValueError("acc_token needs the continuation token count of every choice")
        scores = _divide(lls, n_tokens)
    else:  # acc_mutual_info
        if unconditional is None or len(unconditional) != len(targets):
            raise ValueError("acc_mutual_info needs every choice's unconditional loglikelihood")
        scores = [ll - float(u) for ll, u in zip(lls, unconditional)]
    return _argmax(scores)


def _argmax(scores: list[float]) -> int:
    """numpy's argmax: the first maximum, or the first NaN when there is one."""
    best = 0
    for i, x in enumerate(scores):
        if math.isnan(x):
            return i
        if x > scores[best]:
            best = i
    return best


def _divide(lls: list[float], lengths: Sequence[int]) -> list[float]:
    """lls / lengths as numpy divides: an empty choice gives -inf (or nan for 0/0) as in lm-eval
    rather than an error: same data, same answer."""
    return [ll / n if n else (math.nan if ll == 0 or math.isnan(ll) else math.copysign(math.inf, ll))
            for ll, n in zip(lls, lengths)]


def score_choices(
    metric: str,
    logprobs: Sequence[float],
    targets: Sequence[str],
    gold: int | Sequence[int],
    *,
    n_tokens: Sequence[int] | None = None,
    unconditional: Sequence[float] | None = None,
) -> float:
    """1.0 when `metric` picks the gold choice (any of them, when `gold` is a list), else 0.0;
    for mc2, the probability mass on the gold choices once the choices' probabilities are
    normalized to sum to 1 (TruthfulQA's MC2, lm-eval's `process_results_mc2`)."""
    if metric == "mc2":
        return mc2(logprobs, gold)
    pred = predicted_choice(
        metric, logprobs, targets, n_tokens=n_tokens, unconditional=unconditional
    )
    golds = [int(gold)] if isinstance(gold, (int, np.integer)) else [int(g) for g in gold]
    return 1.0 if pred in golds else 0.0


def mc2(logprobs: Sequence[float], gold: int | Sequence[int]) -> float:
    """The share of probability on the true answers: exp(ll) normalized over the choices, summed
    over the gold ones. Shifted by the largest ll first, which leaves the ratio as it is and
    keeps long answers (ll of -800 and below) from underflowing to 0/0."""
    lls = np.asarray(logprobs, dtype=np.float64)
    probs = np.exp(lls - lls.max())
    golds = [int(gold)] if isinstance(gold, (int, np.integer)) else [int(g) for g in gold]
    return float(probs[golds].sum() / probs.sum())


# ----------------------------------------------------------------------------------- generative


def score_generation(metric: str, prediction: str, golds: Sequence[str]) -> float:
    """The best score of `prediction` against any of `golds` (1.0 or 0.0).

    Extraction and normalization are the caller's (the setup's `scoring.extract` and
    `scoring.normalize`); quasi_exact_match adds HELM's own normalization on top.
    """
    if metric not in GEN_METRICS:
        allowed = ", ".join(GEN_METRICS)
        raise ValueError(f'"{metric}" is not a generative metric; allowed: {allowed}')
    if isinstance(golds, str):
        golds = [golds]
    if not golds:
        raise ValueError("a generative doc needs at least one gold answer")
    compare = _COMPARE[metric]
    return max(compare(prediction, gold) for gold in golds)


def _exact(prediction: str, gold: str) -> float:
    return 1.0 if prediction == gold else 0.0


def _prefix(prediction: str, gold: str) -> float:
    # HELM: an empty prediction never matches, even an empty gold.
    if not prediction:
        return 0.0
    return 1.0 if prediction.strip().startswith(gold.strip()) else 0.0


def _suffix(prediction: str, gold: str) -> float:
    if not prediction:
        return 0.0
    return 1.0 if prediction.strip().endswith(gold.strip()) else 0.0


def _quasi(prediction: str, gold: str) -> float:
    return 1.0 if helm_normalize(prediction) == helm_normalize(gold) else 0.0


@lru_cache(maxsize=8192)
def _parse_math(text: str) -> tuple[Any, ...]:
    # Golds are parsed once per variant that uses them; parsing is the slow part of math-verify.
    # No timeouts: math-verify's use signal.alarm, which fails outside the main thread (the TUI
    # scores in workers) and would make a score depend on machine speed.
    try:
        import math_verify  # sympy behind it takes seconds to import: only when asked for

        return tuple(math_verify.parse(text, parsing_timeout=None))
    except Exception:
        return ()


def _math_equiv(prediction: str, gold: str) -> float:
    gold_parsed = _parse_math(gold)
    pred_parsed = _parse_math(prediction)
    if not gold_parsed or not pred_parsed:
        return 0.0
    try:
        import math_verify

        same = math_verify.verify(list(gold_parsed), list(pred_parsed), timeout_seconds=None)
    except Exception:  # sympy can fail on odd input; an answer we cannot compare is not a match
        return 0.0
    return 1.0 if same else 0.0


_COMPARE = {
    "exact_match": _exact,
    "prefix_exact_match": _prefix,
    "suffix_exact_match": _suffix,
    "quasi_exact_match": _quasi,
    "math_equiv": _math_equiv,
}


# ---------------------------------------------------------------------------------- aggregation


@dataclass(frozen=True)
class Aggregate:
    """A task score as a fraction in 0..1, its standard error, and the number of docs behind it."""

    score: float
    stderr: float
    n: int


def aggregate(
    scores: Sequence[float],
    subtasks: Sequence[str] | None = None,
    how: str = "micro",
) -> Aggregate:
    """Per-doc scores reduced to one number.

    micro: the mean over docs, with lm-eval's `mean_stderr` (sample std / sqrt(n)).
    macro: the mean of per-subtask means, each subtask weighing the same however many docs it
    has; its stderr combines the subtasks' stderrs, sqrt(sum se_s^2) / S, where a subtask with one
    doc contributes no variance. Without `subtasks` the task is one subtask and macro equals micro.
    Fewer than two docs in all leave the stderr undefined (nan).
    """
    if how not in AGGREGATIONS:
        raise ValueError(f'unknown aggregation "{how}"; allowed: {", ".join(AGGREGATIONS)}')
    if len(scores) == 0:
        raise ValueError("cannot aggregate an empty list of scores")
    values = [float(s) for s in scores]
    n = len(values)
    if how == "micro":
        return Aggregate(score=_mean(values), stderr=_mean_stderr(values), n=n)

    if subtasks is None:
        subtasks = [""] * n
    if len(subtasks) != n:
        raise ValueError(f"{n} scores but {len(subtasks)} subtask labels")
    groups: dict[str, list[float]] = {}
    for value, subtask in zip(values, subtasks):
        groups.setdefault(subtask, []).append(value)
    means = [_mean(group) for group in groups.values()]
    variances = [_mean_stderr(group) ** 2 if len(group) > 1 else 0.0 for group in groups.values()]
    stderr = math.sqrt(sum(variances)) / len(groups) if n > 1 else math.nan
    return Aggregate(score=_mean(means), stderr=stderr, n=n)


def _mean(values: Sequence[float]) -> float:
    # sum/len rather than fsum: the same float lm-eval reports, bit for bit.
    return sum(values) / len(values)


def _mean_stderr(values: Sequence[float]) -> float:
    """lm-eval's `mean_stderr`: sample standard deviation (ddof=1) over sqrt(n)."""
    n = len(values)
    if n < 2:
        return math.nan
    mu = _mean(values)
    return math.sqrt(sum((x - mu) ** 2 for x in values) / (n - 1)) / math.sqrt(n)
