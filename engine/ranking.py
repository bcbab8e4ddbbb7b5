"""Which findings count, and in what order: significance, causes and the ranking.

A finding is *significant* when its paired test survives Holm's correction and its effect is
larger than the noise floor. Holm runs in two families: the variants that test a fact the report
states (a few hypotheses fixed before looking) and the exploratory rest (many plausible values);
pooling them would let a dozen prompt-format guesses drown the one test the report asked for.
A variant stopped on its screening subset is never significant (it was stopped because the
subset showed it could not be a cause).

A *cause* is a significant effect that moves your score toward the reported one without carrying
it further past the report than it started: closes in (0, 2). The ranking lists each check's most
explaining finding, causes first, then by how much of the gap they explain.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from scoregap.engine import stats
from scoregap.engine.checks_api import CheckResult, Finding


def holm_by_family(findings: Mapping[str, Finding]) -> dict[str, bool]:
    """Holm's rejections, the stated facts and the exploratory variants as two families."""
    rejected: dict[str, bool] = {}
    for known in (True, False):
        family = {k: f.p for k, f in findings.items() if f.variant.known == known}
        rejected.update({k: reject for k, (_, reject) in stats.holm(family).items()})
    return rejected


def explains(f: Finding) -> float:
    """How much of the gap a finding explains: 1 when it closes it exactly, less when it falls
    short or overshoots, negative when it widens the gap."""
    return 1.0 - abs(1.0 - f.closes) if f.closes > 0 else f.closes


def is_cause(f: Finding) -> bool:
    """A significant effect that moves your score toward the reported one without carrying it
    further past the report than it started (closes in (0, 2))."""
    return f.significant and explains(f) > 0


def with_significance(findings: list[Finding], floor: float) -> list[Finding]:
    """The findings (one family pair) with `significant` set: Holm, beyond the floor, not screened."""
    rejected = holm_by_family({str(i): f for i, f in enumerate(findings)})
    return [replace(f, significant=rejected[str(i)] and abs(f.delta) > floor and not f.screened)
            for i, f in enumerate(findings)]


def mark_significance(results: dict[str, CheckResult], floor: float) -> None:
    """Holm across every finding of every finished check, in place."""
    done = [(cid, i) for cid, r in results.items() if r.status == "done" for i in range(len(r.findings))]
    marked = with_significance([results[cid].findings[i] for cid, i in done], floor)
    for (cid, i), f in zip(done, marked):
        results[cid].findings[i] = f


def rank(results: dict[str, CheckResult]) -> list[Finding]:
    """Each check's most explaining finding, causes first, best explanation first."""
    best = [max(r.findings, key=lambda f: (is_cause(f), explains(f)))
            for r in results.values() if r.status == "done" and r.findings]
    return sorted(best, key=lambda f: (not is_cause(f), -explains(f)))
