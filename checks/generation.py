"""Generation: the decoding settings that decide which text gets scored.

What it varies (generation only):
    The stop sequences (none, a line break, a full stop, a blank line); the token limit (half
    and four times yours, at most 2048); the decoding mode (sampling at temperature 0.7 with
    top-p 0.95 when you decode greedily, greedy when you sample).

Why:
    A stop sequence can cut an answer short or never end it, a token limit can truncate a chain
    of thought before its answer, and sampling needs the same temperature and seed to repeat.
    Stored outputs already show how often generation hit a stop sequence or the limit.

Skips:
    Multiple-choice tasks scored by loglikelihood: nothing is generated.
"""

from __future__ import annotations

from typing import Any

from scoregap.checks.base import BaseCheck, register
from scoregap.engine.checks_api import CheckContext, Question, Variant
from scoregap.engine.setup import Setup

STOPS: tuple[tuple[str, ...], ...] = ((), ("\n",), (".",), ("\n\n",))
MAX_TOKENS_CAP = 2048
SAMPLING = {"generation.temperature": 0.7, "generation.top_p": 0.95}


def stop_name(stop: tuple[str, ...] | list[str]) -> str:
    if not stop:
        return "no stop sequence"
    shown = ", ".join('"' + s.encode("unicode_escape").decode("ascii") + '"' for s in stop)
    return f"stop at {shown}"


@register
class GenerationCheck(BaseCheck):
    id = "generation"
    title = "Generation settings"
    keys = ("generation.stop", "generation.max_new_tokens", "generation.temperature",
            "generation.top_p")
    explanation = (
        "When the model writes its answer, three settings decide what text reaches the scorer. "
        'Stop sequences end generation early: a "." in the stop list cut a DROP answer of 12.25 '
        "down to 12, and two versions of GSM8K whose stop sequences differed scored .690 and "
        ".0015 (lighteval #649). The token limit truncates: a chain of thought that runs past "
        "max_new_tokens never reaches its answer, and a limit set for short answers silently "
        "fails reasoning models. Then decoding: greedy decoding repeats up to numerics, while "
        "sampling (temperature above 0, top-p) repeats only with the same seed and the same "
        "settings, and gives a different score on each draw otherwise. Reports often give none "
        "of these. Your stored outputs already say how often generation ended at a stop "
        "sequence, at the end-of-sequence token or at the limit; this check re-runs generation "
        "with other stop sequences, a shorter and a longer limit, and the other decoding mode."
    )
    reading = (
        "A stop or limit variant that raises the score means your answers were being cut: read "
        "a few truncated samples and the stop-hit and truncation rates. One that lowers it shows "
        "what a stricter setting in the report would cost. A decoding variant mostly measures "
        "sampling noise; compare it with the seed check's spread. No measurable effect (below "
        "the minimum detectable effect for this many docs) means answers end well before any "
        "limit or stop; within noise means a shift no larger than a rerun with other seeds."
    )
    questions = (
        Question("generation.stop", "Which stop sequences ended generation (a line break, a "
                 "blank line, a full stop, only the end-of-sequence token)?"),
        Question("generation.max_new_tokens", "How many new tokens could the model generate?"),
        Question("generation.temperature", "Was decoding greedy, or sampled with which "
                 "temperature and top-p?"),
    )

    def skip_reason(self, yours: Setup, context: CheckContext) -> str:
        if yours.scoring.method == "loglikelihood":
            return (
                "Your task is scored by the loglikelihood of each choice: nothing is generated, "
                "so stop sequences, token limits and decoding play no part."
            )
        return ""

    def name_for(self, key: str, value: Any) -> str:
        if key == "generation.stop":
            return stop_name(value)
        if key == "generation.max_new_tokens":
            return f"max {value} tokens"
        if key == "generation.temperature":
            return "greedy" if not value else f"temperature {value}"
        return f"top-p {value}"

    def variants(self, yours: Setup, context: CheckContext) -> list[Variant]:
        found = self.collect(yours, context)
        g = yours.generation
        for stop in STOPS:
            if stop != tuple(g.stop):
                found.add(stop_name(stop), {"generation.stop": list(stop)})
        for tokens in (max(1, g.max_new_tokens // 2), min(MAX_TOKENS_CAP, g.max_new_tokens * 4)):
            if tokens != g.max_new_tokens:
                found.add(self.name_for("generation.max_new_tokens", tokens),
                          {"generation.max_new_tokens": tokens})
        if g.temperature == 0:
            found.add("sampling (T 0.7, top-p 0.95)", SAMPLING,
                      note="one draw; the seed check's spread tells how much draws differ")
        else:
            found.add("greedy", {"generation.temperature": 0.0})
        return found.result()
