"""Screening: settle what a subset of the docs can settle, and re-run only what could change.

A variant first runs on a screening subset (a quarter of the docs, at least `SCREEN_MIN`); it
goes on to every doc unless the subset already settles it: its 95% CI lies inside the noise
floor (no effect worth finding), or excludes every change that would make it a cause — one that
closes between 0 and 200% of the gap. So a variant stops when it surely widens the gap, or surely
carries your score past the reported one by more than the gap itself, whatever the gap's sign;
with no gap at all, nothing can be a cause and every variant stops there. A variant that changes only numerics (`rerun = "margin"`: dtype, batch size, kernels)
re-runs only the docs whose decision could flip: those whose top two choices, or whose closest
token decision, are within `FLIP_MARGIN` nats for the target dtype. The others keep your outputs.
Another inference engine (`loading.backend`) can move loglikelihoods by more than rounding, and
by how much is not known in advance: its variant first runs `DRIFT_DOCS` docs in full, and the
margin is widened to cover what that sample shows (`drift_margin`).
"""

from __future__ import annotations

from scoregap.engine.evaluate import Evaluation
from scoregap.engine.setup import Setup

SCREEN_MIN = 60
FLIP_MARGIN = {"float32": 0.01, "bfloat16": 1.0, "float16": 0.5}   # nats a numeric change can move
DRIFT_DOCS = 16      # docs a variant on another backend runs in full to measure its drift
DRIFT_SAFETY = 2.0   # the sample's largest drift, doubled: the docs not sampled may drift further


def subset_size(n: int) -> int:
    """Docs in the screening subset of n (all of them when n is small)."""
    return n if n <= 2 * SCREEN_MIN else max(SCREEN_MIN, n // 4)


def settled(ci: tuple[float, float], floor: float, gap: float) -> str:
    """Why the subset's CI settles a variant ('' : it does not)."""
    lo, hi = ci
    if max(abs(lo), abs(hi)) < floor:
        return "inside the noise floor"
    toward, past = sorted((0.0, 2.0 * gap))       # the deltas that would make it a cause
    if gap == 0:
        return "no gap to close"
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
