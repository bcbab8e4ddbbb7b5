"""`scoregap demo`: scoregap on its embedded default, with no network and no GPU.

Two kinds of demo, listed together by `scoregap demo --list`:
- scenarios of the demo world (scripts/demo_world.py): a small Llama trained on bundled tasks and
  sessions whose "your setup" departs from the model card's setup in planted ways; `scoregap demo
  NAME` opens the terminal app on one, `scoregap demo --headless NAME` diagnoses it without the app. They appear once the trained model and the sessions are in
  profiles/demo/ (the demo world is still being tuned: see scripts/demo_world.py);
- sample evaluations: a tiny random Llama built locally in seconds (cached beside the results)
  evaluated on a bundled sample task, so a fresh machine sees the whole pipeline — setup,
  prompts, model calls, cache, scores — run for real. Until the scenarios exist these are the
  default.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from scoregap.engine.cache import Cache
from scoregap.engine.errors import InputError, did_you_mean
from scoregap.engine.setup import PROFILES_DIR, read_toml

SESSIONS = PROFILES_DIR / "demo" / "sessions"


@dataclass(frozen=True)
class SampleDemo:
    name: str
    setup: str
    story: str
    limit: int


SAMPLES = (
    SampleDemo("arith", "samples/arith", "multiple-choice arithmetic in lm-eval's MMLU layout, 0-shot (random tiny model)", 60),
    SampleDemo("facts", "samples/facts", "short answers, generated greedily, exact match (random tiny model)", 20),
)


def scenarios() -> list[tuple[str, Path]]:
    """The demo world's sessions, in their intended order; empty until they are generated."""
    index = SESSIONS / "index.toml"
    if not index.is_file() or not (PROFILES_DIR / "demo" / "model" / "config.json").is_file():
        return []
    raw, _ = read_toml(index)
    return [(name, SESSIONS / f"{name}.toml") for name in raw["order"]]


def tiny_model_dir(cache: Cache) -> Path:
    from scoregap.engine.tinymodel import save_tiny_model

    directory = cache.directory / "models" / "tiny-llama-h64-l2-s0"
    if not (directory / "config.json").is_file():
        print(f"building the tiny demo model in {directory} ...", file=sys.stderr)
        save_tiny_model(directory)
    return directory


def run_demo(args: argparse.Namespace, *, cache: Cache) -> int:
    from scoregap.engine.session import load_session

    worlds = scenarios()
    if args.list:
        for name, path in worlds:
            session = load_session(path)
            causes = f"   [planted: {', '.join(session.truth) or 'none, noise only'}]" if args.reveal else ""
            print(f"{name:18} {session.story}{causes}")
        for demo in SAMPLES:
            print(f"{demo.name:18} {demo.story}")
        return 0
    names = [n for n, _ in worlds] + [d.name for d in SAMPLES]
    name = args.name or names[0]
    if name not in names:
        raise InputError(f'There is no demo "{name}".{did_you_mean(name, names)} Demos: {", ".join(names)}.')
    if name in dict(worlds) and not args.headless:
        from scoregap.tui.cli import run_app

        return run_app(dict(worlds)[name], None, args.cache_dir)
    if name in dict(worlds):
        from scoregap.tui.cli import run_diagnosis

        session = load_session(dict(worlds)[name])
        print(f"demo {name}: {session.story}", file=sys.stderr)
        report = args.report or cache.directory / "demo-reports" / name
        return run_diagnosis(session, session.limit, report, cache, quiet=False)
    from scoregap.engine.setup import load_setup
    from scoregap.tui.cli import run_eval

    demo = next(d for d in SAMPLES if d.name == name)
    model = tiny_model_dir(cache)
    setup = load_setup(demo.setup)
    print(f"demo {demo.name}: {demo.story}\nsetup {setup.source}\nmodel {model} (random weights: scores sit near chance)")
    out = args.report or cache.directory / "demo-out" / demo.name
    return run_eval(setup, str(model), "", demo.limit, out, cache, False)
