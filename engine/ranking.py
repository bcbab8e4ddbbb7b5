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

When the session names two logged runs, what they show is evidence too (`RunsEvidence`): among
causes, a fix that sets a key the runs recorded differently to the reported run's value comes
first, and a fix that only changes the prompt comes last when the runs fed every shared doc the
same prompt (it cannot be why those two runs differ). The evidence orders causes; it never makes
a finding significant or a cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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


PROMPT_KEYS = ("prompt.", "fewshot.", "chat.")
"""Setup sections whose every key changes only the strings the model is fed."""


@dataclass(frozen=True)
class RunsEvidence:
    """What two logged runs, compared doc by doc (engine/run_comparison.py), say about a fix."""

    differing: Mapping[str, Any] = field(default_factory=dict)   # key the runs record differently -> reported value
    prompts_identical: bool = False      # every doc both runs logged was fed the same strings

    @classmethod
    def from_comparison(cls, comparison: Mapping[str, Any] | None) -> RunsEvidence:
        """From `RunComparison.to_dict()` (the report's runs.comparison); none: no evidence."""
        if not comparison:
            return cls()
        differing = {d["key"]: d["reported"] for d in comparison["differences"] if "." in d["key"]}
        same = comparison["matched"] > 0 and comparison["identical_prompts"] == comparison["matched"]
        return cls(differing, same)

    def support(self, f: Finding) -> int:
        """1: the fix sets a key the runs differ on to the reported run's value; -1: it changes
        only the prompt, which the runs show was the same; 0: the runs say nothing of it."""
        changes = dict(f.variant.changes)
        if any(key in changes and _same_value(changes[key], value) for key, value in self.differing.items()):
            return 1
        if self.prompts_identical and changes and all(k.startswith(PROMPT_KEYS) for k in changes):
            return -1
        return 0


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b or str(a) == str(b)


def rank(results: dict[str, CheckResult], known: Mapping[str, Any],
         runs: RunsEvidence = RunsEvidence()) -> list[Finding]:
    """Each check's most explaining finding (repeats aside), causes first, those the runs
    support before the rest, best explanation first; equivalent causes grouped."""
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
    order = sorted(best, key=lambda f: (not is_cause(f), -runs.support(f) if is_cause(f) else 0, -explains(f)))
    return group_alternatives(order, known, runs)


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


def group_alternatives(ordered: list[Finding], known: Mapping[str, Any],
                       runs: RunsEvidence = RunsEvidence()) -> list[Finding]:
    """`ordered` with equivalent causes given one group number and kept together, at the place
    of the best of them; within a group a fix the report's facts or the runs support comes first
    and one they contradict last."""
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
        g = sorted(g, key=lambda f: (not f.variant.known, -runs.support(f), contradicts(f, known), -explains(f)))
        out += [replace(f, group=number) for f in g]
    return out
