"""Which findings count, and in what order: significance, causes and the ranking.

A finding is *significant* when its paired test survives Holm's correction and its effect is
larger than the noise floor. Holm runs in two families: the variants that test a fact the report
states (a few hypotheses fixed before looking) and the exploratory rest (many plausible values);
pooling them would let a dozen prompt-format guesses drown the one test the report asked for.
A variant stopped on its screening subset is never significant (it was stopped because the
subset showed it could not be a cause).

A *cause* is a significant effect that moves your score toward the reported one without carrying
it further past the report than it started: closes in (0, 2). An identical-setting repeat (another
seed, another batch size) measures noise and is never a cause, nor ranked. The ranking lists each
check's most explaining finding, causes first, then by how much of the gap they explain.

Causes that each close the gap alone and score (almost) every doc alike are one explanation said
several ways (comparing the whole generation with a prefix match, or extracting its last number,
can change exactly the same docs): the data cannot tell them apart. Across checks they share a
`group` number and stay together, the one a stated fact supports first; within one check the
best is ranked and the others are named beside it (`alike`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

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


AGREE = 0.95        # share of docs two fixes must score alike to be one explanation
ALONE = 0.5         # explains() at least this: the fix closes the gap alone (50% to 150%)


def is_cause(f: Finding) -> bool:
    """A significant effect that moves your score toward the reported one without carrying it
    further past the report than it started (closes in (0, 2)); never a noise repeat."""
    return f.significant and not f.variant.repeat and explains(f) > 0


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


def rank(results: dict[str, CheckResult], known: Mapping[str, Any]) -> list[Finding]:
    """Each check's most explaining finding (repeats aside), causes first, best explanation
    first; equivalent causes grouped."""
    best = []
    for r in results.values():
        candidates = [f for f in r.findings if not f.variant.repeat] if r.status == "done" else []
        if not candidates:
            continue
        top = max(candidates, key=lambda f: (is_cause(f), explains(f)))
        # Another variant of the same check that explains the gap as well, on the same docs, is
        # the same explanation said otherwise ("choices as A." and "choices as A)" can both undo
        # a numbering): it is named beside the best one, not ranked on its own.
        alike = tuple((f.variant.name, agreement(f, top)) for f in candidates if f is not top and alternative(f, top))
        best.append(replace(top, alike=alike))
    return group_alternatives(sorted(best, key=lambda f: (not is_cause(f), -explains(f))), known)


def alternative(f: Finding, g: Finding) -> bool:
    """Both close the gap alone, in the same round, and score (almost) every doc alike."""
    return (is_cause(f) and is_cause(g) and explains(f) >= ALONE and explains(g) >= ALONE
            and f.round == g.round and agreement(f, g) >= AGREE)


def agreement(a: Finding, b: Finding) -> float:
    """The share of docs on which two full-run variants score the same."""
    if not a.per_doc or len(a.per_doc) != len(b.per_doc):
        return 0.0
    return sum(abs(x - y) < 1e-9 for x, y in zip(a.per_doc, b.per_doc)) / len(a.per_doc)


def contradicts(f: Finding, known: Mapping[str, Any]) -> bool:
    """The fix sets a key the report states to another value."""
    return any(key in known and str(known[key]) != str(value) for key, value in f.variant.changes)


def group_alternatives(ordered: list[Finding], known: Mapping[str, Any]) -> list[Finding]:
    """`ordered` with equivalent causes given one group number and kept together, at the place
    of the best of them; within a group a fix the report's facts support comes first and one
    they contradict last."""
    groups: list[list[Finding]] = []
    for f in (replace(f, group=0) for f in ordered):
        home = next((g for g in groups if alternative(f, g[0])), None)
        if home is None:
            groups.append([f])
        else:
            home.append(f)
    out: list[Finding] = []
    number = 0
    for g in groups:
        if len(g) == 1:
            out += g
            continue
        number += 1
        g = sorted(g, key=lambda f: (not f.variant.known, contradicts(f, known), -explains(f)))
        out += [replace(f, group=number) for f in g]
    return out
