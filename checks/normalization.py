"""Normalization: how the answer is taken out of generated text and cleaned before comparison.

What it varies (generation only):
    The extractor, among those plausible for the task's gold answers (numbers: last number,
    lm-eval's GSM8K flexible and strict filters, \\boxed{}, Math-Verify, the whole text; letters:
    first letter, the whole text; LaTeX: \\boxed{}, Math-Verify), and the normalization steps:
    stripping <think> blocks, HELM's normalization (strip, lower case, punctuation, articles,
    whitespace) added, or every step removed.

Why:
    The same generations can score a few percent or most of the points depending on this step,
    and reports rarely describe it. Each variant re-scores stored generations: no model calls.

Skips:
    Multiple-choice tasks scored by loglikelihood: there is no generated text.
"""

from __future__ import annotations

import re
from typing import Any

from scoregap.checks.base import BaseCheck, register
from scoregap.engine.checks_api import CheckContext, Question, Variant
from scoregap.engine.setup import Setup
from scoregap.engine.tasks import Task

HELM_STEPS = ("strip", "lower", "punctuation", "articles", "whitespace")
EXTRACT_NAMES = {
    "none": "no extraction",
    "last_number": "last number",
    "gsm8k_strict": "GSM8K strict-match",
    "gsm8k_flexible": "GSM8K flexible-extract",
    "boxed": "\\boxed{} answer",
    "first_letter": "first letter",
    "math_verify": "Math-Verify",
}
# lm-eval's GSM8K filters come with its exact_match options (the "gsm8k" step): reproducing its
# numbers needs both halves, so a GSM8K extractor variant brings the step along.
NEEDS_STEP = {"gsm8k_strict": "gsm8k", "gsm8k_flexible": "gsm8k"}

_NUMBER = re.compile(r"^-?\$?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?%?$")
_LETTER = re.compile(r"^\(?[A-Z]\)?$")
_LATEX = re.compile(r"[\\^{}_]|frac|sqrt")


def gold_kind(task: Task) -> str:
    """"number", "letter", "math" or "text": what the gold answers look like."""
    golds = [str(g).strip() for d in task.docs[:500] for g in d.gold]
    if golds and all(_NUMBER.match(g) and any(c.isdigit() for c in g) for g in golds):
        return "number"
    if golds and all(_LETTER.match(g) for g in golds):
        return "letter"
    if any(_LATEX.search(g) for g in golds):
        return "math"
    return "text"


def plausible_extractors(task: Task) -> tuple[str, ...]:
    kind = gold_kind(task)
    if kind == "number":
        found = ["none", "last_number", "gsm8k_flexible", "boxed", "math_verify"]
        # Strict-match only finds GSM8K's "#### 42"; it is plausible where the shots teach it.
        if any("####" in d.target for d in task.fewshot):
            found.insert(2, "gsm8k_strict")
        return tuple(found)
    if kind == "letter":
        return ("none", "first_letter")
    if kind == "math":
        return ("none", "boxed", "math_verify")
    return ("none",)


@register
class NormalizationCheck(BaseCheck):
    id = "normalization"
    title = "Answer extraction and normalization"
    keys = ("scoring.extract", "scoring.normalize")
    explanation = (
        "Before a generated answer meets the gold one, code pulls the answer out of the text and "
        "cleans it, and this step moves scores more than almost anything else. lm-eval's GSM8K "
        'reads the same generations two ways: strict-match (only the "#### 42" that the shots '
        "teach) gave Llama-3.1-8B-Instruct .2017, flexible-extract (the last number anywhere) "
        ".7847 (lm-eval PR #2034). One set of MATH outputs scored .080 with the harness's parser, "
        ".129 with Qwen's evaluator and .133 with Math-Verify, and re-scoring 3,751 leaderboard "
        "models with Math-Verify raised them by 4.66 points on average. Reasoning models add a "
        "trap of their own: a <think> block left in the answer held Qwen3-1.7B to .284 on IFEval "
        "instead of .588. Names hide all this: early harness tasks called a metric exact match "
        "while removing punctuation and reformatting numbers first. This check re-scores your "
        "stored generations with other extractors and normalizations: no model calls."
    )
    reading = (
        "An extractor or normalization that closes the gap is almost certainly what the report "
        "used; read a few samples under both to see which answers it rescues or loses. A variant "
        "that raises your score a lot without closing the gap often shows that your own "
        "extraction loses correct answers. No measurable effect (below the minimum detectable "
        "effect for this many docs) means your answers are formatted cleanly enough that the "
        "choice does not matter; within noise means the shift is no larger than a rerun with "
        "other seeds. These variants cost no model calls, so their findings are cheap to confirm."
    )
    questions = (
        Question("scoring.extract", 'How was the answer taken out of the text: the whole text, '
                 'the last number, a "####" marker, \\boxed{}, a math parser, a regex?'),
        Question("scoring.normalize", "Was the answer normalised before comparison (case, "
                 "punctuation, articles, spaces, numbers, <think> blocks removed)?"),
    )

    def skip_reason(self, yours: Setup, context: CheckContext) -> str:
        if yours.scoring.method == "loglikelihood":
            return (
                "Your task is scored by the loglikelihood of each choice: the model writes no "
                "text, so there is no answer to extract or normalise."
            )
        return ""

    def name_for(self, key: str, value: Any) -> str:
        if key == "scoring.extract":
            return EXTRACT_NAMES.get(value, f"extract {value}")
        return "normalize " + (" + ".join(value) if value else "nothing")

    def variants(self, yours: Setup, context: CheckContext) -> list[Variant]:
        found = self.collect(yours, context)
        steps = tuple(yours.scoring.normalize)
        if not found.settled("scoring.extract"):
            for how in plausible_extractors(context.task):
                if how == yours.scoring.extract:
                    continue
                changes: dict[str, Any] = {"scoring.extract": how}
                step = NEEDS_STEP.get(how)
                if step and step not in steps and not found.settled("scoring.normalize"):
                    changes["scoring.normalize"] = list(steps) + [step]
                found.add(EXTRACT_NAMES[how], changes)
        if not found.settled("scoring.normalize"):
            if "think" not in steps:
                found.add("strip <think>", {"scoring.normalize": ["think", *steps]},
                          note="removes <think>...</think> blocks before anything else")
            helm = list(steps) + [s for s in HELM_STEPS if s not in steps]
            found.add("HELM-style normalization", {"scoring.normalize": helm},
                      note="strip, lower case, remove punctuation and articles, collapse spaces")
            if steps:
                found.add("no normalization", {"scoring.normalize": []})
        return found.result()
