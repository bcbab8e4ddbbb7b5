"""What the app's workers report, as the app handles it: the engine's events (posted by
`AppEvents` in scoregap.tui.session_run), a worker that failed, and a rendered prompt pair.

`WorkerReports` is mixed into `ScoregapApp` (Textual finds `on_*` handlers along the class's
bases); it holds no state of its own: it updates the checklist and ranking screens the app has
open, and hands the next queued work back to the app's `drive`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.worker import Worker, WorkerState

from scoregap.engine.run import readable
from scoregap.tui.screens.error import ErrorScreen
from scoregap.tui.session_run import (
    CONCLUDE,
    CheckFinished,
    CheckStarted,
    Concluded,
    Measured,
    ProgressUpdate,
    RunCancelled,
    RunIdle,
    Scored,
    VariantDone,
    WorkFailed,
)
from scoregap.tui.widgets.prompt_diff import PromptPair

if TYPE_CHECKING:
    from scoregap.tui.screens.checklist import ChecklistScreen
    from scoregap.tui.screens.ranking import RankingScreen
    from scoregap.tui.session_run import SessionRun


@dataclass
class PromptReady(Message):
    check: str
    pair: PromptPair


class WorkerReports:
    """The handlers; the attributes and methods they use are the app's."""

    checklist: ChecklistScreen | None
    ranking: RankingScreen | None
    session_run: SessionRun | None
    report: dict[str, Any] | None
    _driving: bool
    _save_when_concluded: bool

    def on_progress_update(self, m: ProgressUpdate) -> None:
        if self.checklist:
            self.checklist.show_progress(m.info)

    def on_scored(self, m: Scored) -> None:
        if self.checklist:
            self.checklist.show_score(m.yours, m.n)

    def on_measured(self, m: Measured) -> None:
        if self.checklist:
            self.checklist.show_summary(m.summary)
            self.request_prompt_pair(self.checklist.current)

    def on_check_started(self, m: CheckStarted) -> None:
        if self.checklist:
            self.checklist.check_started(m.check)

    def on_variant_done(self, m: VariantDone) -> None:
        if self.checklist:
            self.checklist.variant_done(m.check, m.finding)

    def on_check_finished(self, m: CheckFinished) -> None:
        if self.checklist:
            self.checklist.check_finished(m.result, m.findings)
            self.checklist.show_summary(m.summary)
        if self.session_run and m.result.status in ("done", "skipped") and m.result.check not in self.session_run.finished:
            self.session_run.finished.append(m.result.check)
        self._remember()

    def on_work_failed(self, m: WorkFailed) -> None:
        if m.check == "":
            if self.checklist:
                self.checklist.show_summary(None, "could not measure your setup (r retries)")
            self.push_screen(ErrorScreen(m.title, m.text))
        elif m.check == CONCLUDE:
            self.push_screen(ErrorScreen(m.title, m.text))
        else:
            if self.checklist:
                self.checklist.check_failed(m.check, m.text)
            self.notify(f"{m.title}; the other checks keep working. Details in its pane.", severity="error")

    def on_run_cancelled(self, m: RunCancelled) -> None:
        if self.checklist:
            if m.check == "":
                self.checklist.show_summary(None, "measuring cancelled (r resumes it)")
            elif m.check != CONCLUDE:
                self.checklist.check_cancelled(m.check)
        self.notify("Cancelled. Finished batches are cached.")

    def on_concluded(self, m: Concluded) -> None:
        self.report = m.report
        if self.ranking:
            self.ranking.show(m.report)
        if self._save_when_concluded:
            self._save_when_concluded = False
            self.save_report()

    def on_run_idle(self, m: RunIdle) -> None:
        self._driving = False
        if self.checklist:
            self.checklist.show_idle()
        if self.session_run and self.session_run.queue:
            self._driving = True
            self.drive(self.session_run)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state != WorkerState.ERROR or worker.group not in ("engine", "prompt"):
            return
        if worker.group == "engine":
            self._driving = False
            if self.session_run:
                self.session_run.clear()
                self.session_run.running = ""
            if self.checklist:
                for check, state in list(self.checklist.states.items()):
                    if state.status in ("running", "queued"):
                        self.checklist.check_failed(check, readable(worker.error))  # type: ignore[arg-type]
        self.push_screen(ErrorScreen(f"{worker.description} stopped", readable(worker.error)))  # type: ignore[arg-type]

    def on_prompt_ready(self, m: PromptReady) -> None:
        if self.checklist:
            self.checklist.show_pair(m.check, m.pair)
