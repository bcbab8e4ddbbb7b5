"""The `scoregap` command line.

    scoregap eval SETUP.toml --model M [--limit N] [--out DIR]
    scoregap demo [NAME] [--list]

Bad input of any kind (a setup, a task, a model path) is one paragraph on stderr and exit code 2;
`--debug` shows the traceback instead. Heavy imports (torch, transformers) happen inside the
commands, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from pathlib import Path
from typing import Callable, Sequence

from scoregap import __version__

EPILOG = "Errors in your input exit with code 2 and one paragraph saying what to fix."


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", metavar="DIR", help="where results are cached (default: "
                   "$SCOREGAP_CACHE_DIR, else ~/.cache/scoregap)")
    p.add_argument("--debug", action="store_true", help="show tracebacks instead of short error messages")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scoregap",
        description="Find out why your score differs from the reported one.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"scoregap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ev = sub.add_parser(
        "eval", help="evaluate a model under one setup",
        description="Evaluate a model under one setup and write results.json and samples.jsonl.",
        epilog=EPILOG,
    )
    ev.add_argument("setup", metavar="SETUP", help="a setup TOML file, or a bundled preset such as samples/arith")
    ev.add_argument("--model", required=True, metavar="M",
                    help="a model directory (save_pretrained) or a hub id in the local HF cache")
    ev.add_argument("--revision", default="", help="hub revision of the model (default: the cached one)")
    ev.add_argument("--limit", type=int, default=None, metavar="N",
                    help="evaluate only the first N docs (default: the setup's task.limit; 0 = all)")
    ev.add_argument("--out", type=Path, default=None, metavar="DIR",
                    help="write results.json and samples.jsonl here (default: print the score only)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_common(ev)

    demo = sub.add_parser(
        "demo", help="run scoregap on the bundled tiny model",
        description="Run scoregap on its embedded default: a tiny model built locally and a bundled task.",
        epilog=EPILOG,
    )
    demo.add_argument("name", nargs="?", default=None, help="the demo to run (default: the first)")
    demo.add_argument("--list", action="store_true", help="list the demos")
    _add_common(demo)
    return parser


def _fail(message: str) -> int:
    width = 100
    print(textwrap.fill(f"scoregap: error: {message}", width=width, break_long_words=False,
                        break_on_hyphens=False), file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    commands: dict[str, Callable[[argparse.Namespace], int]] = {"eval": cmd_eval, "demo": cmd_demo}
    from scoregap.engine.errors import InputError
    from scoregap.engine.progress import Cancelled

    try:
        return commands[args.command](args)
    except InputError as err:
        if args.debug:
            raise
        return _fail(str(err))
    except (KeyboardInterrupt, Cancelled):
        print("\nscoregap: interrupted; every finished result is in the cache.", file=sys.stderr)
        return 130


def _cache(args: argparse.Namespace):  # noqa: ANN202
    from scoregap.engine.cache import Cache

    return Cache(args.cache_dir)


def cmd_eval(args: argparse.Namespace) -> int:
    from scoregap.engine.errors import InputError

    if args.limit is not None and args.limit < 0:
        raise InputError("--limit must be 0 (all docs) or a positive number of docs.")
    from scoregap.engine.setup import load_setup

    setup = load_setup(args.setup)
    return run_eval(setup, args.model, args.revision, args.limit or 0, args.out, _cache(args), args.quiet)


def run_eval(setup, model_name: str, revision: str, limit: int, out: Path | None, cache, quiet: bool) -> int:  # noqa: ANN001
    from scoregap.engine.backends.transformers import resolve_device
    from scoregap.engine.environment import environment
    from scoregap.engine.evaluate import Engine
    from scoregap.engine.model import resolve_model
    from scoregap.engine.outputs import write_eval
    from scoregap.tui.console import StderrProgress

    model = resolve_model(model_name, revision, cache)
    engine = Engine(model, cache, None if quiet else StderrProgress())
    ev = engine.evaluate(setup, limit)
    env = environment(resolve_device(setup.loading.device), setup.loading.dtype)
    r = ev.result
    stderr = f" ± {r.stderr:.4f}" if r.stderr == r.stderr else ""
    print(f"{ev.task.name}  {ev.metric} = {r.score:.4f}{stderr}  (n={r.n}, {setup.scoring.aggregate}; "
          f"{engine.calls.total} model calls, {engine.calls.cached} cached, {ev.seconds:.1f} s)")
    if out is not None:
        write_eval(ev, model, env, out)
        print(f"wrote {out / 'results.json'} and {out / 'samples.jsonl'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from scoregap.tui.demo import run_demo

    return run_demo(args.name, list_only=args.list, cache=_cache(args))


if __name__ == "__main__":
    raise SystemExit(main())
