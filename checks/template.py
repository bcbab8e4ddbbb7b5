"""Template: the chat wrapping and special tokens around the prompt.

What it varies:
    The chat template on or off; under a chat template, the system prompt (a generic one added,
    or yours removed), the few-shot examples as one user turn or as alternating user/assistant
    turns, and where the description goes (system message or user turn); the BOS token
    (tokenizer default, forced, or left out).

Why:
    Chat models learned to read their input inside a template and instruct models are often
    scored without it; base models can be scored with one they never saw. A missing BOS token
    can take a model from a working score to almost zero. Reports seldom say any of this.

Note:
    "Chat template on" assumes the model's tokenizer has one: the check cannot see the model,
    and the engine's prompt builder refuses the variant with an InputError when it has none.
"""

from __future__ import annotations

from typing import Any

from scoregap.checks.base import BaseCheck, register
from scoregap.engine.checks_api import CheckContext, Question, Variant
from scoregap.engine.setup import Setup

SYSTEM_PROMPT = "You are a helpful assistant."
BOS = {"auto": "BOS as the tokenizer does", "true": "BOS added", "false": "BOS left out"}


@register
class TemplateCheck(BaseCheck):
    id = "template"
    title = "Chat template and special tokens"
    keys = ("chat.apply_template", "chat.system_prompt", "fewshot.multiturn", "chat.description_in",
            "loading.add_bos_token")
    explanation = (
        "Chat models were trained on input wrapped in a chat template: special tokens that mark "
        "the system, user and assistant turns, often a system prompt, usually a BOS token first. "
        "Leave the wrapping out, or add it where a base model never saw one, and the model is "
        "scored away from what it learned. Instruct models are routinely evaluated without their "
        "template, and the template does not always help: Qwen3-8B scored .6 on mbpp without it "
        "and 0 with it (lm-eval #2990). Few-shot examples can sit in one user message or "
        "alternate as user and assistant turns, another choice reports rarely state. The BOS "
        "token looks like a detail and is not: Gemma-7B scored .0037 on lambada without it and "
        ".6707 with it (lm-eval PR #1465), and a chat template that writes its own BOS can end "
        "up with two. This check switches the template, the system prompt, the turn layout and "
        "the BOS token one at a time."
    )
    reading = (
        "A large effect from the chat template or the BOS token usually means one of the two "
        "runs feeds the model input it was not trained on; the token-level diff of the model "
        "input shows exactly what changed. Turn layout and system prompt effects are usually "
        "smaller and model-specific. No measurable effect (below the minimum detectable effect "
        "for this many docs) means the model is robust to this wrapping on this task; within "
        "noise means a shift no larger than a rerun with other seeds. If \"chat template on\" "
        "fails, the model has no chat template and the report did not use one either."
    )
    questions = (
        Question("chat.apply_template", "Was the model's chat template applied to the prompt?"),
        Question("chat.system_prompt", "Was there a system prompt, and what did it say?"),
        Question("loading.add_bos_token", "Did the model input begin with a BOS token, and only "
                 "one?"),
    )

    def name_for(self, key: str, value: Any) -> str:
        if key == "chat.apply_template":
            return "chat template on" if value else "chat template off"
        if key == "chat.system_prompt":
            return "system prompt as reported" if value else "no system prompt"
        if key == "fewshot.multiturn":
            return "shots as separate turns" if value else "shots in one user turn"
        if key == "chat.description_in":
            return f"description in the {value} message"
        if key == "loading.add_bos_token":
            return BOS.get(str(value).lower(), f"BOS {value}")
        return super().name_for(key, value)

    def variants(self, yours: Setup, context: CheckContext) -> list[Variant]:
        found = self.collect(yours, context)
        chat = yours.chat.apply_template
        found.add(self.name_for("chat.apply_template", not chat), {"chat.apply_template": not chat},
                  note="" if chat else "needs a model whose tokenizer has a chat template")
        if chat:
            if yours.chat.system_prompt:
                found.add("no system prompt", {"chat.system_prompt": ""})
            else:
                found.add("system prompt added", {"chat.system_prompt": SYSTEM_PROMPT},
                          note=f'"{SYSTEM_PROMPT}"')
            if yours.fewshot.k > 0:
                multiturn = not yours.fewshot.multiturn
                found.add(self.name_for("fewshot.multiturn", multiturn),
                          {"fewshot.multiturn": multiturn})
            if yours.prompt.description:
                where = "user" if yours.chat.description_in == "system" else "system"
                found.add(self.name_for("chat.description_in", where),
                          {"chat.description_in": where})
        for value, name in BOS.items():
            if value != yours.loading.add_bos_token:
                found.add(name, {"loading.add_bos_token": value})
        return found.result()
