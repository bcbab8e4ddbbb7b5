"""Diagnosis rules that need no model: which findings count as causes, and how Holm's correction
treats a fact the report states among many exploratory guesses."""

from __future__ import annotations

from scoregap.engine import stats
from scoregap.engine.checks_api import Finding, Variant
from scoregap.engine.ranking import holm_by_family, is_cause


def finding(p: float, closes: float = 0.5, known: bool = False, significant: bool = True, name: str = "v") -> Finding:
    return Finding(Variant("prompt", name, (("prompt.choice_labels", "a"),), known=known),
                   0.5, 0.05, (0.01, 0.09), p, closes, (closes - 0.1, closes + 0.1), 100, "mcnemar", significant)


def test_a_stated_fact_is_not_drowned_by_thirty_exploratory_guesses():
    findings = {"known": finding(0.0034, known=True)}
    findings.update({f"guess{i}": finding(0.4, name=f"g{i}") for i in range(30)})
    assert holm_by_family(findings)["known"]
    pooled = stats.holm({k: f.p for k, f in findings.items()})
    assert not pooled["known"][1]          # what the single family used to conclude


def test_exploratory_guesses_are_still_corrected_among_themselves():
    findings = {f"guess{i}": finding(0.004, name=f"g{i}") for i in range(30)}
    assert not any(holm_by_family(findings).values())


def test_a_cause_moves_your_score_toward_the_report_without_carrying_it_past_where_it_began():
    assert is_cause(finding(0.001, closes=1.0))
    assert is_cause(finding(0.001, closes=0.3))
    assert not is_cause(finding(0.001, closes=-0.5))               # widens the gap
    assert not is_cause(finding(0.001, closes=2.5))                # overshoots by more than the gap
    assert not is_cause(finding(0.5, closes=1.0, significant=False))
