"""Reconciliation: the causes' fixes applied together, further rounds, and the Shapley split.

`reconcile` takes the causes in ranking order and applies their fixes to your setup one by one,
keeping a fix only if the combined score comes closer to the reported one: several checks can
each explain the same gap alone (a rescaled number, or a prompt that happens to score as low),
and applying those alternatives together would overshoot. Shapley values then split the gap
among the fixes of the top ≤ 4 checks (fixes interact, so their single effects need not add up).

`next_round`: two departures can hide each other (with the chat template on, the choice labels
may not matter at all), so when the fixes together still miss the reported score beyond noise,
every other check's variants run again on top of them. Such a finding is compared with the fixed
setup on the same docs, and its `closes` is a fraction of the gap *left* after those fixes (what
it is asked to close; a fraction of the original gap would call a variant that overshoots the
remainder a partial fix). Holm runs within the round; the best cause of each check joins the
ranking, marked with the fixes it was found after.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from scoregap.engine import ranking, stats
from scoregap.engine.cache import CacheError
from scoregap.engine.checks_api import Finding, Variant
from scoregap.engine.errors import InputError
from scoregap.engine.noise import Floor
from scoregap.engine.setup import Setup

if TYPE_CHECKING:
    from scoregap.engine.diagnosis import Diagnosis

ROUNDS = 3                  # fix-and-look-again rounds at most
SHAPLEY_PLAYERS = 4


@dataclass
class Reconciliation:
    setup: Setup
    applied: list[Variant]
    score: float
    residual: float                  # reported - reconciled
    within_noise: bool               # |residual| within the floor measured at the reconciled setup
    shapley: dict[str, float] = field(default_factory=dict)   # check -> share of the gap (fraction)
    floor: Floor | None = None       # the noise floor at the reconciled setup


def transform_of(applied: list[Variant]) -> str:
    """The re-reading (scale or average) among the applied fixes, if any."""
    return next((v.transform for v in applied if v.transform), "")


def combine(yours: Setup, fixes: list[Variant]) -> tuple[Setup, list[Variant]]:
    """Apply fixes in order; a later fix that touches an already-set key is left out, and so
    is a second re-reading (scale or average) of the outputs."""
    changes: dict[str, Any] = {}
    applied: list[Variant] = []
    for v in fixes:
        if v.transform or any(k in changes for k, _ in v.changes):
            if v.transform and not any(a.transform for a in applied):
                applied.append(v)
            continue
        changes.update(dict(v.changes))
        applied.append(v)
    setup = yours.with_values(changes, origin="reconciliation") if changes else yours
    return setup, applied


def score_with(d: Diagnosis, fixes: list[Variant]) -> float:
    values = d.evaluate_fixes(fixes)[1]
    return sum(values) / len(values)


def reconcile(d: Diagnosis) -> Reconciliation | None:
    assert d.noise is not None
    reported = d.session.reported_score
    fixes: list[Variant] = []
    score = d.yours_score
    for f in d.ranking:
        if not ranking.is_cause(f):
            continue
        trial = score_with(d, fixes + [f.variant])
        if abs(reported - trial) < abs(reported - score) - 1e-12:
            fixes.append(f.variant)
            score = trial
    if not fixes:
        return None
    setup, applied = combine(d.session.yours, fixes)
    residual = reported - score
    players = [v.check for v in applied][:SHAPLEY_PLAYERS]
    by_check = {v.check: v for v in applied}
    memo: dict[frozenset[str], float] = {}

    def value(coalition: frozenset[str]) -> float:
        if coalition not in memo:
            memo[coalition] = score_with(d, [by_check[c] for c in players if c in coalition])
        return memo[coalition]

    shares = stats.shapley(value, players) if len(players) > 1 else (
        {players[0]: score - d.yours_score} if players else {})
    # The residual is judged against the noise of the reconciled setup, not of yours: fixing
    # sampling to greedy removes the sampling noise that made your floor wide.
    floor = d.floor_at(d.evaluate_fixes(applied)[0], transform_of(applied), "the reconciled setup")
    return Reconciliation(setup, applied, score, residual, abs(residual) <= floor.half_width, shares, floor)


def next_round(d: Diagnosis, rec: Reconciliation, round_: int) -> list[Finding]:
    """Causes that show only once the fixes found so far are applied (see the module docstring)."""
    assert rec.floor is not None
    fixed = {v.check for v in rec.applied}
    base_ev, base = d.evaluate_fixes(rec.applied)
    docs = [s.doc_id for s in base_ev.scores]
    left = d.session.reported_score - sum(base) / len(base)
    transform = transform_of(rec.applied)
    context = d.context()
    after = tuple(v.name for v in rec.applied)
    candidates: list[Finding] = []
    for check in d.checks:
        result = d.results.get(check.id)
        if check.id in fixed or result is None or result.status != "done":
            continue
        try:
            variants = [v for v in check.variants(rec.setup, context) if not v.repeat]
        except CacheError:
            raise
        except InputError:
            continue
        for i, variant in enumerate(variants, start=1):
            if variant.transform and transform:
                continue   # one re-reading of the outputs at a time
            d.set_step(check.id, f"{variant.name} (round {round_})", i, len(variants))
            before = d.engine.calls.total
            try:
                scores, outputs = d.variant_values(variant, None, base_ev, transform)
            except CacheError:
                raise
            except InputError:
                continue
            candidates.append(d.finding(variant, base, scores, docs, before, left, outputs,
                                        round=round_, after=after, per_doc=tuple(scores)))
    judged = ranking.with_significance(candidates, rec.floor.half_width)
    best: dict[str, Finding] = {}
    for f in judged:
        if ranking.is_cause(f) and (f.variant.check not in best
                                    or ranking.explains(f) > ranking.explains(best[f.variant.check])):
            best[f.variant.check] = f
    found = [replace(top, alike=tuple((f.variant.name, ranking.agreement(f, top)) for f in judged
                                      if f.variant.check == top.variant.check and f is not top
                                      and ranking.alternative(f, top)))
             for top in best.values()]
    return sorted(found, key=lambda f: -ranking.explains(f))
