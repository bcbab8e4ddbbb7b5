"""The diagnosis finds what was planted: on every demo scenario, a real headless diagnosis with
the trained demo model must rank the planted checks where issue 4 says, explain the scale
scenario with zero model calls, call the noise-only scenario within noise, and reconcile.

To fit the suite's time budget each scenario runs on its first LIMIT docs (the docs are shuffled,
so both subtasks are there in proportion), and its reported score is what the reference setup
really scores on those same docs — computed here, the way scripts/demo_world.py computes the
sessions' numbers on all of them. `scoregap demo --headless NAME` runs the full scenario.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from scoregap.checks import CHECKS
from scoregap.engine.cache import Cache
from scoregap.engine.presets import load_setup
from scoregap.engine.ranking import is_cause
from scoregap.engine.run import DiagnosisRun
from scoregap.engine.session import load_session
from scoregap.profiles import scenarios

LIMIT = 120

SCENARIOS = {s.name: s.path for s in scenarios()}
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SCENARIOS, reason="the demo world's model and sessions are not committed yet (issue 3)"),
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return Cache(tmp_path_factory.mktemp("diagnosis-cache"))


def diagnose(name, cache, checks=None):
    session = load_session(SCENARIOS[name])
    engine = DiagnosisRun.open(session, cache=cache).engine
    reported = engine.evaluate(load_setup(session.reported_setup, relative_to=Path(session.path).parent),
                               LIMIT).result.score
    if name == "leaderboard-scale":     # the leaderboard's (s - 1/k) / (1 - 1/k), k = 4 choices
        reported = (reported - 0.25) / 0.75
    run = DiagnosisRun.open(replace(session, reported_score=reported, limit=LIMIT), cache=cache,
                            checks=[c for c in CHECKS if checks is None or c.id in checks], limit=LIMIT)
    run.run_all()
    return run.diagnosis


def causes(d):
    return [f.variant.check for f in d.ranking if is_cause(f)]


@pytest.mark.parametrize("name", [n for n in SCENARIOS if len(load_session(SCENARIOS[n]).truth) == 1
                                  and n != "leaderboard-scale"])
def test_single_cause_scenarios_rank_the_planted_check_first(name, cache):
    d = diagnose(name, cache)
    planted = load_session(SCENARIOS[name]).truth[0]
    assert d.verdict == "gap"
    assert causes(d) and causes(d)[0] == planted, [(f.variant.check, f.variant.name, f.closes) for f in d.ranking]
    assert d.reconciliation is not None and d.reconciliation.within_noise
    # Re-reading stored outputs is free: metric (but acc_mutual_info, which needs each choice's
    # unconditional loglikelihood), scale and normalization variants make no model call.
    for cid in ("metric", "normalization"):
        for f in d.results[cid].findings:
            if dict(f.variant.changes).get("scoring.metric") != "acc_mutual_info":
                assert f.calls == 0, (cid, f.variant.name, f.calls)


@pytest.mark.parametrize("name", [n for n in SCENARIOS if len(load_session(SCENARIOS[n]).truth) == 2])
def test_two_cause_scenarios_have_both_planted_checks_in_the_top_three(name, cache):
    d = diagnose(name, cache)
    planted = set(load_session(SCENARIOS[name]).truth)
    assert planted <= set(causes(d)[:3]), [(f.variant.check, f.variant.name, f.closes) for f in d.ranking]
    assert d.reconciliation is not None and d.reconciliation.within_noise


def test_the_scale_scenario_is_explained_by_metric_at_zero_model_calls(cache):
    d = diagnose("leaderboard-scale", cache, checks={"metric"})
    assert causes(d)[:1] == ["metric"]
    assert d.ranking[0].variant.transform == "rescaled" and d.ranking[0].calls == 0


def test_the_noise_only_scenario_is_within_noise_with_no_significant_check(cache):
    d = diagnose("seed-only", cache)
    assert d.verdict == "within_noise"
    assert causes(d) == [] and d.reconciliation is None
