"""Screening: settle what a subset of the docs can settle, and re-run only what could change.

A variant runs on growing random subsets of the docs — 60, 120, 240 (each at most half of the
docs), then all of them — and stops at the first look that settles it: its CI lies inside the
noise floor (no effect worth finding), or excludes every change that would make it a cause — one
that closes between 0 and 200% of the gap. So a variant stops when it surely widens the gap, or
surely carries your score past the reported one by more than the gap itself, whatever the gap's
sign. When the gap itself is within the noise floor (the verdict "within noise, no cause
needed"), nothing can be a cause and every variant stops at the first look: its effect is still
shown, on those docs, with its CI. The
looks spend the 5% error rate Bonferroni-style: each interim CI is at 1 − 0.05/K for K looks
(98.75% for four), so the chance that any stop of a variant is wrong stays within 5% however
many looks it takes. A finding says how many docs it rests on (`n`) and why it stopped.

The subsets are prefixes of one fixed random order of the docs (`order`): a task sorted by
subtask (MMLU's subjects) gives each look a sample of every subject, not the first subject.

A variant that changes only numerics (`rerun = "margin"`: dtype, batch size, kernels, backend)
re-runs only the docs whose decision could flip: those whose top two choices, or whose closest
token decision, are within `FLIP_MARGIN` nats for the target dtype. The others keep your outputs.
Another inference engine (`loading.backend`) can move loglikelihoods by more than rounding, and
by how much is not known in advance: its variant first runs `DRIFT_DOCS` docs in full, and the
margin is widened to cover what that sample shows (`drift_margin`).
"""

from __future__ import annotations

import random

from scoregap.engine import stats
from scoregap.engine.evaluate import Evaluation
from scoregap.engine.setup import Setup

LOOKS = (60, 120, 240)   # docs at the interim looks (each used when it is at most half the docs)
ALPHA = 0.05             # the error rate all the stops of one variant share
ORDER_SEED = 0
FLIP_MARGIN = {"float32": 0.01, "bfloat16": 1.0, "float16": 0.5}   # nats a numeric change can move
DRIFT_DOCS = 16      # docs a variant on another backend runs in full to measure its drift
DRIFT_SAFETY = 2.0   # the sample's largest drift, doubled: the docs not sampled may drift further
NO_GAP = "no gap beyond the noise floor"


def looks(n: int) -> list[int]:
    """The subset sizes at which a variant of n docs is looked at; the last is n."""
    return [size for size in LOOKS if 2 * size <= n] + [n]


def order(n: int) -> list[int]:
    """One fixed random order of positions 0..n-1: every look takes a prefix of it."""
    positions = list(range(n))
    random.Random(ORDER_SEED).shuffle(positions)
    return positions


def interim_ci(c: stats.Comparison, n_looks: int) -> tuple[float, float]:
    """The CI an interim look judges by: the comparison's interval at level 1 − ALPHA/n_looks
    (Bonferroni over the looks, so all of a variant's stops together keep a 5% error rate)."""
    if c.se == 0:
        return c.ci
    from scipy.stats import norm

    return stats.interval(c, float(norm.ppf(1 - ALPHA / (2 * n_looks))))


def settled(ci: tuple[float, float], floor: float, gap: float) -> str:
    """Why the subset's CI settles a variant ('' : it does not)."""
    lo, hi = ci
    if max(abs(lo), abs(hi)) < floor:
        return "inside the noise floor"
    if abs(gap) <= floor:   # the verdict is "within noise": there is nothing a cause could close
        return NO_GAP
    toward, past = sorted((0.0, 2.0 * gap))       # the deltas that would make it a cause
    if (gap > 0 and hi <= 0) or (gap < 0 and lo >= 0):
        return "widens the gap"
    if hi <= toward or lo >= past:
        return "overshoots the gap"
    return ""


def flip_margin(setup: Setup) -> float:
    """Nats a numeric change to `setup`'s dtype can move a decision."""
    return FLIP_MARGIN.get(setup.loading.dtype, 1.0)


def drift_margin(base: Evaluation, sample: Evaluation) -> float:
    """The margin a decision needs to be safe from the change `sample` shows: each choice's
    loglikelihood moved by at most d on the sampled docs, so a top-two gap moves by at most 2d;
    with `DRIFT_SAFETY` for the docs not sampled."""
    yours = {s.doc_id: s.raw["loglikelihoods"] for s in base.scores}
    moved = [abs(a - b) for s in sample.scores for a, b in zip(s.raw["loglikelihoods"], yours[s.doc_id])]
    return 2.0 * DRIFT_SAFETY * max(moved, default=0.0)


def could_flip(base: Evaluation, setup: Setup, threshold: float | None = None) -> set[int] | None:
    """Docs whose choice decision is close enough to flip under a numeric change (within
    `threshold` nats, by default the dtype's `flip_margin`); None when every doc must re-run
    (generation: any token may change the text)."""
    if base.task.kind != "multiple_choice":
        return None
    threshold = flip_margin(setup) if threshold is None else threshold
    close = set()
    for s in base.scores:
        lls = sorted(s.raw["loglikelihoods"], reverse=True)
        if len(lls) < 2 or lls[0] - lls[1] < threshold or s.raw["min_margin"] < threshold:
            close.add(s.doc_id)
    return close
