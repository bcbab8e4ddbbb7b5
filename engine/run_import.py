"""Importing runs: files a user already has become a session, and its setup is checked against them.

`import_runs` reads your run (lm-eval or lighteval output) and, optionally, the reported run, and
writes a session beside `out`: your setup rebuilt from your run's files (`<name>.yours.toml`, with
a task file when the run read local data), the reported run's setup when it can be rebuilt, and
the session naming both runs (`yours.run`, `reported.run`), your score from your file, the
reported score from its file (or as given) and every setting the reported run records as a
stated fact in `[reported.known]`, so the checks test those first. Nothing the runs record is
dropped: what no key can say is a comment in the setup and a line of the import's output.

`check_prompts` re-renders the logged docs with the rebuilt setup (the model's tokenizer is needed
only for a chat template; no weights) and compares them with the logged strings: a setup that
does not reproduce the run's prompts would diagnose some other run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scoregap.engine.errors import InputError
from scoregap.engine.files import write_atomic
from scoregap.engine.runs import LoggedRun, Reconstruction

TOOLS = ("lm-eval", "lighteval")


def read_run(tool: str, path: Path | str, task: str = "", metric: str = "") -> tuple[LoggedRun, Reconstruction]:
    if tool == "lm-eval":
        from scoregap.engine.lmeval_runs import read_lmeval

        return read_lmeval(path, task, metric)
    if tool == "lighteval":
        from scoregap.engine.lighteval_runs import read_lighteval

        return read_lighteval(path, task)
    raise InputError(f'"{tool}" is not a tool scoregap imports runs from; tools: {", ".join(TOOLS)}.')


def detect_tool(path: Path | str) -> str:
    """Which tool wrote an output folder or results file: lm-eval's results carry "configs",
    lighteval's "config_general"."""
    from scoregap.engine.lmeval_runs import find_results

    p = Path(path)
    if p.is_dir() and not any(p.rglob("results_*.json")):
        raise InputError(f"{p}: this folder holds no results_*.json file: neither an lm-eval nor a lighteval output.")
    text = find_results(p).read_text(encoding="utf-8", errors="replace")[:200_000]
    return "lighteval" if '"config_general"' in text else "lm-eval"


@dataclass
class Imported:
    session: Path
    written: list[Path]
    yours: LoggedRun
    reported: LoggedRun | None
    lines: list[str] = field(default_factory=list)      # what the import says, one finding a line
    check: PromptCheck | None = None                    # your setup against your logged prompts
    comparison: Any = None                              # runs.RunComparison, with a reported run


def import_session(tool: str, path: Path | str, out: Path, *, task: str = "", metric: str = "",
                   reported_run: Path | str | None = None, reported_task: str = "", reported_metric: str = "",
                   reported_score: float | None = None, model: str = "", force: bool = False,
                   cache: Any = None, setup: str = "") -> Imported:
    """The whole import, for every front end: read the runs, write the session, check your
    setup against your logged prompts, compare the two runs (no model calls)."""
    from scoregap.engine.run_comparison import compare_runs
    from scoregap.engine.session import load_session

    if out.suffix != ".toml":
        raise InputError(f"{out}: a session file ends in .toml.")
    yours = read_run(tool, path, task, metric)
    reported = None
    if reported_run is not None:
        other = detect_tool(reported_run)
        same = other == tool
        reported = read_run(other, reported_run, reported_task or (task if same else ""),
                            reported_metric or (metric if same else ""))
    imported = import_runs(yours, out, reported=reported, reported_score=reported_score, model=model, force=force,
                           setup=setup)
    imported.check = verify_session(load_session(imported.session), cache)
    if reported is not None:
        imported.comparison = compare_runs(yours[0], reported[0])
    return imported


def setup_toml(recon: Reconstruction, task_file: str, title: str) -> str:
    """A setup file: `extends` and the rebuilt keys, with what could not be rebuilt as comments."""
    import tomli_w

    sections: dict[str, dict[str, Any]] = {}
    for dotted, value in recon.values.items():
        section, _, key = dotted.partition(".")
        sections.setdefault(section, {})[key] = task_file if value == "{task_file}" else value
    head = [f"# {title}", "# Written by `scoregap import`; edit freely."]
    if recon.unrepresentable:
        head.append("# Recorded by the run, not expressible as a setup key (check these by hand):")
        head += [f"# - {line}" for line in recon.unrepresentable]
    body = tomli_w.dumps({"extends": recon.extends, **sections})
    return "\n".join(head) + "\n" + body


def import_runs(yours: tuple[LoggedRun, Reconstruction], out: Path, *,
                reported: tuple[LoggedRun, Reconstruction] | None = None,
                reported_score: float | None = None, model: str = "", force: bool = False,
                setup: str = "") -> Imported:
    """Write the session `out` (and its setups beside it). An existing session is never
    overwritten unless `force`. `setup` (a preset or a file) replaces the rebuilt task and prompt:
    the run's own settings (shots, chat template, loading, metric) still go on top of it."""
    import tomli_w

    run, recon = yours
    if setup:
        recon = _on_top_of(setup, recon)
    recon = _with_notes(recon, run)
    if recon.missing and not setup:
        raise InputError(f"{run.path}: your run's {recon.missing} Name your setup with --setup (a preset such as "
                         f"lm-eval/mmlu, or a setup file): the run's settings go on top of it, and its score and "
                         f"logs are read as they are.")
    if reported is None and reported_score is None:
        raise InputError("An import needs the reported number: --reported SCORE (the number you are trying to "
                         "reproduce) or --reported-run PATH (the run that produced it).")
    if out.exists() and not force:
        raise InputError(f"{out} exists; the import does not overwrite a session. Name another --out, or add "
                         f"--force to replace it.")
    stem = out.name.removesuffix(".toml")
    written: list[Path] = []
    yours_setup = _write_setup(recon, out.parent, f"{stem}.yours", f"Your setup, rebuilt from {run.path}", written)
    session: dict[str, Any] = {
        "model": {"path": model or run.model},
        "yours": {"setup": yours_setup, "score": round(run.score, 10), "run": run_table(run)},
    }
    if run.revision:
        session["model"]["revision"] = run.revision
    lines = [f"yours: {run.tool} {run.task}, {run.metric}{_filter(run)} = {run.score:.4f} ({len(run.docs)} docs logged)"]
    lines += [f"  not expressible: {n}" for n in recon.unrepresentable]
    said = [("your run", recon.unrepresentable)]
    if reported is not None:
        theirs, theirs_recon = reported
        theirs_recon = _with_notes(theirs_recon, theirs)
        said.append(("the reported run", theirs_recon.unrepresentable))
        score = theirs.score if reported_score is None else reported_score
        known = _facts(theirs, recon, lines)
        session["reported"] = {"score": round(score, 10), "scale": "fraction",
                               "source": f"{theirs.tool} run {theirs.path}", "run": run_table(theirs),
                               "known": known}
        if theirs_recon.missing:
            lines.append(f"  the reported setup is not written: {theirs_recon.missing}")
        else:
            session["reported"]["setup"] = _write_setup(theirs_recon, out.parent, f"{stem}.reported",
                                                        f"The reported setup, rebuilt from {theirs.path}", written)
        lines.append(f"reported: {theirs.tool} {theirs.task}, {theirs.metric}{_filter(theirs)} = {theirs.score:.4f} "
                     f"({len(theirs.docs)} docs logged); {len(known)} settings stated as facts")
        lines += [f"  not expressible: {n}" for n in theirs_recon.unrepresentable]
    else:
        assert reported_score is not None
        session["reported"] = {"score": reported_score, "scale": "auto", "source": "given to scoregap import"}
    session["diagnosis"] = {"checks": [], "limit": 0}
    head = [f"# A session written by `scoregap import` from {run.path}"]
    for side, notes in said:
        if notes:
            head.append(f"# Recorded by {side}, not expressible as a setup key (check these by hand):")
            head += [f"# - {note}" for note in notes]
    text = "\n".join(head) + "\n" + tomli_w.dumps(session)
    written.append(write_atomic(out, text))
    return Imported(out, written, run, reported[0] if reported else None, lines)


def _with_notes(recon: Reconstruction, run: LoggedRun) -> Reconstruction:
    """`recon` saying everything the run recorded that no setup key holds (the reader's notes on
    the run, a lighteval run's max_samples or sha, as well as the setup's own), each once."""
    return replace(recon, unrepresentable=tuple(dict.fromkeys((*recon.unrepresentable, *run.notes))))


RUN_LEVEL = ("fewshot.", "chat.", "loading.", "scoring.", "generation.", "task.limit")
"""Keys a run sets whatever its task: they go on top of a setup the user names."""


def _on_top_of(setup: str, recon: Reconstruction) -> Reconstruction:
    from scoregap.engine.presets import load_setup

    path = Path(setup).expanduser()
    extends = str(path.resolve()) if path.is_file() else setup
    base = load_setup(extends, origin="--setup")
    values = {k: v for k, v in recon.values.items() if k.startswith(RUN_LEVEL) and k != "fewshot.sampler"}
    base.with_values(values, origin=f"the run's settings on top of {setup}")
    note = f"task and prompt from {setup} (named by hand), the run's own settings on top"
    return Reconstruction(extends, values, None, (note, *recon.unrepresentable))


def run_table(run: LoggedRun) -> dict[str, str]:
    """How a session names a run (engine/session.py, `RunRef`)."""
    metric = f"{run.metric},{run.filter}" if run.filter else run.metric
    return {"path": str(Path(run.path).resolve()), "tool": run.tool, "task": run.task, "metric": metric}


def read_ref(ref: Any) -> tuple[LoggedRun, Reconstruction]:
    """The run a session names."""
    return read_run(ref.tool, ref.path, ref.task, ref.metric)


def _filter(run: LoggedRun) -> str:
    return f" ({run.filter})" if run.filter and run.filter != "none" else ""


def _write_setup(recon: Reconstruction, folder: Path, stem: str, title: str, written: list[Path]) -> str:
    import tomli_w

    task_name = ""
    if recon.task_file is not None:
        task_name = f"{stem}.task.toml"
        written.append(write_atomic(folder / task_name, tomli_w.dumps(dict(recon.task_file))))
    name = f"{stem}.toml"
    written.append(write_atomic(folder / name, setup_toml(recon, task_name, title)))
    return name


def _facts(theirs: LoggedRun, recon: Reconstruction, lines: list[str]) -> dict[str, Any]:
    """The reported run's settings as stated facts, each valid on your setup; one that is not
    (a generation key on a multiple-choice setup) is said, not stated."""
    mine = _load(recon)
    known: dict[str, Any] = {}
    for key, value in theirs.facts.items():
        try:
            mine.with_values({**known, key: value}, origin="the reported run")
        except InputError as err:
            lines.append(f"  not stated as a fact: {key} = {value!r} ({err})")
            continue
        known[key] = value
    return known


def _load(recon: Reconstruction) -> Any:
    from scoregap.engine.presets import load_setup

    setup = load_setup(recon.extends)
    values = {k: v for k, v in recon.values.items() if v != "{task_file}"}
    return setup.with_values(values, origin="the rebuilt setup") if values else setup


# ---------------------------------------------------------------------------------------------
# Checking the rebuilt setup against the logs


@dataclass(frozen=True)
class PromptCheck:
    checked: int
    identical: int
    first: tuple[int, str, str] | None = None     # (doc id, logged, rebuilt)
    skipped: str = ""                             # why nothing was checked

    def line(self) -> str:
        if self.skipped:
            return f"prompts not checked: {self.skipped}"
        return f"{self.identical}/{self.checked} prompts identical to the logged ones"


def check_prompts(setup: Any, run: LoggedRun, chat: Any = None) -> PromptCheck:
    """Re-render the logged docs with `setup` (no model is run) and compare every request's
    context and continuation with the logged strings (`runs.doc_finder` pairs the docs)."""
    from scoregap.engine.prompts import PromptBuilder
    from scoregap.engine.runs import doc_finder
    from scoregap.engine.tasks import load_task

    if not run.docs:
        return PromptCheck(0, 0, skipped="the run logged no samples (lm-eval --log_samples)")
    try:
        task = load_task(setup.task, setup_source=setup.source)
        builder = PromptBuilder(setup, task, chat)
    except InputError as err:
        return PromptCheck(0, 0, skipped=f"the task cannot be loaded here ({err})")
    find = doc_finder(task.docs, run)
    identical, checked, first = 0, 0, None
    for logged in run.docs:
        doc = find(logged)
        if doc is None:
            continue
        prompt = builder.render(doc)
        ours = tuple(prompt.pair(i) for i in range(len(prompt.continuations))) or ((prompt.context, ""),)
        theirs = logged.requests if prompt.continuations else tuple((c, "") for c, _ in logged.requests[:1])
        checked += 1
        if ours == theirs:
            identical += 1
        elif first is None:
            first = (logged.doc_id, _joined(theirs[0]), _joined(ours[0]))
    return PromptCheck(checked, identical, first)


def _joined(request: tuple[str, str]) -> str:
    context, continuation = request
    return context + (f"⟨{continuation}⟩" if continuation else "")


def verify_session(session: Any, cache: Any) -> PromptCheck:
    """`check_prompts` for an imported session's own run: your setup against your logs. The
    model's tokenizer is loaded only when the setup applies a chat template."""
    if not session.yours_run:
        return PromptCheck(0, 0, skipped="the session names no run of yours (yours.run)")
    run, _ = read_ref(session.yours_run)
    chat = None
    if session.yours.chat.apply_template:
        from scoregap.engine.evaluate import Engine
        from scoregap.engine.model import resolve_model

        try:
            engine = Engine(resolve_model(session.model, session.revision, cache), cache)
        except InputError as err:
            return PromptCheck(0, 0, skipped=f"the chat template needs the model's tokenizer ({err})")
        chat = engine.chat_renderer(session.yours)
    return check_prompts(session.yours, run, chat)
