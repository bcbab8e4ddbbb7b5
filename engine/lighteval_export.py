"""A setup as a lighteval task line ("lighteval|arc:challenge|25|0"), where one exists.

lighteval's tasks are Python (a prompt function per task), so a setup is expressible only when it
*is* one of lighteval's tasks: the benchmark's `lighteval/<benchmark>` preset with nothing changed
but the few-shot count and the loading keys. Anything else gets no line and the keys that differ,
so the report never prints a command that would run something else.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoregap.engine.errors import InputError
from scoregap.engine.setup import Setup

TASK_NAMES = {"arc_challenge": "arc:challenge", "arc_easy": "arc:easy", "hellaswag": "hellaswag",
              "gsm8k": "gsm8k", "winogrande": "winogrande", "piqa": "piqa"}
"""scoregap benchmark -> lighteval task, for the presets written from lighteval's own tasks."""
FREE = ("fewshot.k", "loading.", "task.limit", "task.hf", "task.revision", "generation.seed")
"""Keys a task line does not carry: lighteval takes them from its command line or its data."""


@dataclass(frozen=True)
class LightevalLine:
    line: str                       # "" when the setup is no lighteval task
    differs: tuple[str, ...] = ()   # why not: the keys that differ from lighteval's task


def lighteval_line(setup: Setup) -> LightevalLine:
    from scoregap.engine.presets import load_setup

    name = TASK_NAMES.get(setup.task.benchmark)
    if name is None:
        return LightevalLine("", ("task.benchmark (lighteval's tasks are Python; this one has no bundled preset)",))
    try:
        preset = load_setup(f"lighteval/{setup.task.benchmark}")
    except InputError:
        return LightevalLine("", (f"no lighteval/{setup.task.benchmark} preset",))
    ours, theirs = setup.to_dict(), preset.to_dict()
    differs = tuple(f"{section}.{key}" for section in ours for key in ours[section]
                    if ours[section][key] != theirs[section][key]
                    and not f"{section}.{key}".startswith(FREE))
    if differs:
        return LightevalLine("", differs)
    return LightevalLine(f"lighteval|{name}|{setup.fewshot.k}|0")
