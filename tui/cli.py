"""The `scoregap` command line.

    scoregap                                  the terminal app (start screen)
    scoregap app [SESSION.toml] [--limit N]   the terminal app, on a session's checklist
    scoregap eval SETUP.toml --model M [--limit N] [--out DIR]
    scoregap diagnose SESSION.toml [--checks a,b] [--limit N] [--report DIR]
    scoregap demo [NAME] [--list] [--reveal] [--headless]
    scoregap benchmarks [--json]              the benchmark catalog: what a session can name
    scoregap import lm-eval|lighteval PATH    a run you already made becomes a session

Bad input of any kind (a setup, a task, a model path, an unusable result cache) is one paragraph
on stderr and exit code 2; `--debug` shows the traceback instead. Heavy imports (torch,
transformers) happen inside the commands, so `--help` is instant, and `quiet_libraries` can keep
the libraries' warnings off the terminal before they load.

Stopping: Ctrl-C (SIGINT) and `kill` (SIGTERM, what a batch scheduler or `timeout` sends) both stop
at once (the batch in flight is rolled back whole, every finished batch stays in the cache), say
so, and exit 130 and 143. The app stops on SIGHUP (an SSH connection dropped) and SIGTERM after
cancelling its run and recording the session's progress, and exits 129 and 143 the same way.
"""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from scoregap import __version__

if TYPE_CHECKING:
    from scoregap.engine.cache import Cache

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

    dg = sub.add_parser(
        "diagnose", help="find out why your score differs from the reported one (headless)",
        description="Run the checklist on a session: ablations per check, paired statistics, ranked "
                    "causes, reconciliation; writes report.md, report.html and report.json.",
        epilog=EPILOG,
    )
    dg.add_argument("session", metavar="SESSION", help="a session TOML file")
    dg.add_argument("--checks", default="", metavar="A,B",
                    help="only these checks, comma-separated (default: the session's, else all nine)")
    dg.add_argument("--limit", type=int, default=None, metavar="N",
                    help="docs per variant (default: the session's diagnosis.limit; 0 = all)")
    dg.add_argument("--report", type=Path, default=None, metavar="DIR",
                    help="where to write report.md, report.html, report.json and the lm-eval task YAML "
                         "(default: ./scoregap-report/SESSION, SESSION being the session file's name)")
    dg.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_common(dg)

    app = sub.add_parser(
        "app", help="the terminal app (what `scoregap` alone opens)",
        description="Open the terminal app: the start screen, or the checklist of SESSION.",
        epilog=EPILOG,
    )
    app.add_argument("session", metavar="SESSION", nargs="?", default=None, help="a session TOML file to open")
    app.add_argument("--limit", type=int, default=None, metavar="N",
                     help="docs per variant (default: the session's diagnosis.limit; 0 = all)")
    _add_common(app)

    demo = sub.add_parser(
        "demo", help="run scoregap on the bundled tiny model",
        description="Run scoregap on its embedded default: a tiny model built locally and a bundled task.",
        epilog=EPILOG,
    )
    demo.add_argument("name", nargs="?", default=None,
                      help="the demo to open in the terminal app (default: the first)")
    demo.add_argument("--list", action="store_true", help="list the demos")
    demo.add_argument("--reveal", action="store_true", help="with --list: show each scenario's planted causes")
    demo.add_argument("--headless", action="store_true", help="run the diagnosis without the terminal app")
    demo.add_argument("--report", type=Path, default=None, metavar="DIR",
                      help="where to write the reports (default: ./scoregap-report/NAME)")
    _add_common(demo)

    bm = sub.add_parser(
        "benchmarks", help="list the benchmark catalog",
        description="List the benchmarks scoregap knows by name (lm-evaluation-harness 0.4.13's tasks): "
                    "the preset to name as yours.setup, its hub dataset, split, published size, shots, "
                    "metric, and the other codebases' presets for it.",
        epilog=EPILOG,
    )
    bm.add_argument("--json", action="store_true", help="machine output: one object per benchmark")
    bm.add_argument("--debug", action="store_true", help="show tracebacks instead of short error messages")

    from scoregap.tui.import_cli import add_parser as add_import

    add_import(sub, EPILOG)
    return parser


INTERRUPTED = "scoregap: interrupted; every finished result is in the cache."


class Terminated(BaseException):
    """A signal asked scoregap to stop (SIGTERM; SIGHUP in the app). A BaseException, like
    KeyboardInterrupt, so that no `except Exception` on the way (a failed check) swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


def _terminate(signum: int, frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_DFL)   # a second signal stops at once
    raise Terminated(signum)


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """While the command runs, SIGTERM raises `Terminated` in the main thread (between two
    bytecodes: a batch being committed is rolled back whole). The previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _say(text: str) -> None:
    """A line on stderr, if stderr is still there (after SIGHUP the terminal is gone)."""
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _fail(message: str) -> int:
    width = 100
    _say(textwrap.fill(f"scoregap: error: {message}", width=width, break_long_words=False,
                       break_on_hyphens=False))
    return 2


QUIET_LIBRARIES = {"TORCH_CPP_LOG_LEVEL": "ERROR", "TRANSFORMERS_VERBOSITY": "error", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
                   "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
"""Set before torch or transformers is imported, unless the user set them: torch's C++ warnings
(the NUMA binding notice of vLLM's CPU build) and transformers' advice are for their developers,
and their progress bars ("Writing model shards" as the demo model is built) draw over ours."""


def quiet_libraries() -> None:
    """No library's warnings on the user's terminal (a deprecation inside transformers, torch or
    vLLM is nothing the user can act on, and it tears the progress line or the app's screen),
    unless the user asks for warnings (`python -W ...` or PYTHONWARNINGS)."""
    import os
    import warnings

    for key, value in QUIET_LIBRARIES.items():
        os.environ.setdefault(key, value)
    if not sys.warnoptions:
        warnings.simplefilter("ignore")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet_libraries()
    if args.command is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):   # no terminal to draw the app in
            parser.print_help()
            return 0
        args = parser.parse_args(["app"])
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "eval": cmd_eval, "diagnose": cmd_diagnose, "demo": cmd_demo, "app": cmd_app,
        "benchmarks": cmd_benchmarks, "import": cmd_import,
    }
    from scoregap.engine.errors import InputError
    from scoregap.engine.progress import Cancelled

    try:
        with stop_on_sigterm():
            return commands[args.command](args)
    except InputError as err:
        if args.debug:
            raise
        return _fail(str(err))
    except (KeyboardInterrupt, Cancelled):
        _say(f"\n{INTERRUPTED}")
        return 130
    except Terminated as stop:
        _say(f"\n{INTERRUPTED}")
        return 128 + stop.signum


def cmd_import(args: argparse.Namespace) -> int:
    from scoregap.tui.import_cli import cmd_import as run

    return run(args)


def _cache(args: argparse.Namespace) -> Cache:
    from scoregap.engine.cache import Cache

    return Cache(args.cache_dir)


def cmd_eval(args: argparse.Namespace) -> int:
    from scoregap.engine.errors import InputError

    if args.limit is not None and args.limit < 0:
        raise InputError("--limit must be 0 (all docs) or a positive number of docs.")
    from scoregap.engine.presets import load_setup

    setup = load_setup(args.setup)
    return run_eval(setup, args.model, args.revision, args.limit or 0, args.out, _cache(args), args.quiet)


def run_eval(setup, model_name: str, revision: str, limit: int, out: Path | None, cache, quiet: bool) -> int:
    from scoregap.engine.backends import get_backend
    from scoregap.engine.environment import environment
    from scoregap.engine.evaluate import Engine
    from scoregap.engine.model import resolve_model
    from scoregap.engine.outputs import write_eval
    from scoregap.tui.console import StderrProgress

    model = resolve_model(model_name, revision, cache)
    engine = Engine(model, cache, None if quiet else StderrProgress())
    ev = engine.evaluate(setup, limit)
    backend = get_backend(setup.loading.backend)
    env = environment(setup.loading.backend, backend.resolve_device(setup.loading.device), setup.loading.dtype)
    r = ev.result
    stderr = f" ± {r.stderr:.4f}" if r.stderr == r.stderr else ""
    print(f"{ev.task.name}  {ev.metric} = {r.score:.4f}{stderr}  (n={r.n}, {setup.scoring.aggregate}; "
          f"{engine.calls.total} model calls, {engine.calls.cached} cached, {ev.seconds:.1f} s)")
    if out is not None:
        write_eval(ev, model, env, out)
        print(f"wrote\n  {out / 'results.json'}\n  {out / 'samples.jsonl'}")   # a path is never wrapped mid-name
    return 0


def cmd_diagnose(args: argparse.Namespace) -> int:
    from scoregap.engine.checks_api import parse_check_ids
    from scoregap.engine.errors import InputError
    from scoregap.engine.session import load_session

    if args.limit is not None and args.limit < 0:
        raise InputError("--limit must be 0 (all docs) or a positive number of docs per variant.")
    session = load_session(args.session)
    if args.checks:
        from dataclasses import replace

        session = replace(session, checks=parse_check_ids(args.checks.split(","), "--checks"))
    limit = session.limit if args.limit is None else args.limit
    return run_diagnosis(session, limit, args.report, _cache(args), args.quiet, args.debug)


def run_diagnosis(session, limit: int, report_dir: Path | None, cache, quiet: bool, debug: bool = False) -> int:
    from scoregap.checks import CHECKS
    from scoregap.engine.reports import default_folder, located
    from scoregap.engine.run import DiagnosisRun
    from scoregap.tui.console import ConsoleEvents, report_summary, terminal_width

    def fatal() -> BaseException | None:
        """A fault of the result cache, even one the engine caught as a variant that cannot run:
        no report is written from a run whose results could not all be stored (exit 2)."""
        return getattr(cache, "failure", None)

    events = ConsoleEvents(quiet, fatal=fatal)
    events.say(f"diagnosing {session.path}")
    run = DiagnosisRun.open(session, cache=cache, checks=CHECKS, events=events, limit=limit, debug=debug)
    events.say(f"measuring your setup on {run.engine.model.name}")
    report = run.run_all()
    if (problem := fatal()) is not None:
        raise problem
    directory = report_dir or default_folder(session.path)
    paths = run.write_reports(directory)
    print(report_summary(located(report, directory), paths, terminal_width(sys.stdout)))
    return 0


def run_app(session: Path | None, limit: int | None, cache_dir: str | None) -> int:
    """The terminal app, until the user quits (0) or a signal stops it (`Terminated`: the app
    has cancelled its run and recorded the session's progress)."""
    from scoregap.tui.app import make_app

    app = make_app(session, cache_dir=cache_dir, limit=limit)
    app.run()
    if app.stopped_by is not None:
        raise Terminated(app.stopped_by)
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    from scoregap.engine.errors import InputError

    if args.limit is not None and args.limit < 0:
        raise InputError("--limit must be 0 (all docs) or a positive number of docs per variant.")
    if args.session is not None and not Path(args.session).is_file():
        raise InputError(f"{args.session}: file not found. Give a session TOML file, or no argument for "
                         f"the start screen.")
    return run_app(Path(args.session) if args.session else None, args.limit, args.cache_dir)


def cmd_benchmarks(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from scoregap.engine.catalog import entries

    catalog = entries()
    if args.json:
        print(json.dumps([asdict(e) for e in catalog], indent=2))
    else:
        print(benchmarks_table(catalog))
    return 0


def benchmarks_table(catalog: Sequence, width: int = 80) -> str:
    """The catalog as a table that fits `width` columns. Each benchmark takes two lines, its hub
    dataset under its name: one line of full names and hub ids would be 85 columns. A codebase's
    preset is shown by its codebase ("helm" for helm/mmlu), a variant as "olmes (cloze)" for
    olmes/mmlu_cloze; the presets wrap between names, never inside one."""
    heads = ("name", "split", "docs", "shots", "metric")
    cells = [(e.name, e.split, "?" if e.docs is None else str(e.docs), str(e.k), e.metric) for e in catalog]
    widths = [max(len(row[i]) for row in (heads, *cells)) for i in range(len(heads))]
    right = (False, False, True, True, False)
    start = sum(widths) + 2 * len(widths)
    column = max(width - start, 16)

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right))

    def merge(left: list[str], presets: list[str]) -> list[str]:
        out, presets = [], list(presets)
        for text in left:
            if presets and len(text) <= start - 2:
                out.append(text.ljust(start) + presets.pop(0))
            else:
                out.append(text)
        return out + [" " * start + p for p in presets]

    lines = merge([line(heads), "  hub id, config"], ["codebase presets"])
    for entry, row in zip(catalog, cells):
        hub = f"  {entry.hf}" + (f", {entry.config}" if entry.config else "")
        shown = [_short_preset(p, entry.benchmark) for p in entry.presets] or ["-"]
        lines += merge([line(row).rstrip(), hub], _pack(shown, column))
    lines += ["", *textwrap.wrap(
        'Name a benchmark as yours.setup in a session (yours.setup = "lm-eval/mmlu"), a codebase preset '
        'as CODEBASE/BENCHMARK (helm/mmlu, leaderboard/mmlu), a variant as CODEBASE/BENCHMARK_VARIANT '
        '("olmes (cloze)": olmes/mmlu_cloze). docs: the split\'s size as published on the hub. --json: '
        "everything, per benchmark.", width)]
    return "\n".join(line_.rstrip() for line_ in lines)


def _short_preset(preset: str, benchmark: str) -> str:
    codebase, _, stem = preset.partition("/")
    if stem == benchmark:
        return codebase
    if stem.startswith(f"{benchmark}_"):
        return f"{codebase} ({stem[len(benchmark) + 1:]})"
    return preset


def _pack(items: list[str], width: int) -> list[str]:
    """Comma-separated items in lines of at most `width`, broken between items only."""
    lines: list[str] = []
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if lines and len(lines[-1]) + 1 + len(piece) <= width:
            lines[-1] += " " + piece
        else:
            lines.append(piece)
    return lines


def cmd_demo(args: argparse.Namespace) -> int:
    from scoregap.tui.demo import run_demo

    return run_demo(args, cache=_cache(args))


if __name__ == "__main__":
    raise SystemExit(main())
