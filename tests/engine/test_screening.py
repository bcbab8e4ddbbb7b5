"""Screening's rules on their own: the looks, the random order they take prefixes of, the interim
CI that spends the error rate over the looks, and the drift margin of another backend."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from scoregap.engine import screening, stats


def test_a_variant_is_looked_at_on_growing_subsets_each_at_most_half_the_docs() -> None:
    assert screening.looks(1000) == [60, 120, 240, 1000]
    assert screening.looks(300) == [60, 120, 300]
    assert screening.looks(160) == [60, 160]
    assert screening.looks(100) == [100]          # too few docs to gain from a look


def test_the_looks_take_prefixes_of_one_fixed_random_order() -> None:
    first, again = screening.order(500), screening.order(500)
    assert first == again and sorted(first) == list(range(500))
    # A task sorted by subtask (five subjects of 100) gives the first look a sample of each.
    subjects = {position // 100 for position in first[:60]}
    assert subjects == {0, 1, 2, 3, 4}


def test_an_interim_look_judges_by_a_wider_ci_than_the_final_95() -> None:
    base = [0.0] * 120
    variant = [1.0] * 12 + [0.0] * 108
    c = stats.compare(base, variant)
    low, high = screening.interim_ci(c, 4)                    # 98.75%: Bonferroni over four looks
    assert low < c.ci[0] and high > c.ci[1]
    assert high - low == pytest.approx((c.ci[1] - c.ci[0]) * 2.4977 / stats.Z_95, rel=1e-3)
    assert screening.interim_ci(c, 1) == pytest.approx(c.ci)   # one look: the ordinary 95% CI
    same = stats.compare(base, base)
    assert screening.interim_ci(same, 4) == (0.0, 0.0)


def _run(lls: dict[int, list[float]]) -> SimpleNamespace:
    return SimpleNamespace(scores=[SimpleNamespace(doc_id=d, raw={"loglikelihoods": v}) for d, v in lls.items()])


def test_another_backend_widens_the_flip_margin_to_what_its_sample_drifted() -> None:
    yours = _run({0: [-1.0, -2.0], 1: [-3.0, -1.5], 2: [-0.5, -0.6]})
    sample = _run({0: [-1.0, -2.03], 1: [-3.01, -1.5]})       # doc 2 not sampled
    assert screening.drift_margin(yours, sample) == pytest.approx(2 * screening.DRIFT_SAFETY * 0.03)
    assert screening.drift_margin(yours, _run({0: [-1.0, -2.0]})) == 0.0


def test_a_gap_within_the_noise_floor_settles_every_variant_at_once() -> None:
    """With the verdict "within noise" no variant can be a cause: a wide CI that would run on to
    every doc for a real gap stops at the first look."""
    from scoregap.engine.screening import NO_GAP, settled

    wide = (-0.15, 0.12)
    assert settled(wide, floor=0.05, gap=0.10) == ""          # a real gap: not settled yet
    assert settled(wide, floor=0.05, gap=0.04) == NO_GAP      # within the floor: settled
    assert settled(wide, floor=0.05, gap=-0.05) == NO_GAP
    assert settled((-0.01, 0.02), floor=0.05, gap=0.0) == "inside the noise floor"   # that reason first
