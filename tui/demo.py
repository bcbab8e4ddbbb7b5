"""`scoregap demo`: a real diagnosis on the bundled demo world, with no network and no GPU.

The demo world (scripts/demo_world.py) is a small Llama trained on invented census facts, two
tasks about them, and scenarios: sessions whose "your setup" departs from the model card's setup
in planted ways. `scoregap demo --list` shows them (the planted causes only with `--reveal`);
`scoregap demo NAME` diagnoses one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scoregap.engine.cache import Cache
from scoregap.engine.errors import InputError, did_you_mean
from scoregap.engine.setup import PROFILES_DIR, read_toml

SESSIONS = PROFILES_DIR / "demo" / "sessions"


def scenarios() -> list[tuple[str, Path]]:
    raw, _ = read_toml(SESSIONS / "index.toml")
    return [(name, SESSIONS / f"{name}.toml") for name in raw["order"]]


def run_demo(args: argparse.Namespace, *, cache: Cache) -> int:
    from scoregap.engine.session import load_session

    available = scenarios()
    if args.list:
        for name, path in available:
            session = load_session(path)
            causes = f"   [planted: {', '.join(session.truth) or 'none, noise only'}]" if args.reveal else ""
            print(f"{name:18} {session.story}{causes}")
        return 0
    names = [n for n, _ in available]
    name = args.name or names[0]
    if name not in names:
        raise InputError(f'There is no demo "{name}".{did_you_mean(name, names)} Demos: {", ".join(names)}.')
    session = load_session(dict(available)[name])
    if not args.headless and sys.stdin.isatty() and sys.stdout.isatty():
        try:
            from scoregap.tui.app import run_app
        except ImportError:
            pass
        else:
            return run_app(session=session, cache=cache)
    from scoregap.tui.cli import run_diagnosis

    print(f"demo {name}: {session.story}\nreported {100 * session.reported_score:.2f} "
          f"({session.reported_source}); model {session.model}\n", file=sys.stderr)
    report = args.report or cache.directory / "demo-reports" / name
    return run_diagnosis(session, session.limit, report, cache, quiet=False)
