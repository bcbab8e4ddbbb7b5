"""Metric: what number was computed from the model's outputs, and on what scale.

What it varies:
    Loglikelihood scoring: the other multiple-choice metrics (acc, acc_norm by characters,
    acc_bytes, acc_token, acc_mutual_info). Generation: the other match rules (exact, quasi-exact,
    prefix, suffix; math equivalence when your answers are mathematical). Then the reading of
    your own outputs: the Open LLM Leaderboard's rescaling for a multiple-choice task, and the
    other average (micro over docs, macro over subtasks) when the task has subtasks.

Why:
    Reports name metrics loosely. acc and acc_norm, exact match and prefix match, a mean over
    questions and a mean over subjects all answer to "accuracy", and they differ by many points
    for the same outputs. All of these re-score stored outputs: no model calls, except PMI
    (acc_mutual_info), which needs each answer's probability without its question.

Not here:
    Percent versus fraction is read by the engine (a reported number above 1 is a percentage).
"""

from __future__ import annotations

from typing import Any

from scoregap.checks.base import BaseCheck, VariantSet, register
from scoregap.engine.checks_api import CheckContext, Question, Variant
from scoregap.engine.metrics import GEN_METRICS, MC_METRICS
from scoregap.engine.setup import Setup

MATH_EXTRACTORS = ("boxed", "math_verify")
NOTES = {
    "acc": "the highest total log-probability wins",
    "acc_norm": "log-probability divided by the choice's length in characters",
    "acc_bytes": "log-probability divided by the choice's length in bytes",
    "acc_token": "log-probability divided by the choice's length in tokens",
    "acc_mutual_info": "PMI: log-probability minus the answer's log-probability alone (new requests)",
    "mc2": "the probability mass on the true answers, the choices' probabilities normalized to 1",
    "exact_match": "the answer equals a gold answer",
    "quasi_exact_match": "equal after HELM's normalization (case, punctuation, articles, spaces)",
    "prefix_exact_match": "the answer starts with a gold answer",
    "suffix_exact_match": "the answer ends with a gold answer",
    "math_equiv": "mathematically equal (math-verify)",
}


def other_metrics(yours: Setup) -> list[str]:
    if yours.scoring.method == "loglikelihood":   # mc2 only where the task is scored by it
        pool = tuple(m for m in MC_METRICS if m != "mc2" or yours.scoring.metric == "mc2")
    else:
        math_like = yours.scoring.extract in MATH_EXTRACTORS or yours.scoring.metric == "math_equiv"
        pool = tuple(m for m in GEN_METRICS if m != "math_equiv" or math_like)
    return [m for m in pool if m != yours.scoring.metric]


@register
class MetricCheck(BaseCheck):
    id = "metric"
    title = "Metric and scale"
    keys = ("scoring.metric", "scoring.aggregate")
    explanation = (
        "Two reports can name the same metric and compute different numbers from identical "
        "outputs. In multiple choice, acc picks the choice with the highest log-probability; "
        "acc_norm first divides by the choice's length in characters (acc_bytes by bytes, "
        "acc_token by tokens), so long answers are not penalised; acc_mutual_info subtracts the "
        "answer's probability without the question. LLaMA-2-7B scores 57.2 on HellaSwag by acc "
        "and 76.0 by acc_norm, and a paper once compared against the wrong one. For generated "
        'text, a metric called "exact match" may really be prefix, suffix or quasi-exact '
        "(normalised) match. The scale moves numbers too: the Open LLM Leaderboard rescales so "
        "that chance is 0, (s - 1/k)/(1 - 1/k), which shows a raw GPQA accuracy of 0.3297 as "
        "9.28; and averaging over subjects rather than over questions separates Qwen1.5-7B's "
        "MMLU 61.97 on the leaderboard from 60.43 (lm-eval #1525). This check re-scores your "
        "stored outputs: no model calls, except for PMI."
    )
    reading = (
        "A metric or scale that lands on the reported number usually means the report used it, "
        "and the fix is to compare like with like, not to change the model run. A large shift "
        "that overshoots still tells you the metric matters on this task. No measurable effect "
        "(below the minimum detectable effect for this many docs) and within noise (no larger "
        "than rerunning with other seeds) both mean the metric choice does not explain the gap "
        "here. Rescaling and macro averaging change the number without changing any answer; "
        "their confidence intervals reflect only how the same outputs are read."
    )
    questions = (
        Question("scoring.metric", "Which metric exactly: acc or acc_norm (normalised by "
                 "characters, bytes or tokens), exact match or a looser match?"),
        Question("scoring.metric", "Is the number raw, or rescaled so that chance is 0 (as on "
                 "the Open LLM Leaderboard)?"),
        Question("scoring.aggregate", "Is the average taken over all questions (micro) or over "
                 "subjects or subtasks (macro)?"),
    )

    def name_for(self, key: str, value: Any) -> str:
        if key == "scoring.aggregate":
            return f"{value} average"
        return str(value)

    def variants(self, yours: Setup, context: CheckContext) -> list[Variant]:
        found = self.collect_metric(yours, context)
        if not found.settled("scoring.metric"):
            for metric in other_metrics(yours):
                found.add(metric, {"scoring.metric": metric}, note=NOTES.get(metric, ""))
        k = context.n_choices
        if context.task.kind == "multiple_choice" and k >= 2:
            found.add(f"rescaled ({k} choices)", transform="rescaled",
                      note="(s - 1/k)/(1 - 1/k): chance maps to 0, as on the Open LLM Leaderboard")
        if len(context.task.subtasks) >= 2 and not found.settled("scoring.aggregate"):
            other = "macro" if yours.scoring.aggregate == "micro" else "micro"
            found.add(self.name_for("scoring.aggregate", other), transform=other,
                      note=f"the {other} average over {len(context.task.subtasks)} subtasks")
        return found.result()

    def collect_metric(self, yours: Setup, context: CheckContext) -> VariantSet:
        """Reported facts first; a stated average is a re-reading (transform), not a rerun."""
        found = VariantSet(self.id, yours, context, self.keys)
        for key, value in found.known_differences():
            if key == "scoring.aggregate":
                if len(context.task.subtasks) < 2:
                    continue   # one subtask: both averages are the same number
                found.add(self.name_for(key, value), transform=value, known=True,
                          note="the report states it")
            else:
                found.add(self.name_for(key, value), {key: value}, known=True,
                          note="the report states it")
        return found
