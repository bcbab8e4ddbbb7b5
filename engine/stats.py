"""The statistics that decide whether a variant "explains the gap", and by how much.

A check changes one thing about your setup (the metric, the template, the batch size) and re-scores
the same docs. Whether that change explains the difference between your number and the reported one
is a statistical question with three parts, each answered here:

- Is the change real? `compare` runs a *paired* test: the same docs in the same order under your
  setup (`base`) and the variant, so doc difficulty cancels and far fewer docs are needed than for
  two independent samples. 0/1 scores get the exact McNemar test, continuous scores a paired
  bootstrap. Docs of one subtask are not independent (an MMLU subject shares a topic and often a
  writer), so the standard error can be clustered by subtask; ignoring that overstates certainty.
- Is it bigger than doing nothing? `noise_floor` measures how far identical-setting repeats (other
  seeds, other batch sizes) move the score; `holm` corrects for running many checks at once, since
  with ten checks one "significant" result at 5% is expected by chance alone.
- How much of the gap does it account for? `closes` expresses a change as a fraction of the gap;
  `shapley` splits the gap among a few fixes applied together, whose effects need not add up.

`minimum_detectable_effect` says, before spending model calls, how small an effect a check on n docs
could see at all, so a "no effect" on 50 docs is not mistaken for evidence of absence.

Everything is a pure function of per-doc scores (fractions in [0, 1]); nothing here runs a model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Literal

import numpy as np


def _scipy_stats():  # noqa: ANN202
    """scipy.stats, imported on first use: it takes seconds, and the app draws before it."""
    from scipy import stats

    return stats

Method = Literal["mcnemar", "t-clustered", "bootstrap", "identical"]

Z_95 = 1.959963984540054
"""Two-sided 95% normal quantile: the CIs of the McNemar and clustered paths are centre ± Z_95·SE."""

MAX_SHAPLEY_PLAYERS = 6
"""2^6 = 64 coalitions, each a re-scoring; beyond that exact Shapley values cost too much."""

_BOOTSTRAP_CHUNK = 2_000_000
"""Resampled indices held in memory at once, so n_boot × n docs never has to fit at one go."""


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of a variant against your setup on the same docs.

    `delta` is mean(variant − base), so positive means the variant scores higher. `discordant` is
    (b, c): docs where base beats the variant and docs where the variant beats base (for 0/1
    scores, base-right-variant-wrong and base-wrong-variant-right, the counts McNemar tests).
    `method` names where p came from: "t-clustered" is a Wald test on the subtask-clustered SE.
    """

    delta: float
    se: float
    ci: tuple[float, float]
    p: float
    n: int
    method: Method
    discordant: tuple[int, int]


@dataclass(frozen=True)
class NoiseFloor:
    """How far the score moves when nothing changes; a real effect must beat `half_width`."""

    sd: float
    half_width: float
    n_repeats: int
    means: tuple[float, ...]


def _scores(values: Sequence[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a flat sequence of per-doc scores")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds a non-finite score")
    return array


def _is_binary(*arrays: np.ndarray) -> bool:
    return all(bool(np.all((a == 0.0) | (a == 1.0))) for a in arrays)


def _cluster_ids(clusters: Sequence[str] | None, n: int) -> np.ndarray | None:
    """Integer cluster labels, or None when there is nothing to cluster by.

    A single cluster carries no information about dependence (the cluster-robust formula becomes
    0/0), so it is treated as no clustering at all.
    """
    if clusters is None:
        return None
    if len(clusters) != n:
        raise ValueError(f"clusters has {len(clusters)} labels for {n} docs")
    _, ids = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    return ids if int(ids.max()) >= 1 else None


def _clustered_se(d: np.ndarray, ids: np.ndarray) -> float:
    """Cluster-robust SE of mean(d): sqrt(G/(G−1) · Σ_g (Σ_{i∈g} (d_i − d̄))²) / n.

    With every doc its own cluster this equals the naive std(d, ddof=1)/sqrt(n) exactly.
    """
    n = d.size
    groups = int(ids.max()) + 1
    sums = np.bincount(ids, weights=d - d.mean(), minlength=groups)
    return math.sqrt(groups / (groups - 1) * float(np.sum(sums**2))) / n


def _matched_se(n: int, lose: int, win: int) -> float:
    """Agresti-Min: the SE of a difference of matched proportions with a half added to each cell."""
    b, c, m = lose + 0.5, win + 0.5, n + 2.0
    return math.sqrt(max((b + c) - (c - b) ** 2 / m, 0.0)) / m


def interval(c: Comparison, z: float) -> tuple[float, float]:
    """A comparison's interval at normal quantile `z`: the McNemar path's is Agresti-Min's
    (centred on the difference with a half added to each cell, within [-1, 1]); the others are
    delta ± z·SE."""
    if c.method != "mcnemar":
        return (c.delta - z * c.se, c.delta + z * c.se)
    lose, win = c.discordant
    centre = (win - lose) / (c.n + 2.0)
    return (max(centre - z * c.se, -1.0), min(centre + z * c.se, 1.0))


def compare(
    base: Sequence[float],
    variant: Sequence[float],
    clusters: Sequence[str] | None = None,
    *,
    seed: int = 0,
    n_boot: int = 2000,
) -> Comparison:
    """Paired comparison of `variant` against `base` on the same docs in the same order.

    0/1 scores: p from the exact McNemar test (a two-sided binomial test of the discordant pairs
    against 1/2), which is valid for any number of discordant pairs, unlike its chi-square form.
    The CI is Agresti and Min's (2005) for matched proportions: the Wald interval after adding a
    half to each cell of the paired 2x2 table (`interval`). On hundreds of docs it is the plain
    Wald interval to a few tenths of a point (240 docs, 30 and 60 flips: 0.14); on a few docs the plain one claims what the
    data cannot hold (3 docs, 2 flips one way: +1.3 to +132 points with p = 0.5), this one does
    not (-18 to +98). Right at the 5% boundary it may still disagree with the exact p. With `clusters`
    (method "t-clustered") the SE is cluster-robust and both CI and p come from the normal
    approximation to delta/SE: an exact test that ignores the clustering would claim more
    certainty than the data holds.

    Continuous scores: a paired bootstrap that resamples docs (or whole clusters, when given, which
    keeps each subtask's dependence intact) with `numpy.random.default_rng(seed)`: percentile CI,
    SE the bootstrap standard deviation, and p twice the share of resamples at or beyond 0 on the
    side opposite delta, floored at 1/n_boot because the bootstrap cannot resolve smaller p.

    Raises ValueError on mismatched lengths, no docs, or non-finite scores.
    """
    b_arr, v_arr = _scores(base, "base"), _scores(variant, "variant")
    if b_arr.size != v_arr.size:
        raise ValueError(f"paired scores differ in length: {b_arr.size} vs {v_arr.size}")
    n = int(b_arr.size)
    if n == 0:
        raise ValueError("cannot compare zero docs")
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    ids = _cluster_ids(clusters, n)
    d = v_arr - b_arr
    discordant = (int(np.sum(d < 0)), int(np.sum(d > 0)))
    if not np.any(d):
        return Comparison(0.0, 0.0, (0.0, 0.0), 1.0, n, "identical", (0, 0))
    delta = float(d.mean())

    if _is_binary(b_arr, v_arr):
        lose, win = discordant
        p = float(_scipy_stats().binomtest(min(lose, win), lose + win, 0.5).pvalue)
        if ids is not None:
            # McNemar assumes independent pairs; within-subtask dependence is exactly what it
            # cannot see, so the clustered path takes p from the clustered SE instead (keeping
            # the exact p only when the SE is 0 and a Wald test would claim p = 0).
            se = _clustered_se(d, ids)
            ci = (delta - Z_95 * se, delta + Z_95 * se)
            if se > 0:
                p = 2.0 * float(_scipy_stats().norm.sf(abs(delta) / se))
            return Comparison(delta, se, ci, min(p, 1.0), n, "t-clustered", discordant)
        # One doc says nothing about spread: an infinite SE rather than a made-up one.
        se = _matched_se(n, lose, win) if n > 1 else math.inf
        c = Comparison(delta, se, (0.0, 0.0), min(p, 1.0), n, "mcnemar", discordant)
        return replace(c, ci=interval(c, Z_95))

    boot = _bootstrap_means(d, ids, seed, n_boot)
    low, high = np.percentile(boot, [2.5, 97.5])
    other_side = np.mean(boot <= 0.0) if delta > 0 else np.mean(boot >= 0.0)
    p = min(1.0, max(2.0 * float(other_side), 1.0 / n_boot))
    se = float(boot.std(ddof=1)) if n_boot > 1 else 0.0
    return Comparison(delta, se, (float(low), float(high)), p, n, "bootstrap", discordant)


def _bootstrap_means(d: np.ndarray, ids: np.ndarray | None, seed: int, n_boot: int) -> np.ndarray:
    """Means of d over n_boot resamples of docs, or of whole clusters when `ids` is given.

    A cluster resample keeps the docs of each drawn cluster together and divides by the number of
    docs drawn, so the statistic stays the doc-level mean that `delta` is.
    """
    if ids is None:
        sums, sizes = d, np.ones_like(d)
    else:
        sums = np.bincount(ids, weights=d)
        sizes = np.bincount(ids).astype(float)
    units = sums.size
    rng = np.random.default_rng(seed)
    rows = max(1, _BOOTSTRAP_CHUNK // units)
    out = np.empty(n_boot)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        draw = rng.integers(0, units, size=(stop - start, units))
        out[start:stop] = sums[draw].sum(axis=1) / sizes[draw].sum(axis=1)
    return out


def noise_floor(
    repeats: Sequence[Sequence[float]], clusters: Sequence[str] | None = None
) -> NoiseFloor:
    """How far the score moves under "no change at all": identical-setting repeats.

    Each repeat is the per-doc scores of one run with your exact setting but another seed or batch
    size; batch-dependent kernels and sampling move a score without any real cause (1,000
    temperature-0 completions gave 80 distinct outputs without batch-invariant kernels). A check
    whose effect is within this floor has not shown anything, and a gap within it needs no cause.

    `half_width` = max(1.96·sd of the repeat means, the largest difference between two repeats):
    with the two or three repeats one can afford, the sd alone is itself too noisy to trust, so
    the largest spread actually observed is a floor under it. One repeat gives a floor of 0.

    `clusters`, when given, makes each repeat's score the macro mean (each cluster weighs the same,
    as in the `macro` aggregation); pass it only when the gap is measured on that scale.
    """
    if len(repeats) == 0:
        raise ValueError("noise_floor needs at least one repeat")
    arrays = [_scores(r, f"repeat {i}") for i, r in enumerate(repeats)]
    n = arrays[0].size
    if n == 0 or any(a.size != n for a in arrays):
        raise ValueError("every repeat must score the same, non-empty set of docs")
    if clusters is None:
        means = tuple(float(a.mean()) for a in arrays)
    else:
        if len(clusters) != n:
            raise ValueError(f"clusters has {len(clusters)} labels for {n} docs")
        _, ids = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
        sizes = np.bincount(ids)
        means = tuple(float(np.mean(np.bincount(ids, weights=a) / sizes)) for a in arrays)
    sd = float(np.std(means, ddof=1)) if len(means) > 1 else 0.0
    spread = max(means) - min(means)  # the largest |mean_i − mean_j| over pairs
    return NoiseFloor(sd, max(Z_95 * sd, spread), len(means), means)


def holm(pvalues: Mapping[str, float], alpha: float = 0.05) -> dict[str, tuple[float, bool]]:
    """Holm–Bonferroni step-down over a family of checks: adjusted p and reject flag per key.

    The i-th smallest of m p-values is multiplied by (m − i + 1); adjusted values are made monotone
    (a larger raw p never gets a smaller adjusted one) and capped at 1. A key is rejected when its
    adjusted p ≤ alpha, which controls the chance of any false "this explains it" at alpha, and is
    uniformly more powerful than plain Bonferroni.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must lie in (0, 1)")
    for key, value in pvalues.items():
        if not 0.0 <= value <= 1.0:  # also rejects NaN
            raise ValueError(f"p-value for {key!r} is not in [0, 1]: {value}")
    order = sorted(pvalues, key=lambda key: pvalues[key])
    m = len(order)
    adjusted: dict[str, tuple[float, bool]] = {}
    running = 0.0
    for rank, key in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[key]))
        adjusted[key] = (running, running <= alpha)
    return {key: adjusted[key] for key in pvalues}


def closes(gap: float, delta: float, ci: tuple[float, float]) -> tuple[float, tuple[float, float]]:
    """The fraction of the gap a variant removes, with its CI.

    `gap` = reported − yours and `delta` = variant − yours, on the same scale (fractions). The
    result is delta/gap: 1 closes the gap exactly, above 1 overshoots, negative widens it. The CI
    is ci/gap, re-sorted because dividing by a negative gap swaps its ends. A zero gap has nothing
    to close and gives (0, (0, 0)).
    """
    if gap == 0:
        return 0.0, (0.0, 0.0)
    low, high = sorted((ci[0] / gap, ci[1] / gap))
    return delta / gap, (low, high)


def minimum_detectable_effect(
    base: Sequence[float],
    n: int | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    discordance: float | None = None,
) -> float:
    """Smallest |delta| a paired two-sided test on n docs detects with the given power.

    Normal approximation: MDE ≈ (z_{1−α/2} + z_{power}) · SD(d)/sqrt(n), where d is the per-doc
    paired difference. For 0/1 scores SD(d)² ≈ the fraction of discordant pairs (d is ±1 on them,
    0 elsewhere, and delta² is negligible); by default that fraction is 2p(1−p) for base accuracy p,
    what two setups erring independently would give. Real variants share most errors, so this is
    an upper bound on discordance and the MDE is conservative; pass `discordance` when a pilot run
    measured it. For continuous scores SD(d) ≈ sd(base)·sqrt(2), again assuming no correlation
    between the two setups. `n` defaults to the number of docs in `base`.
    """
    b_arr = _scores(base, "base")
    if b_arr.size == 0:
        raise ValueError("base needs at least one doc")
    n = b_arr.size if n is None else n
    if n < 1:
        raise ValueError("n must be at least 1")
    if not 0.0 < alpha < 1.0 or not 0.0 < power < 1.0:
        raise ValueError("alpha and power must lie in (0, 1)")
    norm = _scipy_stats().norm
    z = float(norm.ppf(1.0 - alpha / 2.0) + norm.ppf(power))
    if _is_binary(b_arr):
        if discordance is None:
            accuracy = float(b_arr.mean())
            discordance = 2.0 * accuracy * (1.0 - accuracy)
        if not 0.0 <= discordance <= 1.0:
            raise ValueError("discordance is a fraction of docs, in [0, 1]")
        return z * math.sqrt(discordance / n)
    if b_arr.size < 2:
        raise ValueError("a continuous MDE needs at least two docs to estimate their spread")
    return z * float(b_arr.std(ddof=1)) / math.sqrt(n) * math.sqrt(2.0)


def shapley(value: Callable[[frozenset[str]], float], players: Sequence[str]) -> dict[str, float]:
    """Exact Shapley values: each fix's share of value(all) − value(∅).

    Fixes interact (a template fix may matter only once the stop sequence is fixed), so "the gap
    with fix A alone" double-counts or misses shared effects. The Shapley value averages each fix's
    marginal effect over every order of applying the fixes; the shares add up exactly to the total
    and an interaction is split equally between the fixes that need each other. `value(S)` is the
    score with the fixes in S applied; each coalition is evaluated exactly once (2^k calls, k ≤ 6).
    """
    k = len(players)
    if len(set(players)) != k:
        raise ValueError("players must be distinct")
    if k > MAX_SHAPLEY_PLAYERS:
        raise ValueError(f"exact Shapley needs 2^k evaluations; k={k} > {MAX_SHAPLEY_PLAYERS}")
    worth = {
        frozenset(s): float(value(frozenset(s)))
        for size in range(k + 1)
        for s in combinations(players, size)
    }
    weight = [math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) for s in range(k)]
    shares: dict[str, float] = {}
    for player in players:
        others = [p for p in players if p != player]
        shares[player] = sum(
            weight[size] * (worth[frozenset(s) | {player}] - worth[frozenset(s)])
            for size in range(k)
            for s in combinations(others, size)
        )
    return shares
