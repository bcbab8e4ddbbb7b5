"""Prompt: the surface form of the question, one attribute at a time (FormatSpread-style).

What it varies (only attributes your rendered prompt actually has):
    Choice labels (A, a, 1, I) and their wrapper ("A." "(A)" "A)" "[A]") and the separator
    between choices, when the template lists the choices; the separator between the question
    and the choices (a line break, a blank line, a space); the answer cue ("Answer:" as "A:",
    lower case, or dropped) when the template contains it; the description line (added when you
    have none, removed when you have one); what is scored in multiple choice (the label, the
    text, or both); what comes before the answer (a space, a line break, nothing), before yours
    and inside the shots; what separates the shots (a blank line, a line break, two blank
    lines). A variant that renders the very prompt yours does is dropped (checks/base.py), so a
    separator the model never sees is never "tested".

Why:
    Semantically equal prompts give different scores, by a few points for most models and by
    tens of points for some, and the direction differs between models. FormatSpread (Sclar et
    al., arXiv 2310.11324) samples such a grammar of formats; this check walks it one attribute
    at a time so each finding names one cause.
"""

from __future__ import annotations

import re
from typing import Any

from scoregap.checks.base import BaseCheck, register
from scoregap.engine.checks_api import CheckContext, Question, Variant
from scoregap.engine.prompts import ROMAN
from scoregap.engine.setup import Setup

LABEL_STYLES = {"A": "labels (A)", "a": "labels (a)", "1": "labels (1)", "I": "labels (I)"}
WRAPPERS = {
    "{{ label }}. {{ text }}": "choices as A.",
    "({{ label }}) {{ text }}": "choices as (A)",
    "{{ label }}) {{ text }}": "choices as A)",
    "[{{ label }}] {{ text }}": "choices as [A]",
}
SEPARATORS = {"\n": "choices on separate lines", " ": "choices on one line", "; ": "choices split by ;"}
ANSWER_CUE = "Answer:"
MC_DESCRIPTION = "The following are multiple choice questions (with answers).\n\n"
GEN_DESCRIPTION = "The following are questions (with answers).\n\n"
TARGETS = {"label": "target: label", "text": "target: text", "label_text": "target: label + text"}
BEFORE_ANSWER = {" ": "space before the answer", "\n": "line break before the answer",
                 "": "no space before the answer"}
BETWEEN_SHOTS = {"\n\n": "a blank line between shots", "\n": "a line break between shots",
                 "\n\n\n": "two blank lines between shots"}
QUESTION_SEAMS = {"\n": "line break between question and choices",
                  "\n\n": "blank line between question and choices", " ": "question and choices on one line"}
# "{{ question.strip() }}\n{{ choices }}": the whitespace between the question and the choices.
_SEAM = re.compile(r"\{\{-?\s*(?P<first>question|choices)\b[^}]*\}\}(?P<seam>\s*)"
                   r"\{\{-?\s*(?P<second>question|choices)\b[^}]*\}\}")

_USES_CHOICES = re.compile(r"\{\{-?\s*choices\b")


def drop_answer_cue(template: str) -> str:
    """The template without its last "Answer:" (and the line break before it, at the end)."""
    at = template.rfind(ANSWER_CUE)
    head, tail = template[:at], template[at + len(ANSWER_CUE):]
    if not tail.strip():
        return head.rstrip()
    return head + tail.lstrip(" ")


def space_matters(yours: Setup, context: CheckContext) -> bool:
    """Whether the model ever sees `target_delimiter`: before an MC continuation (not under a
    chat template, where the answer opens its own turn), or inside shots flattened into text."""
    chat = yours.chat.apply_template
    if context.task.kind == "multiple_choice" and not chat:
        return True
    return yours.fewshot.k > 0 and not (chat and yours.fewshot.multiturn)


@register
class PromptCheck(BaseCheck):
    id = "prompt"
    title = "Prompt format"
    keys = (
        "prompt.template", "prompt.description", "prompt.choice_labels", "prompt.choice_format",
        "prompt.choice_separator", "prompt.target", "prompt.target_delimiter",
        "prompt.fewshot_delimiter",
    )
    explanation = (
        "Models answer the surface of a prompt, not only its content. Listing choices as "
        '"A. text", "(A) text" or bare text, numbering them 1-4 instead of A-D, ending with '
        '"Answer:" or "A:", opening with a line that says what the questions are about: the '
        "question stays the same and the score does not. Over 8 equivalent formats on MMLU "
        "subsets, five models moved by about 10 points each, Qwen1.5-7B anywhere from 22.9 to "
        '51.2 (HF blog "evaluation-structured-outputs"); FormatSpread measured spreads of up to '
        "76 points for LLaMA-2-13B (arXiv 2310.11324). What is scored matters as much: "
        "llama-3-8b gets 65.3 on MMLU when it picks a letter and 47.7 when each answer's text is "
        "scored, while falcon-7b goes the other way, 27.4 against 39.4 (arXiv 2407.07890). Models "
        "tuned on one benchmark's format can overfit it and stumble on another's. This check "
        "changes one attribute of your prompt at a time."
    )
    reading = (
        "A format that closes the gap is probably the reported one; check the report's example "
        "prompt for it. Several formats moving the score in different directions by similar "
        "amounts mean this model is format-sensitive on this task, and any single number from it "
        "carries that spread. No measurable effect (below the minimum detectable effect for this "
        "many docs) means the model reads all these forms alike; within noise means a shift no "
        "larger than a rerun with other seeds. Letters versus text (the target) is the largest "
        "single factor for many models and is worth confirming even when it closes little."
    )
    questions = (
        Question("prompt.template", "Does the report show the exact prompt, with one full "
                 "example including the answer?"),
        Question("prompt.choice_labels", "How were the choices labelled (A-D, a-d, 1-4, none) and "
                 'written ("A." "(A)" "A)")?'),
        Question("prompt.target", "Was the score the probability of the letter, of the answer's "
                 "text, or of both?"),
        Question("prompt.description", "Was there an instruction or subject line before the "
                 "questions?"),
    )
    nothing_to_vary = "Your prompt has none of the attributes this check varies."

    def name_for(self, key: str, value: Any) -> str:
        names = {
            "prompt.choice_labels": LABEL_STYLES,
            "prompt.choice_format": WRAPPERS,
            "prompt.choice_separator": SEPARATORS,
            "prompt.target": TARGETS,
        }.get(key, {})
        if value in names:
            return names[value]
        if key == "prompt.target_delimiter" and value in BEFORE_ANSWER:
            return BEFORE_ANSWER[value]
        if key == "prompt.fewshot_delimiter" and value in BETWEEN_SHOTS:
            return BETWEEN_SHOTS[value]
        return f"{key.partition('.')[2].replace('_', ' ')} as reported"

    def variants(self, yours: Setup, context: CheckContext) -> list[Variant]:
        found = self.collect(yours, context)
        p = yours.prompt
        mc = context.task.kind == "multiple_choice"
        lists_choices = mc and bool(_USES_CHOICES.search(p.template))
        labelled = lists_choices and p.choice_labels != "none" and "label" in p.choice_format
        n = context.n_choices

        if labelled:
            for style, name in LABEL_STYLES.items():
                if style != p.choice_labels and not (style == "I" and n > len(ROMAN)):
                    found.add(name, {"prompt.choice_labels": style})
            for wrapper, name in WRAPPERS.items():
                if wrapper != p.choice_format:
                    found.add(name, {"prompt.choice_format": wrapper})
        if lists_choices:
            for separator, name in SEPARATORS.items():
                if separator != p.choice_separator:
                    found.add(name, {"prompt.choice_separator": separator})
            seam = _SEAM.search(p.template)
            if seam and seam["first"] != seam["second"]:
                for between, name in QUESTION_SEAMS.items():
                    if between != seam["seam"]:
                        template = p.template[: seam.start("seam")] + between + p.template[seam.end("seam"):]
                        found.add(name, {"prompt.template": template})

        if ANSWER_CUE in p.template:
            for cue, name in (("A:", '"A:" for "Answer:"'), ("answer:", 'lower-case "answer:"')):
                found.add(name, {"prompt.template": p.template.replace(ANSWER_CUE, cue)})
            dropped = drop_answer_cue(p.template)
            if dropped.strip():
                found.add('no "Answer:"', {"prompt.template": dropped})

        if p.description:
            found.add("no description", {"prompt.description": ""})
        else:
            description = MC_DESCRIPTION if mc else GEN_DESCRIPTION
            found.add("description added", {"prompt.description": description},
                      note="a generic instruction line before the questions")

        if mc:
            for target, name in TARGETS.items():
                if target == p.target:
                    continue
                if target != "text" and not labelled:
                    continue   # a label the model never saw is no answer to score
                found.add(name, {"prompt.target": target})

        if space_matters(yours, context):
            for delimiter, name in BEFORE_ANSWER.items():
                if delimiter != p.target_delimiter:
                    found.add(name, {"prompt.target_delimiter": delimiter})
        if yours.fewshot.k > 0:
            for delimiter, name in BETWEEN_SHOTS.items():
                if delimiter != p.fewshot_delimiter:
                    found.add(name, {"prompt.fewshot_delimiter": delimiter})
        return found.result()
