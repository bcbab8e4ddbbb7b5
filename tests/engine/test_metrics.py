"""Metrics and aggregation: the choices that move a reported number without any model change."""

from __future__ import annotations

import math
import threading

import pytest

from scoregap.engine.metrics import (
    ALL_METRICS,
    GEN_METRICS,
    MC_METRICS,
    Aggregate,
    aggregate,
    metric_kind,
    predicted_choice,
    score_choices,
    score_generation,
)

# The long choice has the lower total logprob but the higher logprob per character.
SHORT_AND_LONG = (["Paris", "the capital city of France"], [-5.0, -8.0])


def test_acc_and_acc_norm_disagree_on_a_long_choice() -> None:
    targets, lls = SHORT_AND_LONG
    assert predicted_choice("acc", lls, targets) == 0
    assert predicted_choice("acc_norm", lls, targets) == 1
    assert score_choices("acc", lls, targets, 1) == 0.0
    assert score_choices("acc_norm", lls, targets, 1) == 1.0


def test_acc_bytes_counts_utf8_bytes_not_characters() -> None:
    targets, lls = ["éé", "abc"], [-3.0, -4.0]  # 2 chars/4 bytes vs 3 chars/3 bytes
    assert predicted_choice("acc_norm", lls, targets) == 1
    assert predicted_choice("acc_bytes", lls, targets) == 0


def test_acc_token_divides_by_token_count() -> None:
    targets, lls = ["a", "b"], [-2.0, -6.0]
    assert predicted_choice("acc_token", lls, targets, n_tokens=[1, 4]) == 1
    with pytest.raises(ValueError):
        predicted_choice("acc_token", lls, targets)


def test_acc_mutual_info_flips_a_prediction() -> None:
    # Choice 1 is unlikely on its own, so the question raised it the most.
    targets, lls, unconditional = ["yes", "no"], [-2.0, -3.0], [-1.0, -5.0]
    assert score_choices("acc", lls, targets, 1) == 0.0
    assert score_choices("acc_mutual_info", lls, targets, 1, unconditional=unconditional) == 1.0
    with pytest.raises(ValueError):
        score_choices("acc_mutual_info", lls, targets, 1)


def test_ties_go_to_the_first_choice() -> None:
    assert predicted_choice("acc", [-1.0, -1.0, -2.0], ["x", "y", "z"]) == 0
    assert predicted_choice("acc_norm", [-2.0, -4.0], ["ab", "abcd"]) == 0


def test_gold_list_is_any_of() -> None:
    assert score_choices("acc", [-1.0, -2.0, -3.0], ["x", "y", "z"], [2, 0]) == 1.0
    assert score_choices("acc", [-1.0, -2.0, -3.0], ["x", "y", "z"], [1, 2]) == 0.0


def test_generative_metrics_differ_on_the_same_answer() -> None:
    assert score_generation("exact_match", "The Paris.", ["paris"]) == 0.0
    assert score_generation("quasi_exact_match", "The Paris.", ["paris"]) == 1.0
    assert score_generation("prefix_exact_match", " Paris, of course", ["Paris"]) == 1.0
    assert score_generation("suffix_exact_match", "It is Paris ", ["Paris"]) == 1.0
    assert score_generation("prefix_exact_match", "", [""]) == 0.0


def test_generation_takes_the_best_gold() -> None:
    assert score_generation("exact_match", "NYC", ["New York", "NYC"]) == 1.0


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [("0.5", 1.0), (r"\frac{1}{2}", 1.0), ("0.6", 0.0), ("no idea", 0.0)],
)
def test_math_equiv(prediction: str, expected: float) -> None:
    assert score_generation("math_equiv", prediction, ["1/2"]) == expected


def test_math_equiv_works_outside_the_main_thread() -> None:
    # The TUI scores in thread workers, where math-verify's signal-based timeouts would fail.
    results: list[float] = []
    worker = threading.Thread(
        target=lambda: results.append(score_generation("math_equiv", "0.5", [r"\frac{1}{2}"]))
    )
    worker.start()
    worker.join()
    assert results == [1.0]


def test_metric_kind() -> None:
    assert ALL_METRICS == MC_METRICS + GEN_METRICS
    assert {metric_kind(m) for m in MC_METRICS} == {"loglikelihood"}
    assert {metric_kind(m) for m in GEN_METRICS} == {"generate"}
    with pytest.raises(ValueError):
        metric_kind("accuracy")


def test_micro_stderr_is_the_hand_computed_value() -> None:
    # mean .75; squared deviations 3 * .0625 + .5625 = .75; / (n-1) = .25; sqrt .5; / sqrt(4) = .25
    assert aggregate([1, 0, 1, 1]) == Aggregate(score=0.75, stderr=0.25, n=4)


def test_micro_stderr_matches_lm_eval() -> None:
    lm_metrics = pytest.importorskip("lm_eval.api.metrics")
    scores = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    assert aggregate(scores).stderr == lm_metrics.mean_stderr(scores)


def test_macro_differs_from_micro_with_unequal_subtasks() -> None:
    scores = [1, 1, 1, 0, 0, 1]
    subtasks = ["a", "a", "a", "a", "b", "b"]  # a: 3/4, b: 1/2
    assert aggregate(scores, subtasks).score == pytest.approx(4 / 6)
    macro = aggregate(scores, subtasks, how="macro")
    assert macro.score == 0.625
    # se_a = .25 (as above); se_b = sqrt(.5) / sqrt(2) = .5; sqrt(.0625 + .25) / 2
    assert macro.stderr == pytest.approx(math.sqrt(0.3125) / 2)
    assert macro.n == 6


def test_macro_single_doc_subtask_adds_no_variance() -> None:
    macro = aggregate([1, 0, 1], ["a", "a", "b"], how="macro")
    assert macro.score == 0.75
    assert macro.stderr == pytest.approx(0.25)  # sqrt(.5**2 + 0) / 2


def test_aggregate_edge_cases() -> None:
    assert math.isnan(aggregate([1.0]).stderr)
    assert aggregate([1, 0], how="macro") == aggregate([1, 0])
    with pytest.raises(ValueError):
        aggregate([])
    with pytest.raises(ValueError):
        aggregate([1, 0], ["a"], how="macro")


def test_the_pick_equals_numpys_argmax_on_ties_empty_choices_and_nan() -> None:
    """The picks are computed in plain Python (a few floats per doc, numpy's overhead dominated
    a warm diagnosis); they must be numpy's: the first maximum, x/0 as -inf or nan, the first NaN."""
    import random

    import numpy as np

    rng = random.Random(7)
    for _ in range(2000):
        n = rng.randint(1, 5)
        lls = [rng.choice([-1.0, -2.0, 0.0, -0.5, float("nan"), rng.uniform(-9, 0)]) for _ in range(n)]
        targets = [rng.choice(["", "a", "ab", "été", "abcd"]) for _ in range(n)]
        tokens = [rng.randint(0, 3) for _ in range(n)]
        unconditional = [rng.uniform(-5, 0) for _ in range(n)]
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = {
                "acc": np.argmax(np.array(lls)),
                "acc_norm": np.argmax(np.array(lls) / np.array([len(t) for t in targets], dtype=float)),
                "acc_bytes": np.argmax(np.array(lls) / np.array([len(t.encode()) for t in targets], dtype=float)),
                "acc_token": np.argmax(np.array(lls) / np.array(tokens, dtype=float)),
                "acc_mutual_info": np.argmax(np.array(lls) - np.array(unconditional)),
            }
        for metric, pick in expected.items():
            got = predicted_choice(metric, lls, targets, n_tokens=tokens, unconditional=unconditional)
            assert got == int(pick), (metric, lls, targets, tokens)
