"""`scoregap demo`: scoregap on its embedded default, with no network and no GPU.

Until the trained demo world exists, the demo builds a tiny random Llama model locally (seconds,
cached beside the results) and evaluates it on the bundled sample tasks, so a fresh machine sees
the whole pipeline — setup, prompts, model calls, cache, scores — run for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scoregap.engine.cache import Cache
from scoregap.engine.errors import InputError, did_you_mean


@dataclass(frozen=True)
class Demo:
    name: str
    setup: str
    story: str
    limit: int


DEMOS = (
    Demo("arith", "samples/arith", "multiple-choice arithmetic in lm-eval's MMLU layout, 0-shot", 60),
    Demo("facts", "samples/facts", "short answers, generated greedily and scored by exact match", 20),
)


def tiny_model_dir(cache: Cache) -> Path:
    from scoregap.engine.tinymodel import save_tiny_model

    directory = cache.directory / "models" / "tiny-llama-h64-l2-s0"
    if not (directory / "config.json").is_file():
        print(f"building the tiny demo model in {directory} ...")
        save_tiny_model(directory)
    return directory


def run_demo(name: str | None, *, list_only: bool, cache: Cache) -> int:
    if list_only:
        for demo in DEMOS:
            print(f"{demo.name:8} {demo.story}")
        return 0
    chosen = DEMOS[0] if name is None else next((d for d in DEMOS if d.name == name), None)
    if chosen is None:
        names = [d.name for d in DEMOS]
        raise InputError(f'There is no demo "{name}".{did_you_mean(name or "", names)} Demos: {", ".join(names)}.')
    from scoregap.engine.setup import load_setup
    from scoregap.tui.cli import run_eval

    model = tiny_model_dir(cache)
    setup = load_setup(chosen.setup)
    print(f"demo {chosen.name}: {chosen.story}\nsetup {setup.source}\nmodel {model} (random weights: scores are near chance)")
    return run_eval(setup, str(model), "", chosen.limit, cache.directory / "demo-out" / chosen.name, cache, False)
