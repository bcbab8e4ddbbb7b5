"""Progress a user can plan by (issue 15, finding 5): the pace of a run on a fake clock, and the
progress a diagnosis on the fake backend sends — the check's place among those asked for, a
fraction of the check that never goes back (one batch's done/total restarts at every variant and
look), the parts of measuring named, and a step the cache answers whole said as reading the
cache, with no model loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakeworld import write_fake_model, write_mc_task, write_session, write_setup

from scoregap.checks import CHECKS
from scoregap.engine.events import (
    CONCLUDING,
    FINGERPRINTING,
    LOADING_TOKENIZER,
    MEASURING,
    OPENING,
    READING_CACHE,
    NullEvents,
    ProgressInfo,
    Step,
)
from scoregap.engine.pace import Pace
from scoregap.engine.run import DiagnosisRun
from scoregap.engine.session import load_session


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_fraction_never_goes_back_and_the_times_left_come_from_the_pace() -> None:
    clock = Clock()
    pace = Pace(clock)
    pace.plan(["seed", "prompt", "template"])
    pace.count("seed", 2)
    pace.count("prompt", 4)
    pace.count("template", 3)
    # Measuring: 2 steps of 10 s each.
    pace.observe(Step(MEASURING, "your setup", 1, 2))
    clock.now = 10.0
    pace.observe(Step(MEASURING, "few-shot seed 1235", 2, 2))
    clock.now = 20.0
    pace.close(finished=True)
    # The seed check: its first variant's first look completes, then its second look restarts at 0.
    clock.now = 30.0                     # idle between phases is not the run's pace
    first = pace.observe(Step("seed", "a", 1, 2), 0, 60)
    assert (first.check, first.checks, first.fraction) == (1, 3, 0.0)
    assert first.phase_eta == pytest.approx(20.0)        # 2 steps at the run's 10 s per step
    assert first.run_eta == pytest.approx(20.0 + 7 * 10.0)
    clock.now = 35.0
    looked = pace.observe(Step("seed", "a", 1, 2), 60, 60)
    clock.now = 36.0
    again = pace.observe(Step("seed", "a", 1, 2), 10, 120)    # the next look's batch
    assert again.fraction == looked.fraction == pytest.approx(0.5)
    clock.now = 40.0
    second = pace.observe(Step("seed", "b", 2, 2), 30, 60)
    assert second.fraction == pytest.approx(0.75)
    # Its own pace now: 10 s for 1.5 steps, 0.5 step left.
    assert second.phase_eta == pytest.approx(0.5 * 10 / 1.5)
    # The run's pace: 30 s for 3.5 steps; prompt and template wait with 7 steps.
    assert second.run_eta == pytest.approx(second.phase_eta + 7 * 30 / 3.5)
    pace.close()
    clock.now = 45.0
    third = pace.observe(Step("template", "x", 1, 3))
    assert (third.check, third.checks) == (3, 3)
    assert third.run_eta == third.phase_eta               # nothing waits after the last check
    # A batch in flight that needs longer than the steps so far suggest (they were cached) sets the floor.
    clock.now = 46.0
    assert pace.observe(Step("template", "x", 1, 3), 10, 100, batch_left=300.0).phase_eta == 300.0
    pace.plan([])
    # The conclusions' steps are not known ahead (later rounds, floors): no time left is made up.
    assert pace.observe(Step(CONCLUDING, "the fixes together", 1, 1)).phase_eta is None


def test_loading_is_left_out_of_the_pace() -> None:
    clock = Clock()
    pace = Pace(clock)
    pace.observe(Step(MEASURING, "your setup", 1, 2), loading=True)
    clock.now = 40.0                     # the tokenizer and the model load
    pace.observe(Step(MEASURING, "your setup", 1, 2), 0, 100)
    clock.now = 45.0
    out = pace.observe(Step(MEASURING, "your setup", 1, 2), 50, 100)
    assert out.phase_eta == pytest.approx(15.0)           # 5 s for a quarter of the phase


class Progress(NullEvents):
    def __init__(self) -> None:
        self.seen: list[ProgressInfo] = []

    def progress(self, info: ProgressInfo) -> None:
        self.seen.append(info)


def open_run(tmp_path: Path, events: Progress) -> DiagnosisRun:
    task = write_mc_task(tmp_path / "task", n_docs=160)
    labels = {"name": "labels 1", "when": r"[(\[]?\b1[.)\]] ", "docs": 0.5, "nats": -4.0}
    model = write_fake_model(tmp_path / "model", task, effects=[labels])
    mine = write_setup(tmp_path / "yours.toml", task, **{"prompt.choice_labels": "1", "fewshot.k": 2})
    theirs = write_setup(tmp_path / "reference.toml", task)
    session = write_session(tmp_path / "session.toml", model, mine, reported_setup=theirs,
                            checks=("seed", "metric", "fewshot"), cache_dir=tmp_path / "cache")
    return DiagnosisRun.open(load_session(session), cache=tmp_path / "cache", checks=CHECKS, events=events)


def test_a_diagnosis_reports_progress_to_plan_by_and_a_cached_one_reads_the_cache(tmp_path: Path) -> None:
    events = Progress()
    run = open_run(tmp_path, events)
    run.run_all()
    seen = events.seen
    assert seen[0].step.check == OPENING
    # Measuring names its parts.
    parts = [i.step.part for i in seen if i.step.check == MEASURING]
    assert parts[0] == "your setup" and "shot-order repeats" in parts and parts[-1] == "batch-size repeat"
    # Each check knows its place among those asked for; its fraction never goes back, though its
    # batches' done/total do at every variant and look.
    fewshot = [i for i in seen if i.step.check == "fewshot"]
    assert {(i.outlook.check, i.outlook.checks) for i in fewshot} == {(3, 3)}
    fractions = [i.outlook.fraction for i in fewshot]
    assert fractions == sorted(fractions) and fractions[-1] >= (fewshot[-1].step.total - 1) / fewshot[-1].step.total
    batches = [i.done / i.total for i in fewshot if i.total]
    assert any(b < a for a, b in zip(batches, batches[1:]))   # what the old percentage showed
    # The model was loaded once, when the first request was computed.
    assert [i.stage for i in seen if i.stage.startswith("loading the model")] == ["loading the model (fake)"]

    # The same session again: every step reads the cache, nothing loads the model or computes.
    again = Progress()
    run = open_run(tmp_path, again)
    run.run_all()
    assert run.engine.calls.total == 0
    assert {i.stage for i in again.seen} == {FINGERPRINTING, LOADING_TOKENIZER, READING_CACHE}
    steps = {(i.step.check, i.step.index) for i in again.seen}
    assert ("fewshot", 1) in steps and ("metric", 1) in steps and (MEASURING, 1) in steps
