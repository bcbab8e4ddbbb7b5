"""Setups and contexts the check tests share (imported by them; not a test module).

The bundled demo and sample setups, and setups derived from them that reach the branches the
bundled ones do not (sampling, one chat turn, macro averages, no choice labels...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scoregap.engine.checks_api import CheckContext
from scoregap.engine.presets import load_setup, presets_for
from scoregap.engine.setup import Setup
from scoregap.engine.tasks import load_task

BUNDLED = ("tests/checks/setups/chat_mc.toml", "tests/checks/setups/chat_qa.toml", "samples/arith.toml",
           "samples/facts.toml")

# name -> (bundled setup, changes): setups that exercise the other side of each condition.
DERIVED: dict[str, tuple[str, dict[str, Any]]] = {
    "mc plain 5-shot": ("samples/arith.toml", {"fewshot.k": 5, "scoring.aggregate": "macro"}),
    "mc no labels": ("samples/arith.toml", {
        "prompt.template": "{{ question }}", "prompt.choice_labels": "none",
        "prompt.choice_format": "{{ text }}", "prompt.target": "text",
        "prompt.description": "", "scoring.metric": "acc_norm"}),
    "mc chat one turn": ("tests/checks/setups/chat_mc.toml", {
        "fewshot.multiturn": False, "fewshot.sampler": "first_n", "fewshot.order": "shuffled",
        "chat.system_prompt": "Answer with a letter.", "prompt.description": "Census questions.\n\n",
        "prompt.choice_labels": "I", "prompt.choice_format": "({{ label }}) {{ text }}",
        "prompt.target": "label_text", "loading.dtype": "auto", "loading.batch_size": 1,
        "loading.attn_implementation": "sdpa", "loading.add_bos_token": "false"}),
    "qa sampling": ("tests/checks/setups/chat_qa.toml", {
        "generation.temperature": 0.8, "generation.top_p": 0.9, "generation.max_new_tokens": 1024,
        "generation.stop": [], "fewshot.sampler": "first_n", "scoring.extract": "math_verify",
        "scoring.metric": "math_equiv", "scoring.normalize": ["think", "strip"],
        "chat.apply_template": False, "loading.backend": "vllm"}),
    "qa greedy first_n": ("tests/checks/setups/chat_qa.toml", {"fewshot.sampler": "first_n",
                                                     "prompt.target_delimiter": ""}),
}
ALL_SETUPS = BUNDLED + tuple(DERIVED)


def setup_named(name: str) -> Setup:
    if name in DERIVED:
        base, changes = DERIVED[name]
        return load_setup(base).with_values(changes, origin=f"test setup {name}")
    return load_setup(name)


def context_for(
    setup: Setup,
    known: Mapping[str, Any] | None = None,
    *,
    presets: tuple[str, ...] | None = None,
    backends: tuple[str, ...] = ("transformers",),
) -> CheckContext:
    task = load_task(setup.task)
    return CheckContext(
        task=task, known=dict(known or {}), reported_score=0.5,
        presets=presets_for(task.kind, setup.task.benchmark) if presets is None else presets, backends=backends,
    )


def make(name: str, known: Mapping[str, Any] | None = None, **kwargs: Any) -> tuple[Setup, CheckContext]:
    """(your setup, its context) for a bundled or derived setup name."""
    setup = setup_named(name)
    return setup, context_for(setup, known, **kwargs)
