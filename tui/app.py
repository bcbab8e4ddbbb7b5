"""The scoregap terminal app: from "my score is off" to a saved report.

`make_app(...)` builds it for the command line and the tests alike. The app owns the one open
session (`SessionRun`, holding the engine's `DiagnosisRun`) and the thread workers that touch it:

- `drive` (group "engine", exclusive): opens and measures the session if needed, then drains its
  queue of checks (and the conclusion) in order. The engine reports through `AppEvents`, which
  posts messages (scoregap.tui.session_run), handled in scoregap.tui.worker_reports; `c` cancels
  between two batches.
- `render_prompts` (group "prompt", exclusive): the two model inputs of the selected check, as the
  engine renders and tokenizes them, so browsing never waits for the engine's work.

Screens never call the app: they post their own messages (`ChecklistScreen.RunRequested`, ...),
which the app handles with `@on`.

After every finished check the session's progress goes to the state file (scoregap.tui.state): a
dropped connection loses nothing, and opening the session again re-runs the finished checks from
the cache (zero model calls). Animations are off: the app is meant for SSH.

When the SSH connection drops (SIGHUP) or scoregap is asked to stop (SIGTERM: both routed by
scoregap.tui.hangups), `hang_up` cancels the
run in flight (it stops after its batch, which is cached), writes the state file and exits;
`stopped_by` tells the command line which signal it was (tui/cli.py exits 128 + its number).
"""

from __future__ import annotations

import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App
from textual.binding import Binding

from scoregap.engine.cache import Cache
from scoregap.engine.checks_api import CHECK_IDS
from scoregap.engine.errors import InputError
from scoregap.engine.progress import Cancelled
from scoregap.engine.run import readable
from scoregap.profiles import scenarios
from scoregap.tui.console import shown_path
from scoregap.tui.hangups import HangupSignals
from scoregap.tui.screens.checklist import ChecklistScreen
from scoregap.tui.screens.confirm_quit import ConfirmLeaveScreen, ConfirmQuitScreen
from scoregap.tui.screens.error import ErrorScreen
from scoregap.tui.screens.import_run import ImportScreen
from scoregap.tui.screens.ranking import RankingScreen
from scoregap.tui.screens.save_report import SaveReportScreen, SaveRequest
from scoregap.tui.screens.start import StartScreen
from scoregap.tui.screens.wizard import WizardScreen, parse_value
from scoregap.tui.session_run import (
    CONCLUDE,
    AppEvents,
    RunCancelled,
    RunIdle,
    SessionRun,
    WorkFailed,
)
from scoregap.tui.state import FILE_NAME, RecentSessions, fingerprint
from scoregap.tui.widgets.prompt_diff import PromptPair
from scoregap.tui.worker_reports import PromptReady, WorkerReports


class ScoregapApp(WorkerReports, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "scoregap"
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self, *, cache_dir: Path | str | None = None, session_path: Path | None = None,
                 limit: int | None = None, autostart: bool = True, report_dir: Path | None = None) -> None:
        super().__init__()
        self.animation_level = "none"
        self.cache = Cache(cache_dir)
        self.recent = RecentSessions(self.cache.directory / FILE_NAME)
        self.initial_session = session_path
        self.limit_override = limit
        self.autostart = autostart
        self.report_dir = report_dir
        self.session_run: SessionRun | None = None
        self.checklist: ChecklistScreen | None = None
        self.ranking: RankingScreen | None = None
        self.report: dict[str, Any] | None = None
        self.edits: dict[str, Any] = {}
        self._driving = False
        self._save_when_concluded = False
        self.stopped_by: int | None = None        # the signal that stopped the app, if one did
        self.signals = HangupSignals()

    def on_mount(self) -> None:
        self.signals.route(self.hang_up)
        self.push_screen(StartScreen(self.recent.load(), scenarios()))
        if self.initial_session is not None:
            self.open_session(self.initial_session)

    # -- what the screens ask for ---------------------------------------------------------------

    @on(StartScreen.OpenRequested)
    def _open_requested(self, m: StartScreen.OpenRequested) -> None:
        self.open_session(m.path)

    @on(StartScreen.WizardRequested)
    def _wizard_requested(self) -> None:
        self.push_screen(WizardScreen(Path.cwd() / "scoregap-session.toml", self.cache))

    @on(StartScreen.ImportRequested)
    def _import_requested(self) -> None:
        self.push_screen(ImportScreen(Path.cwd() / "scoregap-import.toml", self.cache))

    @on(ImportScreen.SessionImported)
    def _session_imported(self, m: ImportScreen.SessionImported) -> None:
        self.open_session(m.path)

    @on(WizardScreen.SessionWritten)
    def _session_written(self, m: WizardScreen.SessionWritten) -> None:
        self.recent.forget(m.path)   # a new session: nothing of one written there before applies
        self.open_session(m.path)

    @on(ChecklistScreen.RunRequested)
    def _run_requested(self, m: ChecklistScreen.RunRequested) -> None:
        self.run_checks(list(m.checks))

    @on(ChecklistScreen.CancelRequested)
    def _cancel_requested(self) -> None:
        self.cancel_run()

    @on(ChecklistScreen.RankingRequested)
    def _ranking_requested(self) -> None:
        self.show_ranking()

    @on(ChecklistScreen.LeaveRequested)
    def _leave_requested(self) -> None:
        self.leave_session()

    @on(ChecklistScreen.FactEdited)
    def _fact_edited(self, m: ChecklistScreen.FactEdited) -> None:
        error = self.set_fact(m.key, m.text)
        if self.checklist:
            self.checklist.fact_saved(m.key, m.text, error)

    @on(ChecklistScreen.PromptRequested)
    def _prompt_requested(self, m: ChecklistScreen.PromptRequested) -> None:
        self.request_prompt_pair(m.check)

    @on(RankingScreen.SaveRequested)
    def _save_requested(self) -> None:
        self.save_report()

    @on(ChecklistScreen.SaveRequested)
    def _save_from_checklist(self) -> None:
        """The report holds the ranking: conclude first (the ranking screen shows it happen), then
        ask where to save."""
        if self.show_ranking():
            self._save_when_concluded = True

    # -- sessions ---------------------------------------------------------------------------------

    def open_session(self, path: Path) -> None:
        from scoregap.engine.session import load_session

        try:
            session = load_session(path)
        except InputError as err:
            self.push_screen(ErrorScreen("This session cannot be opened", str(err)))
            return
        record = self.recent.get(path)
        self.edits = dict(record.known) if record else {}
        if self.edits:
            known = {k: v for k, v in {**session.known, **self.edits}.items() if v is not None}
            session = replace(session, known=known)
        content = fingerprint(path)
        same = record if record and content and record.fingerprint == content else None   # the file unchanged
        if self.limit_override is not None:
            limit = self.limit_override
        else:   # resuming: the docs per variant the finished checks ran with; else the file's own
            limit = same.limit if same else session.limit
        self.session_run = SessionRun(session, limit, fingerprint=content)
        self.report = None
        self.checklist = ChecklistScreen(session, limit)
        self.push_screen(self.checklist)
        restore = [c for c in CHECK_IDS if same and same.limit == limit and c in same.finished]
        self._remember(restore)
        if restore:
            self.notify(f"Resuming: {len(restore)} finished check(s) come back from the cache.", timeout=4)
        if self.autostart:
            self.run_checks(restore, measure=True)

    def leave_session(self) -> None:
        run = self.session_run
        if run and run.busy:
            def answer(leave: bool | None) -> None:
                if leave:
                    if self.checklist:
                        self.checklist.unqueue(run.cancel())
                    self._close_session()

            self.push_screen(ConfirmLeaveScreen(self._running_text(run)), answer)
            return
        self._close_session()

    def _close_session(self) -> None:
        self.session_run, self.checklist, self.report = None, None, None
        self.pop_screen()
        if isinstance(self.screen, StartScreen):
            self.screen.show_recent(self.recent.load())

    def _remember(self, finished: list[str] | None = None) -> None:
        run = self.session_run
        if run is None:
            return
        if finished is not None:
            run.finished = list(finished)
        self.recent.record(run.session.path, limit=run.limit, finished=run.finished, known=self.edits,
                           title=run.session.story or Path(run.session.path).name, fingerprint=run.fingerprint)

    def set_fact(self, key: str, text: str) -> str:
        """Change what the report states (from the checklist); '' or why the value is refused."""
        run = self.session_run
        if run is None:
            return "No session is open."
        value = parse_value(text) if text.strip() else None
        known = dict(run.session.known)
        if value is None:
            known.pop(key, None)
        else:
            try:
                run.session.yours.with_values({key: value}, origin="what the report states")
            except InputError as err:
                return str(err)
            known[key] = value
        run.set_known(known)
        self.edits[key] = value
        if self.checklist:
            self.checklist.session = run.session
            self.checklist.pairs.clear()
        self._remember()
        return ""

    # -- running ----------------------------------------------------------------------------------

    def run_checks(self, checks: list[str], measure: bool = False) -> None:
        run = self.session_run
        if run is None:
            return
        for check in checks:
            if run.add(check) and self.checklist:
                self.checklist.check_queued(check)
        if (checks or measure) and not self._driving:
            self._driving = True
            self.drive(run)

    def cancel_run(self) -> None:
        run = self.session_run
        if run is None or not run.busy:
            self.notify("Nothing is running.")
            return
        dropped = run.cancel()
        if self.checklist:
            self.checklist.unqueue(dropped)
        self.notify("Cancelling: the engine stops after the batch in flight.")

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine", description="The diagnosis")
    def drive(self, run: SessionRun) -> None:
        """Open and measure the session if needed, then drain its queue (engine/run.py does
        the work and reports through AppEvents)."""
        from scoregap.checks import CHECKS
        from scoregap.engine.run import DiagnosisRun

        post = self.post_message
        run.cancelled.clear()
        try:
            if run.diagnosis is None or not run.diagnosis.measured:
                with run.lock:
                    run.running = "measure"
                try:
                    if run.diagnosis is None:
                        run.diagnosis = DiagnosisRun.open(run.session, cache=self.cache, checks=CHECKS,
                                                          events=AppEvents(post), limit=run.limit)
                    if run.cancelled.is_set():
                        raise Cancelled()
                    run.diagnosis.plan(run.planned())
                    run.diagnosis.measure()
                except Cancelled:
                    run.clear()
                    post(RunCancelled(""))
                    return
                except Exception as err:  # noqa: BLE001 - shown in the app, never a crash
                    run.clear()
                    post(WorkFailed("", "Your setup could not be measured", readable(err)))
                    return
            d = run.diagnosis
            while (item := run.next()) is not None:
                try:
                    if item == CONCLUDE:
                        d.conclude()
                    else:
                        d.plan(run.planned())
                        d.run_check(item)
                except Cancelled:
                    run.clear()
                    post(RunCancelled(item))
                    return
                except Exception as err:  # noqa: BLE001 - the ranking failed; the checks stay
                    post(WorkFailed(item, "The ranking could not be computed", readable(err)))
        finally:
            with run.lock:
                run.running = ""
            post(RunIdle())

    # -- prompts ----------------------------------------------------------------------------------

    def request_prompt_pair(self, check: str) -> None:
        run = self.session_run
        if run is None or run.diagnosis is None or not run.diagnosis.measured:
            return
        self.render_prompts(check, run)

    @work(thread=True, exclusive=True, exit_on_error=False, group="prompt", description="Rendering the prompts")
    def render_prompts(self, check: str, run: SessionRun) -> None:
        """Your model input beside the check's reference, as the engine feeds them to the model."""
        d = run.diagnosis
        assert d is not None
        try:
            reference, name, note = d.reference_for(check)
            yours = d.model_input(run.session.yours)
            theirs = d.model_input(reference) if reference is not None else yours
            pair = PromptPair("yours", name or "reference", yours.text, theirs.text, yours.tokens, theirs.tokens, note)
        except InputError as err:
            pair = PromptPair("yours", "reference", "", "", (), (), f"The prompts could not be rendered: {err}")
        self.post_message(PromptReady(check, pair))

    # -- ranking and reports -------------------------------------------------------------------------

    def show_ranking(self) -> bool:
        """Open the ranking and conclude; False when there is nothing to rank yet."""
        run = self.session_run
        if run is None:
            return False
        if not any(s.status == "done" for s in (self.checklist.states.values() if self.checklist else [])):
            self.notify("Run at least one check first (r).", severity="warning")
            return False
        self.ranking = RankingScreen()
        self.push_screen(self.ranking, lambda _: setattr(self, "ranking", None))
        if run.add(CONCLUDE) and not self._driving:
            self._driving = True
            self.drive(run)
        return True

    def default_report_dir(self) -> Path:
        """./scoregap-report/<session>, as `scoregap diagnose` writes it (a demo's too: never a
        hidden cache folder)."""
        if self.report_dir is not None:
            return self.report_dir
        from scoregap.engine.reports import default_folder

        return Path.cwd() / default_folder(self.session_run.session.path if self.session_run else "session")

    def save_report(self) -> None:
        if self.report is None:
            self.notify("The ranking is not ready yet.", severity="warning")
            return
        report = self.report

        def write(request: SaveRequest | None) -> None:
            from scoregap.engine.reports import write_reports

            if request is None:
                return
            try:
                paths = write_reports(report, request.directory, request.formats)
            except OSError as err:
                self.push_screen(ErrorScreen("The report could not be written", f"{request.directory}: {err}"))
                return
            # The folder on a line of its own, as short as it can be said: a toast wraps a long
            # path wherever the line ends, even inside a name.
            # The task YAML's name is long (a hash): named by its folder, which never wraps mid-name.
            names = ", ".join(p.parent.name + "/" if p.suffix == ".yaml" else p.name for p in paths)
            self.notify(f"Wrote {names} in\n{shown_path(request.directory)}", timeout=8)

        self.push_screen(SaveReportScreen(self.default_report_dir()), write)

    # -- quitting ---------------------------------------------------------------------------------

    def on_unmount(self) -> None:
        self.signals.release()

    def hang_up(self, signum: int = signal.SIGHUP) -> None:
        """The terminal went away (SIGHUP: an SSH connection dropped) or scoregap was asked to stop
        (SIGTERM): cancel the run in flight (it stops after its batch; every finished batch is
        cached), record the session's progress in the state file, and exit with 128 + signum."""
        if self.stopped_by is not None:
            return
        self.stopped_by = signum
        run = self.session_run
        if run is not None and run.busy:
            run.cancel()
        try:
            self._remember()
        except OSError:
            pass   # no state file (a full disk): opening the session again still finds every result cached
        self.exit(return_code=128 + signum)

    async def action_quit(self) -> None:
        run = self.session_run
        if run is None or not run.busy:
            self.exit()
            return

        def answer(quit_: bool | None) -> None:
            if quit_:
                run.cancel()
                self.exit()

        self.push_screen(ConfirmQuitScreen(self._running_text(run)), answer)

    @staticmethod
    def _running_text(run: SessionRun) -> str:
        """What is running, as a sentence's subject."""
        if run.running not in ("", "measure", CONCLUDE):
            return f"The {run.running} check"
        return {"measure": "Measuring your setup", CONCLUDE: "The ranking"}.get(run.running, "Work")


def make_app(session: Path | str | None = None, *, cache_dir: Path | str | None = None, limit: int | None = None,
             autostart: bool = True, report_dir: Path | None = None) -> ScoregapApp:
    """The app for the command line and the tests: the start screen, or a session's checklist."""
    return ScoregapApp(cache_dir=cache_dir, session_path=Path(session) if session else None, limit=limit,
                       autostart=autostart, report_dir=report_dir)
