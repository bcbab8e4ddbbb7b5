"""The codebase presets: each loads, validates, renders the prompt it claims, and differs from
lm-eval's MMLU where the codebase does."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from scoregap.engine.presets import load_setup, presets_for
from scoregap.engine.prompts import PromptBuilder, probe_chat
from scoregap.engine.tasks import load_task
from scoregap.profiles import PROFILES_DIR

NEW_PRESETS = ("helm/mmlu", "original/mmlu", "lighteval/mmlu", "olmes/mc", "harness-2023/mmlu")
ARITH = load_setup("samples/arith.toml")


def under(preset: str):  # noqa: ANN201 - a Setup
    """The preset with the bundled arithmetic task, as a user would write `extends = preset`."""
    return load_setup(preset).with_values({"task.path": ARITH.task.path}, origin=f"test {preset}")


@pytest.mark.parametrize("preset", NEW_PRESETS)
def test_preset_loads_and_says_what_it_emulates(preset: str) -> None:
    setup = load_setup(preset)
    assert setup.scoring.method == "loglikelihood" and setup.fewshot.k == 5
    text = (PROFILES_DIR / f"{preset}.toml").read_text(encoding="utf-8")
    assert text.startswith("#") and "Approximate" in text


def test_presets_are_offered_for_multiple_choice_only() -> None:
    assert set(NEW_PRESETS) <= set(presets_for("multiple_choice"))
    assert not set(NEW_PRESETS) & set(presets_for("generate"))


def _first_prompt(preset: str) -> tuple[str, tuple[str, ...]]:
    setup = under(preset)
    task = load_task(setup.task)
    prompt = PromptBuilder(setup, task, chat=probe_chat).render(task.docs[0])
    return prompt.context, prompt.continuations


@pytest.mark.parametrize("preset", NEW_PRESETS)
def test_preset_renders_five_shots_and_the_question(preset: str) -> None:
    context, continuations = _first_prompt(preset)
    assert context.count("What is") == 6 and context.endswith("Answer:")
    assert len(continuations) == 4


def test_each_codebase_writes_its_own_prompt() -> None:
    prompts = {p: _first_prompt(p) for p in NEW_PRESETS + ("lm-eval/mmlu",)}
    assert len({context for context, _ in prompts.values()}) == len(prompts)
    helm, _ = prompts["helm/mmlu"]
    original, _ = prompts["original/mmlu"]
    assert helm.startswith("The following are multiple choice questions (with answers) about ")
    assert "\n\nQuestion: What is" in helm
    assert "about  " in original and "Question:" not in original   # the original's double space
    lighteval, letters = prompts["lighteval/mmlu"]
    assert lighteval.startswith("Question: ") and letters == (" A", " B", " C", " D")
    olmes, _ = prompts["olmes/mc"]
    assert "\n A. " in olmes
    harness, full = prompts["harness-2023/mmlu"]
    assert "\nChoices:\nA. " in harness and full[0].startswith(" A. ")


def test_presets_never_carry_a_task() -> None:
    for preset in NEW_PRESETS:
        assert load_setup(preset).task.path == ""
        raw = tomllib.loads(Path(PROFILES_DIR / f"{preset}.toml").read_text(encoding="utf-8"))
        assert "task" not in raw
