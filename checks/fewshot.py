"""Few-shot: how many examples precede the question, which ones, and in what order.

What it varies:
    k among 0, 1, 3, 5 and 10 (no more than the task's few-shot pool holds); the sampler (the
    first k of the pool, or a random sample); the order of the shots (reversed, shuffled, or as
    sampled) when there are at least two. Another random sample of the same size is the seed
    check's job, so it is not repeated here.

Why:
    Shots teach the answer format as much as the task, models differ in how they use the same
    shots, and even their order moves scores. The number of shots is the first thing to match.
"""

from __future__ import annotations

from typing import Any

from scoregap.checks.base import BaseCheck, pool_size, register
from scoregap.engine.checks_api import CheckContext, Question, Variant
from scoregap.engine.setup import Setup

K_VALUES = (0, 1, 3, 5, 10)
SAMPLERS = {"first_n": "first k of the pool", "random": "random shots"}
ORDERS = {"sampled": "order as sampled", "reversed": "order reversed", "shuffled": "order shuffled"}


@register
class FewshotCheck(BaseCheck):
    id = "fewshot"
    title = "Few-shot examples"
    keys = ("fewshot.k", "fewshot.sampler", "fewshot.order")
    explanation = (
        "Few-shot examples teach the model the shape of the answer as much as the task. Three "
        "things about them can differ from the report: how many there are (k), which ones (the "
        "first k of a split or a random sample, and from which split), and their order. The "
        "number should match first of all. Which examples matters too, and not uniformly: models "
        "react differently to the same shots, so a comparison between models is only fair when "
        "every model saw the same examples. Even the order counts: the same shots in another "
        "order moved MMLU subsets by up to 3 points. Shots also carry a benchmark's answer style: "
        "on the Open LLM Leaderboard 2, Llama-3.1 models solved MATH-Hard problems yet scored "
        "low under its few-shot format, likely having overfitted GSM8K's. This check tries other "
        "values of k, the other sampler and other orders; another random draw of the same size "
        "is left to the seed check."
    )
    reading = (
        "A k that closes the gap most likely matches the report's; look in its text or appendix "
        "for the number of shots to confirm it. A sampler or order effect means the score "
        "depends on which shots were used: fix them (first k, or one stated seed) before "
        "comparing models. No measurable effect (below the minimum detectable effect for this "
        "many docs) means the number, choice and order of shots do not move this model here; "
        "within noise means a shift no larger than a rerun with other seeds."
    )
    questions = (
        Question("fewshot.k", "Does the report say how many shots it used?"),
        Question("fewshot.sampler", "Were the shots the first k of a split or a random sample, "
                 "and from which split?"),
        Question("fewshot.seed", "If they were drawn at random, with which seed?"),
        Question("fewshot.multiturn", "Under a chat template, were the shots one user message or "
                 "alternating user and assistant turns?"),
    )

    def skip_reason(self, yours: Setup, context: CheckContext) -> str:
        if pool_size(context) == 0:
            return (
                f"The task {context.task.name} has no few-shot pool, so there are no examples "
                "to add or change."
            )
        return ""

    def name_for(self, key: str, value: Any) -> str:
        if key == "fewshot.k":
            return f"k = {value}"
        if key == "fewshot.sampler":
            return SAMPLERS.get(value, f"sampler {value}")
        return ORDERS.get(value, f"order {value}")

    def variants(self, yours: Setup, context: CheckContext) -> list[Variant]:
        found = self.collect(yours, context)
        f = yours.fewshot
        pool = pool_size(context)
        for k in K_VALUES:
            if k != f.k and k <= pool:
                found.add(self.name_for("fewshot.k", k), {"fewshot.k": k})
        if f.k > 0:
            other = "random" if f.sampler == "first_n" else "first_n"
            found.add(SAMPLERS[other], {"fewshot.sampler": other})
        if f.k >= 2:
            for order, name in ORDERS.items():
                if order != f.order:
                    found.add(name, {"fewshot.order": order})
        return found.result()
