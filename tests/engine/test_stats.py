"""Statistics: the numbers that decide whether a check "explains the gap" must be right by hand."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest

from scoregap.engine.stats import (
    Comparison,
    NoiseFloor,
    closes,
    compare,
    holm,
    minimum_detectable_effect,
    noise_floor,
    shapley,
)


def _pairs(b: int, c: int, agree: int = 0) -> tuple[list[float], list[float]]:
    """0/1 scores: b base-right-variant-wrong, c base-wrong-variant-right, `agree` both right."""
    base = [1.0] * b + [0.0] * c + [1.0] * agree
    variant = [0.0] * b + [1.0] * c + [1.0] * agree
    return base, variant


# --- compare: McNemar -----------------------------------------------------------------------------


def test_mcnemar_exact_p_matches_hand_computed_binomial() -> None:
    base, variant = _pairs(b=1, c=9, agree=30)
    result = compare(base, variant)
    # 2 · (C(10,0) + C(10,1)) / 2^10
    assert result.p == pytest.approx(0.021484375, abs=1e-12)
    assert result.method == "mcnemar"
    assert result.discordant == (1, 9)
    assert result.n == 40
    assert result.delta == pytest.approx(8 / 40)


def test_mcnemar_is_symmetric_and_sign_follows_variant() -> None:
    up = compare(*_pairs(b=1, c=9, agree=30))
    down = compare(*reversed(_pairs(b=1, c=9, agree=30)))
    assert up.p == pytest.approx(down.p)
    assert up.delta == pytest.approx(-down.delta)
    assert down.discordant == (9, 1)


def test_mcnemar_ci_is_agresti_mins_a_half_added_to_each_cell() -> None:
    base, variant = _pairs(b=3, c=7, agree=10)
    result = compare(base, variant)
    b, c, m = 3.5, 7.5, 22.0                    # the four cells + 1/2 each: n + 2 docs
    se = math.sqrt((b + c) - (c - b) ** 2 / m) / m
    assert result.delta == pytest.approx(4 / 20) and result.se == pytest.approx(se)
    assert result.ci == pytest.approx(((c - b) / m - 1.959964 * se, (c - b) / m + 1.959964 * se))


def test_a_few_docs_give_an_interval_a_difference_of_proportions_can_have() -> None:
    """Found importing a 3-doc run: two flips one way gave "+1.3 to +132 points" beside p = 0.5
    (the plain Wald interval); Agresti-Min's stays in [-1, 1] and holds 0, as the exact p says."""
    result = compare([1.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    assert result.p == pytest.approx(0.5)
    assert -1.0 <= result.ci[0] < 0.0 < result.ci[1] <= 1.0
    assert result.ci == pytest.approx((-0.181, 0.981), abs=1e-3)
    every = compare([0.0] * 4, [1.0] * 4)       # every doc flips: the bound is clipped at +100 points
    assert every.ci[1] == 1.0 and every.ci[0] > 0.0
    # on hundreds of docs it is the plain Wald interval to within a few tenths of a point
    big = compare(*_pairs(b=30, c=60, agree=150))
    d = np.array(big_pair := _pairs(b=30, c=60, agree=150))[1] - np.array(big_pair)[0]
    wald = d.std(ddof=1) / math.sqrt(d.size) * 1.959964
    assert big.ci == pytest.approx((d.mean() - wald, d.mean() + wald), abs=2e-3)


def test_balanced_discordance_gives_p_one() -> None:
    result = compare(*_pairs(b=5, c=5, agree=10))
    assert result.delta == 0.0
    assert result.p == pytest.approx(1.0)


def test_identical_inputs() -> None:
    result = compare([1, 0, 1, 0.5], [1, 0, 1, 0.5])
    assert result == Comparison(0.0, 0.0, (0.0, 0.0), 1.0, 4, "identical", (0, 0))


@pytest.mark.parametrize(
    ("base", "variant"),
    [([1, 0, 1], [1, 0]), ([], [])],
)
def test_bad_lengths_raise(base: list[float], variant: list[float]) -> None:
    with pytest.raises(ValueError):
        compare(base, variant)


def test_nan_and_wrong_cluster_count_raise() -> None:
    with pytest.raises(ValueError):
        compare([1, float("nan")], [1, 0])
    with pytest.raises(ValueError):
        compare([1, 0, 1], [0, 0, 1], clusters=["a", "b"])


# --- compare: clustered SE ------------------------------------------------------------------------


def test_clustered_se_is_larger_when_differences_cluster() -> None:
    # The variant helps whole subtasks or hurts whole subtasks: differences are correlated within
    # a subtask, so the docs are worth far fewer than 120 independent pairs.
    base, variant, clusters = [], [], []
    for g, effect in enumerate([1, 1, 1, -1, 1, 0]):
        for _ in range(20):
            base.append(0.0 if effect == 1 else 1.0 if effect == -1 else 1.0)
            variant.append(1.0 if effect == 1 else 0.0 if effect == -1 else 1.0)
            clusters.append(f"subject{g}")
    naive = compare(base, variant)
    clustered = compare(base, variant, clusters)
    assert clustered.method == "t-clustered"
    assert clustered.delta == naive.delta
    assert clustered.se > 2 * naive.se
    assert clustered.ci[1] - clustered.ci[0] > 2 * (naive.ci[1] - naive.ci[0])
    assert clustered.p > naive.p


def test_singleton_clusters_reproduce_the_naive_se_exactly() -> None:
    # sqrt(n/(n−1) · Σ(d_i − d̄)²)/n  ==  sqrt(Σ(d_i − d̄)²/(n−1))/sqrt(n)
    base, variant = _pairs(b=4, c=11, agree=25)
    d = np.array(variant) - np.array(base)
    naive_se = d.std(ddof=1) / math.sqrt(d.size)
    singletons = compare(base, variant, clusters=[str(i) for i in range(len(base))])
    assert singletons.se == pytest.approx(naive_se, rel=1e-12)
    assert singletons.ci == pytest.approx((d.mean() - 1.959964 * naive_se, d.mean() + 1.959964 * naive_se))


def test_one_cluster_falls_back_to_naive() -> None:
    base, variant = _pairs(b=1, c=9, agree=30)
    result = compare(base, variant, clusters=["only"] * len(base))
    assert result == compare(base, variant)


# --- compare: bootstrap ---------------------------------------------------------------------------


def _continuous(n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.2, 0.8, size=n)
    variant = np.clip(base + shift + rng.normal(0, 0.1, size=n), 0, 1)
    return base, variant


def test_bootstrap_ci_covers_true_delta_and_is_reproducible() -> None:
    base, variant = _continuous(400, 0.03, seed=1)
    result = compare(base, variant, seed=7)
    assert result.method == "bootstrap"
    assert result.ci[0] < 0.03 < result.ci[1]
    assert result.ci[0] < result.delta < result.ci[1]
    assert result.p < 0.01
    assert compare(base, variant, seed=7) == result
    assert compare(base, variant, seed=8).ci != result.ci


def test_bootstrap_p_is_large_without_an_effect_and_floored_with_one() -> None:
    base, variant = _continuous(300, 0.0, seed=2)
    assert compare(base, variant).p > 0.05
    base, variant = _continuous(300, 0.2, seed=3)
    assert compare(base, variant, n_boot=500).p == pytest.approx(1 / 500)


def test_cluster_bootstrap_is_wider_when_clusters_share_an_effect() -> None:
    rng = np.random.default_rng(4)
    base = rng.uniform(0.3, 0.7, size=200)
    cluster_shift = np.repeat(rng.normal(0.02, 0.08, size=10), 20)
    variant = np.clip(base + cluster_shift + rng.normal(0, 0.01, size=200), 0, 1)
    clusters = [f"c{i // 20}" for i in range(200)]
    by_doc = compare(base, variant)
    by_cluster = compare(base, variant, clusters)
    assert by_cluster.delta == by_doc.delta
    assert by_cluster.ci[1] - by_cluster.ci[0] > 2 * (by_doc.ci[1] - by_doc.ci[0])


# --- noise floor ----------------------------------------------------------------------------------


def test_noise_floor_from_repeats() -> None:
    repeats = [[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0]]  # means .5, .75, .25
    floor = noise_floor(repeats)
    assert floor.means == (0.5, 0.75, 0.25)
    assert floor.n_repeats == 3
    assert floor.sd == pytest.approx(0.25)
    # 1.96 · 0.25 = 0.49 < the observed spread .75 − .25 = 0.5
    assert floor.half_width == pytest.approx(0.5)


def test_noise_floor_takes_the_larger_of_sd_and_spread() -> None:
    # Two repeats: sd = |a − b|/sqrt(2), so 1.96·sd exceeds the spread.
    two = noise_floor([[0.5, 0.5], [0.6, 0.6]])
    assert two.sd == pytest.approx(0.1 / math.sqrt(2))
    assert two.half_width == pytest.approx(1.959964 * 0.1 / math.sqrt(2))
    # Many tightly packed repeats and one outlier: the spread dominates.
    floor = noise_floor([[0.5] * 4] * 9 + [[0.6] * 4])
    assert floor.half_width == pytest.approx(0.1)
    assert noise_floor([[0.7, 0.3]]) == NoiseFloor(0.0, 0.0, 1, (0.5,))


def test_noise_floor_macro_over_clusters() -> None:
    floor = noise_floor([[1, 1, 1, 0], [1, 1, 1, 1]], clusters=["a", "a", "a", "b"])
    assert floor.means == (0.5, 1.0)


def test_noise_floor_rejects_mismatched_repeats() -> None:
    with pytest.raises(ValueError):
        noise_floor([[1, 0], [1]])
    with pytest.raises(ValueError):
        noise_floor([])


# --- holm -----------------------------------------------------------------------------------------


def test_holm_known_example() -> None:
    result = holm({"a": 0.01, "b": 0.04, "c": 0.03}, alpha=0.05)
    assert list(result) == ["a", "b", "c"]
    assert result["a"] == (pytest.approx(0.03), True)
    assert result["b"] == (pytest.approx(0.06), False)
    assert result["c"] == (pytest.approx(0.06), False)


def test_holm_is_monotone_and_capped() -> None:
    result = holm({"x": 0.3, "y": 0.001, "z": 0.9, "w": 0.5})
    adjusted = sorted(result.values())
    assert all(p <= 1.0 for p, _ in adjusted)
    assert result["y"] == (pytest.approx(0.004), True)
    assert result["x"][0] == pytest.approx(0.9)
    assert result["w"][0] == pytest.approx(1.0)
    assert result["z"][0] == pytest.approx(1.0)
    assert holm({}) == {}


def test_holm_rejects_invalid_p() -> None:
    with pytest.raises(ValueError):
        holm({"a": 1.5})


# --- closes ---------------------------------------------------------------------------------------


def test_closes_positive_toward_reported_with_negative_gap() -> None:
    # Reported .60, yours .70: gap −.10. A variant that lowers your score by .05 closes half.
    share, ci = closes(-0.10, -0.05, (-0.08, -0.02))
    assert share == pytest.approx(0.5)
    assert ci == pytest.approx((0.2, 0.8))
    assert ci[0] <= ci[1]
    away, _ = closes(-0.10, 0.05, (0.02, 0.08))
    assert away < 0


def test_closes_zero_gap() -> None:
    assert closes(0.0, 0.05, (0.01, 0.09)) == (0.0, (0.0, 0.0))


# --- minimum detectable effect --------------------------------------------------------------------


def test_mde_shrinks_with_n_and_matches_the_formula() -> None:
    base = [1.0] * 60 + [0.0] * 40
    small = minimum_detectable_effect(base, n=100)
    large = minimum_detectable_effect(base, n=1000)
    assert large < small
    assert small / large == pytest.approx(math.sqrt(10))
    assert small == pytest.approx((1.959964 + 0.841621) * math.sqrt(2 * 0.6 * 0.4 / 100), rel=1e-5)
    assert minimum_detectable_effect(base, discordance=0.1) < small


def test_mde_continuous() -> None:
    base = np.linspace(0, 1, 51)
    mde = minimum_detectable_effect(base)
    expected = (1.959964 + 0.841621) * base.std(ddof=1) / math.sqrt(51) * math.sqrt(2)
    assert mde == pytest.approx(expected, rel=1e-5)


# --- shapley --------------------------------------------------------------------------------------


def test_shapley_additive_game_returns_individual_effects() -> None:
    effects = {"template": 0.05, "metric": 0.10, "stop": -0.02}
    result = shapley(lambda s: 0.40 + sum(effects[p] for p in s), list(effects))
    assert result == pytest.approx(effects)


def test_shapley_splits_an_interaction_equally_and_sums_to_total() -> None:
    def value(s: frozenset[str]) -> float:
        score = 0.30 + 0.04 * ("a" in s)
        if {"b", "c"} <= s:  # b and c only help together
            score += 0.12
        return score

    players = ["a", "b", "c", "d"]
    result = shapley(value, players)
    assert result["a"] == pytest.approx(0.04)
    assert result["b"] == pytest.approx(0.06)
    assert result["c"] == pytest.approx(0.06)
    assert result["d"] == pytest.approx(0.0)
    assert sum(result.values()) == pytest.approx(value(frozenset(players)) - value(frozenset()))


def test_shapley_calls_each_coalition_once_and_limits_players() -> None:
    calls: list[frozenset[str]] = []

    def value(s: frozenset[str]) -> float:
        calls.append(s)
        return float(len(s) ** 2)

    players = ["p1", "p2", "p3", "p4", "p5"]
    result = shapley(value, players)
    assert len(calls) == 2**5 == len(set(calls))
    assert set(calls) == {frozenset(c) for k in range(6) for c in combinations(players, k)}
    assert sum(result.values()) == pytest.approx(25.0)
    with pytest.raises(ValueError):
        shapley(value, [f"p{i}" for i in range(7)])
    assert shapley(value, []) == {}
