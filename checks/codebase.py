"""Codebase: whose conventions produced the reported number.

What it varies:
    Your whole prompt, few-shot, chat and scoring setup, replaced by each codebase preset written
    for this benchmark (`profiles/<codebase>/<benchmark>.toml`: lm-eval, helm, original,
    lighteval, olmes, harness-2023; the benchmark is the setup's `task.benchmark`). Your task,
    generation and loading settings stay as they are. A task outside the catalog has none.

Why:
    A benchmark name does not fix a program. Each evaluation codebase writes its own prompt,
    chooses its own shots and scores answers its own way; the same model gets a different
    number under each, and models can swap places. When a report does not name its code, trying
    each known convention is the nearest one can get to it.

Reads:
    `context.presets` (the engine lists the presets that score this task kind).
"""

from __future__ import annotations

from typing import Any

from scoregap.checks.base import BaseCheck, pool_size, register
from scoregap.engine.checks_api import CheckContext, Question, Variant
from scoregap.engine.errors import InputError
from scoregap.engine.presets import load_setup
from scoregap.engine.setup import Setup

# The sections a codebase decides; task, generation and loading stay yours.
CODEBASE_SECTIONS = ("prompt", "fewshot", "chat", "scoring")


def preset_changes(yours: Setup, preset: Setup, context: CheckContext) -> tuple[dict[str, Any], str]:
    """The dotted keys where `preset` differs from yours in the codebase sections, and a note.

    A fact the report states overrides the preset's value: the question is which convention
    produced the number, and the report has already settled that key. A preset asking for more
    shots than the task's pool holds is given the whole pool, the closest this task allows.
    """
    mine, theirs = yours.to_dict(), preset.to_dict()
    changes = {
        f"{section}.{key}": value
        for section in CODEBASE_SECTIONS
        for key, value in theirs[section].items()
        if mine[section][key] != value
    }
    note = ""
    stated = []
    for key, value in context.known.items():
        if key.partition(".")[0] not in CODEBASE_SECTIONS:
            continue
        try:
            value = yours.with_values({key: value}, origin="reported fact").get(key)
        except InputError:
            continue
        stated.append(key)
        if value == yours.get(key):
            changes.pop(key, None)
        else:
            changes[key] = list(value) if isinstance(value, tuple) else value
    if stated:
        note += f"{', '.join(stated)} as the report states; "
    k, pool = changes.get("fewshot.k", yours.fewshot.k), pool_size(context)
    if k > pool:
        note += f"k = {k} capped at the few-shot pool's {pool} docs; "
        if pool == yours.fewshot.k:
            changes.pop("fewshot.k", None)
        else:
            changes["fewshot.k"] = pool
    if not changes.get("chat.apply_template", yours.chat.apply_template):
        # Turn layout and the description's place only exist under a chat template: listing
        # them would name differences the model never sees.
        for key in ("fewshot.multiturn", "chat.description_in"):
            changes.pop(key, None)
    if changes:
        note += "sets " + ", ".join(changes)
    return changes, note


@register
class CodebaseCheck(BaseCheck):
    id = "codebase"
    title = "Evaluation codebase"
    explanation = (
        "A benchmark name does not pin down a program. Every evaluation codebase writes its own "
        "prompt, picks its own few-shot examples and scores answers its own way, and the number "
        "moves with it. When Hugging Face ran MMLU three ways on the same models (HF blog "
        '"open-llm-leaderboard-mmlu"), llama-65b scored .637 under HELM, .488 under the '
        'lm-evaluation-harness of the time, which scored the whole "A. text" continuation, and '
        ".636 under the original paper's code, which compares the probabilities of the letters "
        "alone. falcon-7b went .278 / .350 / .254: the two models even swapped places. If a "
        "report does not say which code produced its number, an exact match is out of reach; "
        "the best one can do is try each known convention. This check re-runs your task under "
        "each codebase preset in profiles/ (prompt, few-shot, chat template and scoring replaced; "
        "your model, data, generation and loading settings kept) and shows which convention "
        "lands nearest the reported score."
    )
    reading = (
        "A preset that closes most of the gap is probably the convention behind the reported "
        "number; adopt it, or at least state it next to your score. Its note lists the keys it "
        "changed, and the other checks can then tell which of them matters. When every preset "
        "shows no measurable effect (a change smaller than the minimum detectable effect for "
        "this many docs) or stays within noise (no larger than rerunning with other seeds), the "
        "codebase does not explain the gap on this task. Presets only emulate each codebase from "
        "its documented behaviour; a residual of a point is not evidence against it."
    )
    questions = (
        Question("prompt.template", "Does the report name the code that produced the number "
                 "(lm-eval, lighteval, HELM, OLMES, the authors' own scripts) and its version?"),
        Question("scoring.method", "Does it say whether the choices were scored by their "
                 "likelihood or the answer was generated and compared?"),
    )
    nothing_to_vary = (
        "Every codebase preset that scores this kind of task already matches your prompt, "
        "few-shot, chat and scoring settings."
    )

    def skip_reason(self, yours: Setup, context: CheckContext) -> str:
        if not yours.task.benchmark:
            return ("This task is not in the catalog (its setup names no task.benchmark), so scoregap "
                    "has no codebase presets for it: each codebase's convention is written per benchmark. "
                    "`scoregap benchmarks` lists the ones it knows.")
        if not context.presets:
            return (f"No codebase preset in profiles/ scores {yours.task.benchmark} by "
                    f"{'loglikelihood' if context.task.kind == 'multiple_choice' else 'generation'}, "
                    "so there is no other convention to compare with.")
        return ""

    def variants(self, yours: Setup, context: CheckContext) -> list[Variant]:
        # A preset changes many keys at once; the reported facts are folded into each preset
        # (see preset_changes) rather than ruling presets out.
        found = self.collect(yours, context, explore_known=True)
        for name in context.presets:
            try:
                preset = load_setup(name)
            except InputError:
                continue   # a broken preset is reported where it is named, not here
            if preset.scoring.method != yours.scoring.method:
                continue   # scoring by loglikelihood and by generation need different tasks
            changes, note = preset_changes(yours, preset, context)
            if changes:
                found.add(name, changes, note=note)
        return found.result()
