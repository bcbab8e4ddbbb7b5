"""`scoregap import lm-eval|lighteval PATH`: a run you already made becomes a session.

    scoregap import lm-eval OUT [--task T] [--metric M] (--reported SCORE | --reported-run PATH)
                    [--reported-task T] [--model M] [--out SESSION.toml] [--force]

It prints what it rebuilt, what no setup key can say, whether the rebuilt setup renders the
logged prompts ("N/M prompts identical", the first difference with its whitespace visible), and,
with a reported run, what the two runs show side by side (no model is called). Then
`scoregap diagnose SESSION.toml` runs the checklist on it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DIFF_LINES = 24
DOC_LINES = 5      # docs of two compared runs the import prints (the report lists more)


def add_parser(sub: argparse._SubParsersAction, epilog: str) -> None:
    p = sub.add_parser(
        "import", help="turn an lm-eval or lighteval run you already made into a session",
        description="Read an lm-eval or lighteval output (results JSON, per-sample logs), rebuild the setup "
                    "that produced it, check it renders the logged prompts, and write a session; with "
                    "--reported-run, compare the two runs doc by doc (no model calls).",
        epilog=epilog,
    )
    p.add_argument("tool", choices=("lm-eval", "lighteval"), help="the tool that wrote the run")
    p.add_argument("path", type=Path, metavar="PATH", help="its output folder, or a results_*.json in it")
    p.add_argument("--task", default="", help="the task in the run (default: its only one)")
    p.add_argument("--metric", default="", help="the score to take: acc_norm, or metric,filter "
                   "(default: the task's first metric and filter)")
    reported = p.add_mutually_exclusive_group(required=True)
    reported.add_argument("--reported", type=float, metavar="SCORE", help="the reported number (0.619 or 61.9)")
    reported.add_argument("--reported-run", type=Path, metavar="PATH",
                          help="the reported run's output (lm-eval or lighteval; the tool is detected)")
    p.add_argument("--reported-task", default="", help="the task in the reported run (default: --task, else its only one)")
    p.add_argument("--reported-metric", default="", help="the reported run's score to take (default: --metric)")
    p.add_argument("--setup", default="", metavar="SETUP",
                   help="your setup, when the run's task cannot be rebuilt (its prompt is Python): a preset such "
                        "as lm-eval/mmlu or a setup file; the run's own settings go on top")
    p.add_argument("--model", default="", help="the model to diagnose (default: the one the run records)")
    p.add_argument("--out", type=Path, default=Path("session.toml"), metavar="SESSION.toml",
                   help="the session to write, with its setups beside it (default: ./session.toml)")
    p.add_argument("--force", action="store_true", help="replace an existing session file")
    p.add_argument("--cache-dir", metavar="DIR", help="the result cache (for the model's tokenizer)")
    p.add_argument("--debug", action="store_true", help="show tracebacks instead of short error messages")


def cmd_import(args: argparse.Namespace) -> int:
    from scoregap.engine.cache import Cache
    from scoregap.engine.run_import import import_session

    imported = import_session(
        args.tool, args.path, args.out, task=args.task, metric=args.metric, reported_run=args.reported_run,
        reported_task=args.reported_task, reported_metric=args.reported_metric, reported_score=args.reported,
        model=args.model, force=args.force, cache=Cache(args.cache_dir), setup=args.setup)
    print(import_text(imported))
    return 0


def import_text(imported) -> str:
    """What an import found, for a terminal (the app shows the same text)."""
    from scoregap.engine.report_formats import prompt_diff

    lines = list(imported.lines)
    check = imported.check
    if check is not None:
        lines.append(check.line())
        if check.first is not None:
            doc_id, logged, rebuilt = check.first
            lines.append(f"first difference, doc {doc_id} (␣ space, ↵ newline, ⟨answer⟩):")
            lines += ["  " + line for line in prompt_diff(logged, rebuilt, "logged", "rebuilt")[:DIFF_LINES]]
    if imported.comparison is not None:
        lines += ["", comparison_text(imported.comparison)]
    lines += ["", "wrote " + ", ".join(str(p) for p in imported.written),
              f"next: scoregap diagnose {imported.session}   (or: scoregap app {imported.session})"]
    return "\n".join(lines)


def comparison_text(c) -> str:
    """What the two runs show, as lines for a terminal (the report says the same)."""
    import textwrap

    from scoregap.engine.report_formats import doc_cells, doc_lines_intro, prompt_diff
    from scoregap.engine.run_comparison import comparison_lines

    lines = ["What the two runs show:"]
    for line in comparison_lines(c.to_dict()):
        lines += textwrap.wrap(line, width=76, initial_indent="  ", subsequent_indent="    ",
                               break_long_words=False, break_on_hyphens=False)
    if c.first_difference is not None:
        doc_id, mine, theirs = c.first_difference
        lines.append(f"  first differing prompt (your doc {doc_id}; ␣ space, ↵ newline, ⟨answer⟩):")
        lines += ["    " + line for line in prompt_diff(mine, theirs, "yours", "reported")[:DIFF_LINES]]
    data = c.to_dict()
    if data["docs"]:
        lines += textwrap.wrap(doc_lines_intro(data) + " The report and the app list them, both prompts each:",
                               width=76, initial_indent="  ", subsequent_indent="    ")
        for row in data["docs"][:DOC_LINES]:
            cells = doc_cells(row)
            lines.append(cut(f"    doc {cells['doc']}: {cells['outcome']}, prompts {cells['prompts']}: "
                             f"{cells['question']}", 76))
    return "\n".join(lines)


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
