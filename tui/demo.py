"""`scoregap demo`: scoregap on its embedded default, with no network and no GPU.

Two kinds of demo, listed together by `scoregap demo --list` (scoregap.profiles lists both):
- scenarios of the demo world (scripts/demo_world.py): a small Llama trained on bundled tasks and
  sessions whose "your setup" departs from the model card's setup in planted ways; `scoregap demo
  NAME` opens the terminal app on one, `scoregap demo --headless NAME` diagnoses it without the app;
- sample evaluations: a tiny random Llama built locally in seconds (cached beside the results)
  evaluated on a bundled sample task, so a fresh machine sees the whole pipeline — setup,
  prompts, model calls, cache, scores — run for real.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scoregap.engine.cache import Cache
from scoregap.engine.errors import InputError, did_you_mean
from scoregap.profiles import SAMPLES, scenarios


def tiny_model_dir(cache: Cache) -> Path:
    from scoregap.profiles.tinymodel import save_tiny_model

    directory = cache.directory / "models" / "tiny-llama-h64-l2-s0"
    if not (directory / "config.json").is_file():
        print(f"building the tiny demo model in {directory} ...", file=sys.stderr)
        save_tiny_model(directory)
    return directory


def run_demo(args: argparse.Namespace, *, cache: Cache) -> int:
    from scoregap.engine.session import load_session

    worlds = {s.name: s for s in scenarios()}
    if args.list:
        for scenario in worlds.values():
            session = load_session(scenario.path)
            causes = f"   [planted: {', '.join(session.truth) or 'none, noise only'}]" if args.reveal else ""
            print(f"{scenario.name:18} {scenario.story}{causes}")
        for demo in SAMPLES:
            print(f"{demo.name:18} {demo.story}")
        return 0
    names = list(worlds) + [d.name for d in SAMPLES]
    name = args.name or names[0]
    if name not in names:
        raise InputError(f'There is no demo "{name}".{did_you_mean(name, names)} Demos: {", ".join(names)}.')
    if name in worlds and not args.headless:
        from scoregap.tui.cli import run_app

        return run_app(worlds[name].path, None, args.cache_dir)
    if name in worlds:
        from scoregap.tui.cli import run_diagnosis

        session = load_session(worlds[name].path)
        print(f"demo {name}: {session.story}", file=sys.stderr)
        return run_diagnosis(session, session.limit, args.report, cache, quiet=False)
    from scoregap.engine.presets import load_setup
    from scoregap.tui.cli import run_eval

    demo = next(d for d in SAMPLES if d.name == name)
    model = tiny_model_dir(cache)
    setup = load_setup(demo.setup)
    print(f"demo {demo.name}: {demo.story}\nsetup {setup.source}\nmodel {model} (random weights: scores sit near chance)")
    out = args.report or cache.directory / "demo-out" / demo.name
    return run_eval(setup, str(model), "", demo.limit, out, cache, False)
