"""The diagnosis on the fake backend: planted causes with known effects, run through the one
diagnosis API (`DiagnosisRun`) in seconds. What is tested here is the logic around the model —
screening and its stop rules, the noise floor and its repeats, clustered errors, macro weights,
reconciliation, later rounds and Shapley, the events a front end sees, cancelling — and the bugs
a close read found in it (each test names the one it guards).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakeworld import write_fake_model, write_mc_task, write_qa_task, write_session, write_setup

from scoregap.checks import CHECKS
from scoregap.engine import noise, stats
from scoregap.engine.events import MEASURING, NullEvents
from scoregap.engine.presets import load_setup
from scoregap.engine.progress import Cancelled
from scoregap.engine.ranking import is_cause
from scoregap.engine.run import DiagnosisRun
from scoregap.engine.session import load_session
from scoregap.engine.tasks import Task, load_task

N = 160          # docs: enough for a screening subset (60) smaller than the whole
# Numbered choices cost half the docs 4 nats, however they are wrapped or laid out.
LABELS_1 = {"name": "labels 1", "when": r"[(\[]?\b1[.)\]] ", "docs": 0.5, "nats": -4.0}


def open_run(tmp_path: Path, *, yours: dict[str, Any] | None = None, reference: dict[str, Any] | None = None,
             effects: tuple = (), task: Path | None = None, events: Any = None, known: dict | None = None,
             reported_score: float | None = None, checks: tuple[str, ...] = (), **model: Any) -> DiagnosisRun:
    """A session on the fake world: `yours` and `reference` are dotted-key changes to the task's
    default setup; the reported score is what the reference really scores (unless given)."""
    task = task or write_mc_task(tmp_path / "task", n_docs=N)
    model_dir = write_fake_model(tmp_path / "model", task, effects=effects, **model)
    mine = write_setup(tmp_path / "yours.toml", task, **(yours or {}))
    theirs = write_setup(tmp_path / "reference.toml", task, **(reference or {}))
    session = write_session(tmp_path / "session.toml", model_dir, mine, reported_setup=theirs, known=known,
                            reported_score=reported_score, checks=checks, cache_dir=tmp_path / "cache")
    return DiagnosisRun.open(load_session(session), cache=tmp_path / "cache", checks=CHECKS, events=events)


class Recorder(NullEvents):
    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def scored(self, yours, reported, n):  # noqa: ANN001, ANN201
        self.seen.append(("scored", n))

    def measured(self, summary):  # noqa: ANN001, ANN201
        self.seen.append(("measured", round(summary.gap, 6)))

    def check_started(self, check):  # noqa: ANN001, ANN201
        self.seen.append(("check_started", check))

    def step(self, step):  # noqa: ANN001, ANN201
        self.seen.append(("step", step.check, step.index, step.total))

    def variant_done(self, check, finding):  # noqa: ANN001, ANN201
        self.seen.append(("variant_done", check, finding.variant.name))

    def check_finished(self, result, findings, summary):  # noqa: ANN001, ANN201
        self.seen.append(("check_finished", result.check, result.status))

    def concluded(self, report):  # noqa: ANN001, ANN201
        self.seen.append(("concluded", report["verdict"]))

    def error(self, check, message):  # noqa: ANN001, ANN201
        self.seen.append(("error", check))


# -- a planted cause, end to end ---------------------------------------------------------------


def test_a_planted_label_cause_is_found_reconciled_and_reported_through_events(tmp_path: Path) -> None:
    events = Recorder()
    checks = ("seed", "metric", "prompt")
    run = open_run(tmp_path, yours={"prompt.choice_labels": "1"}, effects=(LABELS_1,), events=events, checks=checks)
    report = run.run_all()
    d = run.diagnosis
    causes = [f for f in d.ranking if is_cause(f)]
    assert d.verdict == "gap" and dict(causes[0].variant.changes) == {"prompt.choice_labels": "A"}
    assert causes[0].closes == pytest.approx(1.0)
    # Letters (A), (a) or Roman numerals undo the numbering alike: named beside the best one.
    assert len(causes) == 1 and {n for n, _ in causes[0].alike} == {"labels (a)", "labels (I)"}
    assert report["alternatives"][0]["members"] == ["prompt: labels (A)", "prompt: labels (a)", "prompt: labels (I)"]
    assert d.reconciliation is not None and d.reconciliation.within_noise and len(d.reconciliation.applied) == 1
    assert report["ranking"][0]["cause"] and report["reconciliation"]["residual"] == pytest.approx(0, abs=1e-6)
    # The events came in order, each check as a field: measured, then per check started ...
    # finished, then concluded; the measuring steps are numbered 1..m.
    kinds = [e[0] for e in events.seen]
    assert kinds.index("measured") < kinds.index("check_started") and kinds[-1] == "concluded"
    # Your score is announced before the noise floor's repeats start (the first screen needs only it).
    assert kinds[kinds.index("scored") + 1:].count("step") and kinds.index("scored") < kinds.index("measured")
    repeats = [i for i, e in enumerate(events.seen) if e[0] == "step" and e[1] == MEASURING and e[2] > 1]
    assert kinds.index("scored") < repeats[0]
    measuring = [e for e in events.seen if e[0] == "step" and e[1] == MEASURING]
    assert [e[2] for e in measuring] == list(range(1, len(measuring) + 1)) and measuring[-1][3] == len(measuring)
    started = [e[1] for e in events.seen if e[0] == "check_started"]
    finished = [e[1] for e in events.seen if e[0] == "check_finished"]
    assert started == finished == list(checks)
    assert ("variant_done", "prompt", "labels (A)") in events.seen


def test_screening_stops_a_variant_inside_noise_and_one_that_widens_the_gap(tmp_path: Path) -> None:
    # Yours uses labels "1", which cost half the docs; "(a)" labels are harmless; the chat
    # template (on) costs more than labels do: a variant that surely widens the gap.
    chat = {"name": "chat", "when": r"<\|user\|>", "docs": 0.9, "nats": -6.0}
    run = open_run(tmp_path, yours={"prompt.choice_labels": "1"}, effects=(LABELS_1, chat), chat_template=True)
    run.measure()
    prompt = run.run_check("prompt")
    template = run.run_check("template")
    by_name = {f.variant.name: f for f in prompt.findings + template.findings}
    subset = 60                                                     # the first look (screening.LOOKS)
    fix = by_name["labels (A)"]
    assert fix.screened == "" and fix.n == N and fix.significant
    harmless = [f for f in prompt.findings if dict(f.variant.changes).get("prompt.choice_labels") is None
                and f.delta == 0]
    assert harmless and all(f.screened == "inside the noise floor" and f.n == subset for f in harmless)
    widen = by_name["chat template on"]
    assert widen.screened == "widens the gap" and widen.n == subset and not widen.significant


# -- the noise floor ---------------------------------------------------------------------------


def test_shuffled_shots_count_as_random_for_the_floor_and_the_seed_check(tmp_path: Path) -> None:
    """Bug: repeats were added only when sampler == "random"; order = "shuffled" uses the seed too."""
    run = open_run(tmp_path, yours={"fewshot.k": 3, "fewshot.order": "shuffled"})
    run.measure()
    repeats = run.diagnosis.noise.repeats
    assert {"few-shot seed 1235", "few-shot seed 1236"} <= set(repeats)
    assert [v.name for v in CHECKS[1].variants(run.session.yours, run.diagnosis.context())] == [
        "few-shot seed 1235", "few-shot seed 1236"]


def test_a_floor_exists_when_nothing_is_random(tmp_path: Path) -> None:
    """Bug: with nothing random and a batch-size repeat that flips nothing the floor was 0, and any
    effect that passed Holm counted. Now: the paired SE of one flipped doc, and the report says so."""
    run = open_run(tmp_path)                                       # k = 0, loglikelihood, no jitter
    run.measure()
    floor = run.diagnosis.noise
    assert set(floor.repeats) == {"yours", "batch size 1"}
    assert floor.half_width == pytest.approx(stats.Z_95 / N)
    assert "one flipped doc" in floor.basis
    # Fixed shots still hold an arbitrary choice: their order is repeated.
    names = [v.name for v in noise.repeats(load_setup(tmp_path / "yours.toml").with_values({"fewshot.k": 3}), 8)]
    assert names == ["shots shuffled (seed 1235)", "shots shuffled (seed 1236)", "batch size 1"]
    report = run.conclude()
    assert report["noise_floor"]["basis"] == floor.basis and "one flipped doc" in report["noise_floor"]["basis"]


def test_the_batch_size_repeat_reruns_only_docs_that_could_flip(tmp_path: Path) -> None:
    run = open_run(tmp_path, close=0.1, jitter=0.02)
    run.measure()
    # Your run came from the cache (the reported score is yours here); the repeat at batch size 1
    # re-ran only the close docs' choices: about 10% of the docs, 4 choices each.
    rerun = run.engine.calls.loglikelihood
    assert 4 * 4 <= rerun <= 4 * 32 and rerun % 4 == 0
    assert run.diagnosis.noise.half_width > stats.Z_95 / N     # jitter flipped some close docs


# -- the limit ---------------------------------------------------------------------------------


def test_the_limit_holds_for_your_run_the_floor_every_variant_and_the_fixes(tmp_path: Path) -> None:
    """Issue 15: a session's docs per variant must bound every evaluation the diagnosis makes:
    your run, the floor's repeats (batch size: re-runs by margin), each variant at each look, the
    fixes together and the floor measured again at them."""
    limit = 130                                               # looks at 60, then all 130
    task = write_mc_task(tmp_path / "task", n_docs=N)
    model_dir = write_fake_model(tmp_path / "model", task, effects=(LABELS_1,), close=0.1, jitter=0.02)
    mine = write_setup(tmp_path / "yours.toml", task, **{"prompt.choice_labels": "1", "fewshot.k": 1})
    theirs = write_setup(tmp_path / "reference.toml", task, **{"fewshot.k": 1})
    session = write_session(tmp_path / "session.toml", model_dir, mine, reported_setup=theirs, limit=limit,
                            checks=("prompt",), cache_dir=tmp_path / "cache")
    run = DiagnosisRun.open(load_session(session), cache=tmp_path / "cache", checks=CHECKS)
    first = {d.doc_id for d in load_setup_task(mine).docs[:limit]}
    planned: list[set[int]] = []
    plan = run.engine.plan

    def recording(setup, limit=0, only=None):  # noqa: ANN001, ANN202
        task_, docs = plan(setup, limit, only)
        planned.append({p.doc.doc_id for p in docs})
        return task_, docs

    run.engine.plan = recording
    report = run.run_all()
    assert run.diagnosis.yours.result.n == limit and report["reconciliation"]["applied"]
    assert len(planned) > 10 and all(docs <= first for docs in planned)
    assert {len(docs) for docs in planned} >= {60, limit}


# -- weights and clusters ----------------------------------------------------------------------


def test_macro_weights_come_from_your_full_run_not_the_screening_subset(tmp_path: Path) -> None:
    """Bug: a screened variant's values were re-weighted with the subset's subtask counts while
    your values kept the full run's: 400 docs split 250/150 gave a variant identical to yours a
    spurious +10-point delta on its 100-doc subset, and it escaped screening."""
    task = write_mc_task(tmp_path / "task", subtasks={"alpha": 250, "beta": 150}, interleave=False)
    run = open_run(tmp_path, task=task, yours={"scoring.aggregate": "macro"}, reference={"scoring.aggregate": "macro"},
                   reported_score=0.9)
    run.measure()
    result = run.run_check("prompt")                       # the fake model ignores every prompt format
    assert result.findings and all(f.delta == 0 for f in result.findings)
    assert all(f.screened == "inside the noise floor" and f.n == 60 for f in result.findings)


def test_standard_errors_are_clustered_by_subtask_when_there_are_enough_subtasks(tmp_path: Path) -> None:
    """Bug: stats.compare supports clustered SEs but the diagnosis never passed the subtasks."""
    many = write_mc_task(tmp_path / "many", subtasks={f"s{i:02d}": 8 for i in range(12)})
    run = open_run(tmp_path / "a", task=many, yours={"prompt.choice_labels": "1"}, effects=(LABELS_1,))
    run.measure()
    fix = next(f for f in run.run_check("prompt").findings if f.variant.name == "labels (A)")
    assert fix.method == "t-clustered"
    few = write_mc_task(tmp_path / "few", subtasks={"alpha": 48, "beta": 48})
    run = open_run(tmp_path / "b", task=few, yours={"prompt.choice_labels": "1"}, effects=(LABELS_1,))
    run.measure()
    fix = next(f for f in run.run_check("prompt").findings if f.variant.name == "labels (A)")
    assert fix.method == "mcnemar"                          # 2 clusters are too few to estimate from


# -- reconciliation, rounds, Shapley -----------------------------------------------------------


def test_a_cause_hidden_by_another_is_found_in_round_two_and_closes_the_rest_of_the_gap(tmp_path: Path) -> None:
    """Bug: later rounds measured `closes` against the original gap, so the fix that closes all
    that is left after round one read as a small partial fix."""
    chat = {"name": "chat", "when": r"<\|user\|>", "docs": 0.6, "nats": -6.0}
    labels = {**LABELS_1, "unless": r"<\|user\|>", "docs": 0.3}      # only seen without the template
    run = open_run(tmp_path, chat_template=True, effects=(chat, labels), checks=("template", "prompt"),
                   task=write_mc_task(tmp_path / "task", n_docs=120),
                   yours={"chat.apply_template": True, "prompt.choice_labels": "1"})
    run.run_all()
    d = run.diagnosis
    found = [f for f in d.ranking if is_cause(f)]
    assert [f.variant.check for f in found][:2] == ["template", "prompt"]
    later = found[1]
    assert later.round == 2 and later.after == ("chat template off",)
    assert later.closes == pytest.approx(1.0, abs=0.05)          # of what round one left
    assert d.reconciliation is not None and d.reconciliation.within_noise
    shares = d.reconciliation.shapley
    assert set(shares) == {"template", "prompt"}
    assert sum(shares.values()) == pytest.approx(d.reconciliation.score - d.yours_score)


def test_alternative_explanations_are_not_applied_together(tmp_path: Path) -> None:
    # The report shows your acc rescaled the leaderboard's way; numbered labels would also cost
    # about as much. Either explains the gap alone: only one fix is applied, no overshoot.
    labels = {**LABELS_1, "docs": 0.15}
    yours = open_run(tmp_path / "probe", effects=(labels,), reported_score=0.5).measure().yours
    run = open_run(tmp_path / "run", effects=(labels,), checks=("metric", "prompt"),
                   reported_score=(yours - 0.25) / 0.75)
    run.run_all()
    d = run.diagnosis
    causes = {f.variant.check: f for f in d.ranking if is_cause(f)}
    assert causes["metric"].variant.transform == "rescaled" and causes["metric"].closes == pytest.approx(1)
    assert "prompt" in causes and causes["prompt"].closes > 0.5
    rec = d.reconciliation
    assert rec is not None and len(rec.applied) == 1 and rec.within_noise


# -- what the outputs show ---------------------------------------------------------------------


def test_stop_hits_truncation_and_doubled_bos_are_counted_and_reported(tmp_path: Path) -> None:
    """Bug: the generation check told users to read stop-hit and truncation rates, and tokenization
    promised to report a doubled BOS; neither was computed."""
    task = write_qa_task(tmp_path / "task", n_docs=60)
    run = open_run(tmp_path, task=task, output="{answer}\n\nQuestion: and the next one is long",
                   chat_template=True, yours={"chat.apply_template": True, "loading.add_bos_token": "true"},
                   reference={"chat.apply_template": True}, checks=("template", "generation"))
    report = run.run_all()
    outputs = report["outputs"]
    assert outputs["stop"] == 1.0 and outputs["length"] == 0.0 and outputs["doubled_bos"] == 60
    assert "stopped at a stop sequence" in outputs["text"] and "60 of 60 inputs began with a doubled BOS" in outputs["text"]
    generation = {v["variant"]: v for v in report["checks"]["generation"]["variants"]}
    assert generation["no stop sequence"]["outputs"]["length"] > 0 or generation["no stop sequence"]["outputs"]["eos"] > 0
    bos = {v["variant"]: v for v in report["checks"]["template"]["variants"]}
    assert bos["BOS as the tokenizer does"]["outputs"]["doubled_bos"] == 0
    assert run.summary().outputs == outputs["text"]


# -- cancelling and failures ---------------------------------------------------------------------


def test_cancel_stops_a_check_between_batches_and_the_next_step_runs(tmp_path: Path) -> None:
    class CancelOnce(NullEvents):
        run: DiagnosisRun | None = None

        def progress(self, info):  # noqa: ANN001, ANN201
            if info.step.check == "prompt" and info.done > 0 and self.run is not None:
                self.run.cancel()
                self.run = None

    events = CancelOnce()
    run = open_run(tmp_path, yours={"prompt.choice_labels": "1", "loading.batch_size": 8}, effects=(LABELS_1,),
                   events=events)
    run.measure()
    events.run = run
    with pytest.raises(Cancelled):
        run.run_check("prompt")
    assert run.results["prompt"].status == "cancelled"
    assert run.run_check("prompt").status == "done"          # finished batches came from the cache


def test_a_check_that_raises_is_a_failed_result_and_an_error_event(tmp_path: Path, monkeypatch) -> None:
    events = Recorder()
    run = open_run(tmp_path, events=events)
    monkeypatch.setattr(CHECKS[8], "variants", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("CUDA out of memory")))
    result = run.run_check("loading")
    assert result.status == "failed" and "batch_size" in result.message
    assert ("error", "loading") in events.seen and run.run_check("metric").status == "done"


def load_setup_task(setup_file: Path) -> Task:
    setup = load_setup(setup_file)
    return load_task(setup.task, setup_source=setup.source)
