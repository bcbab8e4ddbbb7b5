"""Headless output that fits a terminal (issue 15, findings 6 and 8): `scoregap diagnose` draws one
line per phase cut to the terminal's width and naming the check and the variant, writes plain
lines when its output is not a terminal, lets no library warning through, and writes the lm-eval
task YAML into the report folder (./scoregap-report/<session> unless told) with the command that
reads it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from fakeworld import write_fake_model, write_mc_task, write_session, write_setup

from scoregap.engine.events import COMPUTING, READING_CACHE, Outlook, ProgressInfo, Step
from scoregap.tui.console import CLEAR, ConsoleEvents

LONG = "choices as (A) with the description moved into the system prompt, twice over"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def info(index: int, done: int, stage: str = COMPUTING, name: str = LONG) -> ProgressInfo:
    return ProgressInfo(Step("prompt", name, index, 12), "census_mc: 240 docs", done, 240, 10.0, done == 240,
                        stage, Outlook(5, 9, (index - 1 + done / 240) / 12, 130.0, 845.0))


def test_on_a_terminal_each_phase_is_one_line_redrawn_within_the_width() -> None:
    screen = Terminal()
    events = ConsoleEvents(stream=screen, width=80)
    for index in (3, 4):
        events.progress(info(index, 0, READING_CACHE))
        for done in range(0, 241, 24):
            events.progress(info(index, done))
    text = screen.getvalue()
    assert "\n" not in text                                  # redrawn in place, never a new line
    drawn = [d for d in text.split(CLEAR) if d]
    assert drawn and all(len(d) <= 79 for d in drawn)        # never wraps at 80 columns
    assert all(d.startswith("check 5/9 prompt · variant ") for d in drawn)
    assert drawn[-1].endswith("· 33% · 240/240 · ETA 2:10, all 14:05")   # the long name is cut instead
    events.progress(info(5, 0, name="labels (a)"))
    assert screen.getvalue().endswith(CLEAR + "check 5/9 prompt · variant 5/12 labels (a)  · 33% · 0/240 · "
                                      "ETA 2:10, all 14:05")   # the bar gives way to the place
    text = screen.getvalue()
    events.say("your score 50.0 (n=60), reported 96.2, gap +46.2, noise floor ±9.9, and words enough to wrap "
               "a second line")
    said = screen.getvalue()[len(text):]
    assert said.startswith(CLEAR) and all(len(line) <= 79 for line in said[len(CLEAR):].splitlines())


def test_without_a_terminal_each_step_is_one_plain_line() -> None:
    log = io.StringIO()
    events = ConsoleEvents(stream=log, width=80)
    for index in (3, 4):
        events.progress(info(index, 0, READING_CACHE))
        for done in range(0, 241, 24):
            events.progress(info(index, done))
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and CLEAR not in log.getvalue()
    assert lines == [f"check 5/9 prompt · variant {i}/12 {LONG} · ETA 2:10, all 14:05" for i in (3, 4)]


def fake_session(tmp_path: Path) -> Path:
    task = write_mc_task(tmp_path / "task", n_docs=120)
    labels = {"name": "labels 1", "when": r"[(\[]?\b1[.)\]] ", "docs": 0.5, "nats": -4.0}
    model = write_fake_model(tmp_path / "model", task, effects=[labels])
    mine = write_setup(tmp_path / "yours.toml", task, **{"prompt.choice_labels": "1"})
    theirs = write_setup(tmp_path / "reference.toml", task)
    return write_session(tmp_path / "my-session.toml", model, mine, reported_setup=theirs,
                         checks=("seed", "metric", "prompt"), cache_dir=tmp_path / "cache")


def test_diagnose_writes_the_task_yaml_beside_the_report_and_the_command_that_reads_it(
        tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from scoregap.tui.cli import main

    session = fake_session(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["diagnose", str(session), "--cache-dir", str(tmp_path / "cache")]) == 0
    out, err = capsys.readouterr()
    folder = work / "scoregap-report" / "my-session"            # the default: beside the work, per session
    report = json.loads((folder / "report.json").read_text())
    task = report["reproduce"]["lm_eval_task"]
    yaml_file = folder / "lm-eval-task" / f"{task}.yaml"
    assert report["reproduce"]["lm_eval_task_file"] == str(yaml_file)
    assert json.loads(yaml_file.read_text())["task"] == task   # JSON is YAML
    include = f"--include_path {yaml_file.parent}"
    assert include in report["reproduce"]["lm_eval"]
    md = (folder / "report.md").read_text()
    assert "TASK_DIR" not in md and str(yaml_file) in md and include in md.replace(" \\\n    ", " ")
    assert f"The task YAML (`{yaml_file.name}`):\n\n```yaml\n{yaml_file.read_text().rstrip()}\n```" in md
    html_text = (folder / "report.html").read_text()
    assert str(yaml_file) in html_text and "TASK_DIR" not in html_text
    # stderr is not a terminal here: plain lines, one per step, naming the check and the variant.
    assert "\r" not in err and "check 3/3 prompt · variant 1/" in err
    # stdout fits 80 columns (a path longer than a line gets a line of its own, never cut).
    assert all(len(line) <= 80 or " " not in line.strip(" \\") for line in out.splitlines())
    assert "  scoregap-report/my-session/report.md" in out.splitlines()
    assert "  scoregap-report/my-session/lm-eval-task/" + f"{task}.yaml" in out.splitlines()


def test_no_library_warning_reaches_the_terminal(tmp_path: Path) -> None:
    """A library's FutureWarning (transformers' past_key_values one, say) raised while the model
    runs is not shown: the user cannot act on it, and it tears the progress line."""
    session = fake_session(tmp_path)
    code = ("import warnings, sys\n"
            "from scoregap.engine.backends import fake\n"
            "real = fake.FakeBackend.loglikelihood\n"
            "def warned(self, *a, **k):\n"
            "    warnings.warn('`past_key_values` is deprecated', FutureWarning)\n"
            "    return real(self, *a, **k)\n"
            "fake.FakeBackend.loglikelihood = warned\n"
            "from scoregap.tui.cli import main\n"
            f"sys.exit(main(['diagnose', {str(session)!r}, '--checks', 'seed', '--report', {str(tmp_path / 'r')!r},"
            f" '--cache-dir', {str(tmp_path / 'cache')!r}]))\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "past_key_values" not in done.stderr


def test_the_seed_checks_repeats_are_never_called_its_best_cause() -> None:
    """Bug: `diagnose` printed "seed  done  best: few-shot seed 1235 (+3.3 points)", a noise-floor
    repeat named like a cause."""
    from scoregap.engine.checks_api import CheckResult, Finding, Variant

    def repeat(name: str, delta: float) -> Finding:
        return Finding(Variant("seed", name, (), repeat=True), 0.5 + delta, delta, (-0.1, 0.1), 0.5, 0.1,
                       (0.0, 0.2), 60, "mcnemar")

    out = io.StringIO()
    ConsoleEvents(stream=out, width=100).check_finished(
        CheckResult("seed", "done", [repeat("few-shot seed 1235", 0.033), repeat("few-shot seed 1236", -0.01)]),
        {}, None)
    line = " ".join(out.getvalue().split())   # wrapped to the width
    assert "best:" not in line
    assert "repeats (noise, not causes): few-shot seed 1235 +3.3, few-shot seed 1236 -1.0" in line
