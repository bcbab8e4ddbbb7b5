"""One diagnosis API for every front end: `DiagnosisRun`.

    run = DiagnosisRun.open(session, cache=cache_dir, checks=CHECKS, events=my_events)
    run.measure()                     # your score and the noise floor
    run.run_check("template")         # one check (any order; again later to redo it)
    report = run.conclude()           # the ranking, the reconciliation, the report model
    run.write_reports(directory)      # report.md, report.html, report.json

The command line, the app, the scripts and the tests all drive a diagnosis this way; none of
them assembles a cache, a model, an engine and a diagnosis by hand. What happens is reported
through `events` (engine/events.py); `cancel()` may be called from another thread and stops the
step in flight between two batches (`Cancelled` is raised; every finished batch is cached).
The checks are passed in by the front end (the engine never imports `scoregap.checks`).

`plan(checks)` tells the run which checks it is asked for (`run_checks` does it itself; the app
says so as its queue changes): every `ProgressInfo` then carries the check's place among them and
the time left in the check and in all of them (engine/pace.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from scoregap.engine.backends import backends_for
from scoregap.engine.cache import Cache, CacheError
from scoregap.engine.checks_api import Check, CheckResult, Finding
from scoregap.engine.diagnosis import Diagnosis
from scoregap.engine.errors import InputError
from scoregap.engine.evaluate import Engine, ModelInput
from scoregap.engine.events import (
    COMPUTING,
    CONCLUDING,
    FINGERPRINTING,
    OPENING,
    READING_CACHE,
    Events,
    NullEvents,
    Outlook,
    ProgressInfo,
    Step,
    Summary,
    is_loading,
)
from scoregap.engine.model import resolve_model
from scoregap.engine.pace import Pace
from scoregap.engine.presets import load_setup
from scoregap.engine.progress import Cancelled
from scoregap.engine.session import Session
from scoregap.engine.setup import Setup


def readable(err: BaseException) -> str:
    """An exception as a paragraph for the user (with what to do about running out of memory)."""
    if isinstance(err, InputError):
        return str(err)
    text = f"{type(err).__name__}: {err}"
    if "out of memory" in str(err).lower() or type(err).__name__ == "OutOfMemoryError":
        text += ("\n\nThe model ran out of memory. Lower loading.batch_size in your setup (or use "
                 '"auto"), or a smaller dtype; finished batches are cached.')
    return text


class _StepProgress:
    """The engine's `Progress`, forwarded to the events with the step it belongs to, what the
    engine is doing (`stage`) and the run's outlook."""

    def __init__(self, run: DiagnosisRun) -> None:
        self.run = run
        self.label, self.total, self.done, self.began = "", 0, 0, 0.0
        self.doing = READING_CACHE

    def stage(self, text: str) -> None:
        """Nothing is being computed: a new step reads the cache, or a model loads. The done/total
        of the last batch stays with its step, never with the next one."""
        self.doing, self.label, self.total, self.done, self.began = text, "", 0, 0, time.perf_counter()
        self._send()

    def start(self, label: str, total: int) -> None:
        self.doing = COMPUTING
        self.label, self.total, self.done, self.began = label, total, 0, time.perf_counter()
        self._send()

    def advance(self, n: int) -> None:
        self.done += n
        self._send()

    def finish(self) -> None:
        self._send(finished=True)

    def cancelled(self) -> bool:
        return self.run.cancel_requested.is_set()

    def _send(self, finished: bool = False) -> None:
        step = self.run.diagnosis.step
        elapsed = time.perf_counter() - self.began
        left = (self.total - self.done) * elapsed / self.done if self.doing == COMPUTING and self.done else None
        outlook = self.run.outlook(step, self.done, self.total, is_loading(self.doing), left)
        self.run.events.progress(ProgressInfo(step, self.label, self.done, self.total, elapsed, finished,
                                              self.doing, outlook))


class DiagnosisRun:
    def __init__(self, session: Session, engine: Engine, checks: Sequence[Check], *,
                 events: Events | None = None, limit: int | None = None, debug: bool = False) -> None:
        self.events: Events = events or NullEvents()
        self.checks = {c.id: c for c in checks}
        self.debug = debug
        self.cancel_requested = threading.Event()
        self.engine = engine
        self.diagnosis = Diagnosis(session, engine, list(checks), session.limit if limit is None else limit,
                                   backends=backends_for(engine.model), events=self.events)
        self.pace = Pace()
        self._variant_counts: dict[str, int] = {}
        engine.progress = _StepProgress(self)
        self.report: dict[str, Any] | None = None

    @classmethod
    def open(cls, session: Session, *, cache: Cache | Path | str | None = None, checks: Sequence[Check] = (),
             events: Events | None = None, limit: int | None = None, debug: bool = False) -> DiagnosisRun:
        """Resolve the session's model (hashing its files once per cache) and get ready to run."""
        cache = cache if isinstance(cache, Cache) else Cache(cache)
        if events is not None:
            events.progress(ProgressInfo(Step(OPENING, "opening the session", 1, 1), "", 0, 0, 0.0, stage=FINGERPRINTING))
        model = resolve_model(session.model, session.revision, cache)
        return cls(session, Engine(model, cache), checks, events=events, limit=limit, debug=debug)

    # -- state -----------------------------------------------------------------------------------

    @property
    def session(self) -> Session:
        return self.diagnosis.session

    @property
    def limit(self) -> int:
        return self.diagnosis.limit

    @property
    def measured(self) -> bool:
        return self.diagnosis.noise is not None

    @property
    def results(self) -> dict[str, CheckResult]:
        return self.diagnosis.results

    def summary(self) -> Summary:
        return self.diagnosis.summary()

    def findings(self) -> dict[str, list[Finding]]:
        return {c: list(r.findings) for c, r in self.diagnosis.results.items()}

    def set_known(self, known: dict[str, Any]) -> None:
        """Replace what the report states (`[reported.known]`); later checks test the new facts."""
        self.diagnosis.session = replace(self.session, known=dict(known))
        self._variant_counts.clear()   # a stated fact adds or removes variants
        self.pace.counts.clear()

    def plan(self, check_ids: Sequence[str]) -> None:
        """The checks this run is asked for, in the order they run (those it already ran, the one
        running, those waiting): their count and the time left in all of them go with the progress."""
        self.pace.plan(check_ids)

    def variant_count(self, check_id: str) -> int | None:
        """How many variants the check will run (0 if it does not apply); None before your setup
        is measured (the variants depend on the task)."""
        if self.diagnosis.yours is None:
            return None
        if check_id not in self._variant_counts:
            check, d = self.checks[check_id], self.diagnosis
            try:
                context = d.context()
                n = 0 if check.applies(self.session.yours, context) else len(check.variants(self.session.yours, context))
            except Exception:  # noqa: BLE001 - a count only feeds the time left; the check says its own failure
                n = 0
            self._variant_counts[check_id] = n
        return self._variant_counts[check_id]

    def outlook(self, step: Step, done: int = 0, total: int = 0, loading: bool = False,
                batch_left: float | None = None) -> Outlook:
        """Where the run stands (engine/pace.py), with the variants of the checks asked for counted
        as soon as they can be."""
        for check_id in self.pace.checks:
            if check_id not in self.pace.counts and check_id in self.checks:
                n = self.variant_count(check_id)
                if n is not None:
                    self.pace.count(check_id, n)
        return self.pace.observe(step, done, total, loading, batch_left)

    def cancel(self) -> None:
        """Stop the step in flight after its current batch (safe from any thread)."""
        self.cancel_requested.set()

    # -- the steps ---------------------------------------------------------------------------------

    def measure(self) -> Summary:
        with self._cancellable(), self._phase():
            self.diagnosis.measure()
        summary = self.summary()
        self.events.measured(summary)
        return summary

    def run_check(self, check_id: str) -> CheckResult:
        """Run one check; a check that fails becomes a failed result and an `error` event (the
        others can still run), except with `debug`, which re-raises."""
        if not self.measured:
            self.measure()
        check = self.checks[check_id]
        d = self.diagnosis
        self.events.check_started(check_id)
        try:
            with self._cancellable(), self._phase():
                result = d.run_check(check)
        except (Cancelled, CacheError):
            raise   # a cancel, or a cache no check can use: the run stops
        except Exception as err:  # noqa: BLE001 - one failed check; the others go on
            if self.debug:
                raise
            result = d.results[check_id] = CheckResult(check_id, "failed", message=readable(err))
            self.events.error(check_id, readable(err))
        d.rank()   # significance (Holm) across the checks run so far
        self.events.check_finished(result, self.findings(), self.summary())
        return result

    def run_checks(self, ids: Sequence[str] | None = None) -> None:
        """The given checks (default: the session's), in checklist order."""
        wanted = self.session.checks if ids is None else ids
        planned = [c for c in self.checks if c in wanted]
        self.plan(planned)
        for check_id in planned:
            self.run_check(check_id)

    def conclude(self) -> dict[str, Any]:
        """The ranking and reconciliation (model calls for the fixes together); the report model."""
        from scoregap.engine.reports import report_model

        if not self.measured:
            self.measure()
        self.plan([])    # the rounds after the fixes run checks again: none of them is "check k of n"
        self.diagnosis.set_step(CONCLUDING, "the fixes together", 1, 1)
        with self._cancellable():
            with self._phase():
                self.diagnosis.conclude()
            self.report = report_model(self.diagnosis)
        self.events.concluded(self.report)
        return self.report

    def run_all(self) -> dict[str, Any]:
        """Everything the session asks for, in order (the headless path)."""
        self.plan([c for c in self.checks if c in self.session.checks])
        self.measure()
        self.run_checks()
        return self.conclude()

    def write_reports(self, directory: Path, formats: Sequence[str] | None = None) -> list[Path]:
        from scoregap.engine.reports import FORMATS, write_reports

        if self.report is None:
            raise RuntimeError("conclude() first: there is no report yet")
        return write_reports(self.report, directory, tuple(formats or FORMATS))

    # -- what the model is fed -----------------------------------------------------------------

    def model_input(self, setup: Setup) -> ModelInput:
        return self.engine.model_input(setup)

    def reference_for(self, check_id: str) -> tuple[Setup | None, str, str]:
        """The setup a check's prompt is best compared with: (setup, short name, a note).

        In order of preference: the check's best variant once it ran (what it would change),
        the reported setup if the session names one, else your setup with the facts the report
        states applied."""
        result = self.results.get(check_id)
        moving = [f for f in (result.findings if result else []) if f.variant.changes]
        if moving:
            best = max(moving, key=lambda f: f.closes)
            return (best.variant.apply(self.session.yours), best.variant.name,
                    f"Reference: this check's best variant ({best.variant.name}).")
        if self.session.reported_setup:
            setup = load_setup(self.session.reported_setup, relative_to=Path(self.session.path).parent)
            return setup, "reported", f"Reference: the reported setup ({self.session.reported_setup})."
        if self.session.known:
            setup = self.session.yours.with_values(dict(self.session.known), origin="the reported facts")
            return setup, "reported facts", "Reference: your setup with the facts the report states."
        return None, "", ("No reference: the session names no reported setup and states no facts; run the "
                          "check to compare with its best variant.")

    # -- internals -----------------------------------------------------------------------------------

    def _cancellable(self) -> _Cancellable:
        return _Cancellable(self.cancel_requested)

    @contextmanager
    def _phase(self) -> Iterator[None]:
        """Measuring, a check or the conclusions: when it ends, its time goes into the pace (all
        its steps done, unless it stopped on the way)."""
        try:
            yield
        except BaseException:
            self.pace.close()
            raise
        self.pace.close(finished=True)


class _Cancellable:
    """A step that, when cancelled, leaves the run ready for the next one."""

    def __init__(self, flag: threading.Event) -> None:
        self.flag = flag

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, err: BaseException | None, tb: Any) -> bool:
        if kind is Cancelled:
            self.flag.clear()
        return False
