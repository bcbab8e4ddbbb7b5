"""Diagnosis rules that need no model: which findings count as causes, and how Holm's correction
treats a fact the report states among many exploratory guesses."""

from __future__ import annotations

from dataclasses import replace

from scoregap.engine import stats
from scoregap.engine.checks_api import CheckResult, Finding, Variant
from scoregap.engine.ranking import RunsEvidence, holm_by_family, is_cause, rank


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


def _cause(check: str, changes: tuple, closes: float) -> Finding:
    return Finding(Variant(check, f"{check} fix", changes), 0.5, 0.05, (0.01, 0.09), 0.001, closes,
                   (closes - 0.1, closes + 0.1), 100, "mcnemar", significant=True)


def _ranked(findings: list[Finding], evidence: RunsEvidence) -> list[str]:
    results = {f.variant.check: CheckResult(f.variant.check, "done", [f]) for f in findings}
    return [f.variant.check for f in rank(results, {}, evidence)]


def test_a_cause_the_two_runs_show_is_ranked_before_one_that_explains_more_without_them():
    shots = _cause("fewshot", (("fewshot.k", 5),), 0.6)
    labels = _cause("prompt", (("prompt.choice_labels", "a"),), 0.95)
    assert _ranked([shots, labels], RunsEvidence()) == ["prompt", "fewshot"]
    assert _ranked([shots, labels], RunsEvidence({"fewshot.k": 5})) == ["fewshot", "prompt"]
    # another value of the key the runs differ on is not what they show
    assert _ranked([shots, labels], RunsEvidence({"fewshot.k": 3})) == ["prompt", "fewshot"]


def test_a_prompt_only_fix_goes_last_when_the_runs_fed_every_doc_the_same_prompt():
    labels = _cause("prompt", (("prompt.choice_labels", "a"),), 0.95)
    metric = _cause("metric", (("scoring.metric", "acc_norm"),), 0.7)
    evidence = RunsEvidence.from_comparison({"differences": [], "matched": 40, "identical_prompts": 40})
    assert evidence.support(labels) == -1 and evidence.support(metric) == 0
    assert _ranked([labels, metric], evidence) == ["metric", "prompt"]
    # the evidence orders causes only: a finding that is not a cause stays where it was
    weak = replace(metric, significant=False)
    assert _ranked([labels, weak], evidence) == ["prompt", "metric"]
