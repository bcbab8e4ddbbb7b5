"""Seed: what a run owes to chance, measured as the noise floor.

What it varies:
    The few-shot seed (seed + 1, seed + 2) when shots are drawn at random or shuffled, and the
    sampling seed when generation samples (temperature above 0). A seed the report states is
    tested first.

Why:
    Another seed is rarely the cause of a gap, but it is the yardstick for every other cause:
    the spread of identical setups that differ only in their seed is how much a score moves for
    no reason. The diagnosis counts a finding only when it beats that spread, so these variants
    are kept even when the report states its seed.
"""

from __future__ import annotations

from typing import Any

from scoregap.checks.base import BaseCheck, VariantSet, register
from scoregap.engine.checks_api import CheckContext, Question, Variant
from scoregap.engine.noise import (
    STEPS,
    random_keys,
    sampling_is_random,
    seed_name,
    shots_are_random,
)
from scoregap.engine.setup import Setup


@register
class SeedCheck(BaseCheck):
    id = "seed"
    title = "Random seeds"
    keys = ("fewshot.seed", "generation.seed")
    explanation = (
        "Inference owes far less to chance than training, but not nothing. A seed decides which "
        "examples fill the few-shot prompt when they are drawn at random, and in what order; when "
        "the model samples (temperature above 0) it also decides the tokens. GPU arithmetic adds "
        "noise of its own: 1,000 completions of one prompt at temperature 0 gave 80 different "
        "outputs without batch-invariant kernels (Thinking Machines, 2025). The same shots in "
        "another order moved MMLU subsets by up to 3 points, so a small gap may need no cause at "
        "all. That is what this check is for: it reruns your setup with other seeds, and the "
        "spread of those reruns is the noise floor, the amount your score moves for no reason. "
        "No other check's finding counts unless it is larger."
    )
    reading = (
        "These reruns are the yardstick, not a fix: if the gap to the reported score is within "
        "noise (no larger than the spread across seeds), the verdict is that no cause is needed. "
        "A seed that moves the score far more than the others means your score depends on which "
        "shots were drawn; report the mean over several seeds rather than one. A rerun with no "
        "measurable effect (below the minimum detectable effect for this many docs) only says "
        "the seed does not matter at this size. A seed the report states is tested first: if it "
        "closes the gap, use it."
    )
    questions = (
        Question("fewshot.seed", "Does the report give the seed that drew its few-shot examples, "
                 "or were they fixed?"),
        Question("generation.seed", "If the model sampled its answers, with which seed, and were "
                 "several runs averaged?"),
    )

    def skip_reason(self, yours: Setup, context: CheckContext) -> str:
        if shots_are_random(yours) or sampling_is_random(yours):
            return ""
        shots = (
            "there are no few-shot examples" if yours.fewshot.k == 0
            else "the shots are the first k of the pool in a fixed order"
        )
        decoding = (
            " and answers are scored by loglikelihood" if yours.scoring.method == "loglikelihood"
            else " and decoding is greedy (temperature 0)"
        )
        return (
            f"Nothing in your setup is drawn at random: {shots}{decoding}, so another seed "
            "changes nothing. The noise floor then comes from other batch sizes."
        )

    def name_for(self, key: str, value: Any) -> str:
        return seed_name(key, value)

    def variants(self, yours: Setup, context: CheckContext) -> list[Variant]:
        # Only the seeds that draw something (engine/noise.py decides, for the floor too); a
        # reported seed for a part that draws nothing would test nothing. Repeats are the noise
        # floor: explored even when a seed is stated.
        keys = random_keys(yours)
        found = VariantSet(self.id, yours, context, keys, explore_known=True, repeats=True)
        found.add_known(self.name_for)
        for key in keys:
            for step in STEPS:
                seed = yours.get(key) + step
                found.add(self.name_for(key, seed), {key: seed},
                          note="the same setup drawn again: part of the noise floor")
        return found.result()
