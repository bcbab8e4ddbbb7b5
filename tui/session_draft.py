"""The session the wizard drafts: its answers, what each step checks before it moves on, and the
files "Save and start" writes.

No Textual here: the screen (tui/screens/wizard.py) asks and shows, this module decides, so the
checks run the same in a test as on screen. The one slow check, loading the task, runs in the
screen's thread worker.

Your setup is checked together with its task at step 2, as the session will run them: the task is
loaded (a task file, a local copy of a hub dataset, or a hub id through `datasets`, which offline
reads only its local cache), the setup's scoring method must suit the task's kind, and the first
doc's prompt is rendered (templates, few-shot pool). A setup that names no task, or a hub dataset
out of reach, is said there, beside the answers already given, not after "Save and start".
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scoregap.engine.errors import InputError

if TYPE_CHECKING:
    from scoregap.engine.setup import Setup
    from scoregap.engine.tasks import Task

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HEADER = "# A scoregap session, written by the wizard. Run it headless: scoregap diagnose THIS_FILE\n"
TASK_FORMS = "a task TOML file, a local copy of a hub dataset (a folder in the hub layout), or hf:owner/name"


@dataclass
class Answers:
    model: str = ""
    revision: str = ""
    setup: str = ""                      # as the user named it (path or preset)
    task: str = ""                       # '' | a task file | a folder in the hub layout | hf:owner/name
    yours_score: float | None = None
    reported_score: float = 0.0
    source: str = ""
    reported_setup: str = ""
    known: dict[str, Any] = field(default_factory=dict)
    limit: int = 0
    checks: tuple[str, ...] = ()


def parse_value(text: str) -> Any:
    """What the user typed, as a TOML value when it reads as one (5, false, ["\\n"]), else text."""
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def number(text: str, what: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise InputError(f"{what} must be a number, such as 61.9 or 0.619.") from None


def parse_limit(text: str) -> int:
    """Docs per variant as typed: 0 (all) or a positive whole number."""
    try:
        limit = int(text.strip() or "0")
    except ValueError:
        limit = -1
    if limit < 0:
        raise InputError(f"Docs per variant: 0 (all) or a positive whole number, not {text.strip()!r}.")
    return limit


# -- step 2: your setup and its task --------------------------------------------------------------


def setup_with_task(setup: str, task: str) -> Setup:
    """Your setup as named, with the task the user gave instead of its own (not loaded yet)."""
    from scoregap.engine.presets import load_setup

    if not setup:
        raise InputError("Name your setup: a benchmark from the catalog such as lm-eval/mmlu, a setup "
                         "file, or a preset.")
    yours = load_setup(setup)
    if not task:
        if not yours.task.path and not yours.task.hf:
            raise InputError(f"{yours.source or setup}: [task] names no task (neither task.path nor task.hf). "
                             f"Give it in the task field: {TASK_FORMS}.")
        return yours
    if task.startswith("hf:"):
        if not task[3:].strip():
            raise InputError(f'Task "{task}": name the dataset after hf:, such as hf:cais/mmlu.')
        return yours.with_values({"task.path": "", "task.hf": task[3:].strip()}, origin="the wizard")
    path = Path(task).expanduser()
    if path.is_dir():
        if not yours.task.hf:
            raise InputError(f'Task "{task}" is a folder, read as a local copy of a hub dataset, but '
                             f"{setup} has no hub task (task.hf) for it to replace. Give a task TOML file.")
        return yours.with_values({"task.path": "", "task.hf": str(path.resolve())}, origin="the wizard")
    if not path.is_file():
        raise InputError(f'Task "{task}": no such file or folder. Give {TASK_FORMS}.')
    return yours.with_values({"task.path": str(path.resolve()), "task.hf": ""}, origin="the wizard")


def load_checked_task(yours: Setup, setup: str, task: str) -> Task:
    """Your task as the session will load it, checked against your setup: the scoring method
    suits its kind and the first doc's prompt renders (templates, enough few-shot examples).
    Slow for a hub dataset (read through `datasets`): call it from a worker."""
    from scoregap.engine.hub_layout import HubUnavailable
    from scoregap.engine.prompts import PromptBuilder, probe_chat
    from scoregap.engine.scoring import check_method
    from scoregap.engine.tasks import load_task

    try:
        loaded = load_task(yours.task, setup_source=yours.source)
    except InputError as err:
        folder = Path(task).expanduser()
        if task and not task.startswith("hf:") and folder.is_dir():
            from scoregap.engine.hub_layout import layout
            from scoregap.engine.presets import load_setup

            if layout(folder) is None:
                hf = load_setup(setup).task.hf
                raise InputError(f"{err} {folder} is read as a local copy of a hub dataset: give a snapshot "
                                 f"of the dataset repository, whose README.md lists its configs (hf download "
                                 f"{hf} --repo-type dataset --local-dir {folder}).") from None
        if isinstance(err, HubUnavailable):   # said with the wizard's own way out: its task field
            name = err.hf.rstrip("/").rsplit("/", 1)[-1]
            raise InputError(
                f'{setup}: task.hf = "{err.hf}" could not be loaded from the hub or its local cache: '
                f"{err.cause}. Give a local copy in the task field: a folder in the hub layout (on a machine "
                f"online: hf download {err.hf} --repo-type dataset --local-dir /data/{name})."
            ) from None
        raise
    if not loaded.docs:
        raise InputError(f"{loaded.source}: the task has no docs to evaluate.")
    check_method(yours, loaded)
    PromptBuilder(yours, loaded, probe_chat).render(loaded.docs[0])
    return loaded


@dataclass(frozen=True)
class CheckedSetup:
    """Step 2's answers once checked: your setup with its task, and what the task holds."""

    yours: Setup
    setup: str                           # as the user named it
    task: str                            # as the user gave it ('' : the setup's own)
    docs: int                            # the task's docs, counted
    summary: str                         # one line on the task, for the screen


def check_setup(yours: Setup, setup: str, task: str) -> CheckedSetup:
    """Step 2's check (slow for a hub dataset: call it from a worker)."""
    loaded = load_checked_task(yours, setup, task)
    return CheckedSetup(yours, setup, task, len(loaded.docs), task_summary(loaded, yours))


def task_summary(task: Task, yours: Setup) -> str:
    """One line on the task loaded: its docs (counted), subtasks and split."""
    parts = [f"{len(task.docs)} docs"]
    if task.subtasks:
        parts[0] += f" in {len(task.subtasks)} subtasks"
    if yours.task.hf:
        parts.append(f"{yours.task.split} split")
    return f"Your task: {task.name}, " + ", ".join(parts) + "."


# -- step 5: the files ------------------------------------------------------------------------------


def session_files(a: Answers, yours: Setup, session_path: Path) -> dict[Path, str]:
    """The session file's text (and, when a task was given, the small setup file beside it
    that extends your setup with that task), by path."""
    import tomli_w

    from scoregap.engine.checks_api import CHECK_IDS
    from scoregap.engine.session import Session, check_score

    files: dict[Path, str] = {}
    setup_ref = a.setup
    if Path(a.setup).expanduser().is_file():
        setup_ref = str(Path(a.setup).expanduser().resolve())
    if a.task:
        setup_file = session_path.with_name(session_path.stem + "-setup.toml")
        task: dict[str, Any]
        if a.task.startswith("hf:"):
            task = {"path": "", "hf": a.task[3:].strip()}
        elif Path(a.task).expanduser().is_dir():
            task = {"path": "", "hf": str(Path(a.task).expanduser().resolve())}
        else:
            task = {"path": str(Path(a.task).expanduser().resolve()), "hf": ""}
        files[setup_file] = tomli_w.dumps({"extends": setup_ref, "task": task})
        setup_ref = str(setup_file)
    model = a.model
    if Path(model).expanduser().is_dir():
        model = str(Path(model).expanduser().resolve())
    reported, scale = check_score(a.reported_score, "auto", "The reported score")
    session = Session(
        path=str(session_path), model=model, revision=a.revision, yours=yours,
        yours_score=None if a.yours_score is None else check_score(a.yours_score, "auto", "Your score")[0],
        reported_score=reported, reported_raw=a.reported_score, reported_scale=scale, reported_source=a.source,
        reported_setup=a.reported_setup, known=dict(a.known), checks=a.checks or CHECK_IDS, limit=a.limit,
        yours_setup=setup_ref,
    )
    files[session_path] = HEADER + session.to_toml()
    return files


def replaced(files: dict[Path, str]) -> list[Path]:
    """The files writing `files` would replace: those that exist with other content."""
    out = []
    for path in files:
        try:
            if path.read_text(encoding="utf-8") != files[path]:
                out.append(path)
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError):
            out.append(path)   # there, but unreadable: replacing it is still replacing it
    return out
