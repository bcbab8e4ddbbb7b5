"""The pace of a diagnosis: how far the current phase is, and how long it and the run have left.

A batch of requests has a done/total, but a check is a dozen variants, each screened on growing
subsets of the docs (a batch per look, most of it answered by the cache): one batch's percentage
restarts at every variant and look, and plans nothing. The unit here is the step (a variant, a
repeat of the noise floor): a phase of m steps is `(i - 1 + batch fraction) / m` done, and that
fraction never goes back. The time left is read off the pace so far:

- the phase (measuring, one check): the steps it has left, at its own seconds per step once it
  finished one, and at the run's until then; never less than the batch in flight still needs at
  its own rate (steps the cache answered make a pace that a computed step does not keep);
- the run: the phase's time left, plus every step of the checks not started yet (their variants
  are counted before they run) at the seconds per step of every phase so far.

Time spent loading (the tokenizer, the model: once per run) is left out of the pace: it would
make the first step look like every step. Steps differ (a measuring step runs every doc, a
variant often stops at 60, a re-reading costs nothing), so both are estimates that improve as the
run goes; with no pace to go by yet (the first phase's first second), the time left is None and
nothing is shown. Pure arithmetic on a clock: the run (engine/run.py) feeds it, the front ends
show its `Outlook`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from scoregap.engine.events import CONCLUDING, Outlook, Step

SETTLED = 1.0
"""Seconds of a phase before its time left is estimated (the first batch's start is no pace)."""


class Pace:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.checks: list[str] = []          # the checks the run was asked for, in order
        self.counts: dict[str, int] = {}     # check -> its number of variants (counted before it runs)
        self.phase: str | None = None        # the current phase: a check id, or MEASURING / CONCLUDING
        self.began = 0.0                     # when the current phase began
        self.seen = 0.0                      # its last observation (a phase closes there)
        self.loading = False                 # the last observation was of something loading
        self.left_out = 0.0                  # seconds of the current phase spent loading
        self.steps = 0                       # steps in the current phase
        self.fraction = 0.0
        self.spent = 0.0                     # seconds in closed phases
        self.steps_done = 0.0                # steps finished in closed phases

    def plan(self, checks: Sequence[str]) -> None:
        """The checks the run is asked for, in the order they run: those it already ran, the one
        running, those waiting. The ones after the current phase's are what is left."""
        self.checks = list(checks)

    def count(self, check: str, variants: int) -> None:
        self.counts[check] = variants

    def close(self, finished: bool = False) -> None:
        """The current phase is over (`finished`: every step of it done, now; else it stopped at
        its last observation): its time and steps go into the pace of the run."""
        if self.phase is not None:
            if finished:
                self.seen, self.fraction = self.clock(), 1.0
            self.spent += self.seen - self.began - self.left_out
            self.steps_done += self.fraction * self.steps
        self.phase = None

    def observe(self, step: Step, done: int = 0, total: int = 0, loading: bool = False,
                batch_left: float | None = None) -> Outlook:
        """Where the run stands now that `step` has `done` of `total` requests computed;
        `loading`: the engine starts loading something (the time until the next observation is
        left out of the pace); `batch_left`: the seconds the batch in flight still needs at its
        own rate (the phase has at least that left, whatever its steps so far cost: steps the
        cache answered make a fast pace that a computed one does not keep)."""
        now = self.clock()
        if step.check != self.phase:
            self.close()
            self.phase, self.began, self.fraction, self.left_out = step.check, now, 0.0, 0.0
        elif self.loading:
            self.left_out += now - self.seen
        self.seen, self.steps, self.loading = now, step.total, loading
        within = min(done / total, 1.0) if total else 0.0
        at = (step.index - 1 + within) / step.total if step.total else 0.0
        self.fraction = max(self.fraction, min(at, 1.0))
        index = self.checks.index(step.check) + 1 if step.check in self.checks else 0
        phase_eta = None if step.check == CONCLUDING else self._phase_eta(now)   # its steps are not known ahead
        if phase_eta is not None and batch_left is not None:
            phase_eta = max(phase_eta, batch_left)
        return Outlook(index, len(self.checks), self.fraction, phase_eta, self._run_eta(now, phase_eta))

    def _phase_eta(self, now: float) -> float | None:
        """Steps left in the phase at the phase's own pace once it finished a step; before that
        at the run's pace so far (one batch into a phase is too little to go by)."""
        mine, elapsed = self.fraction * self.steps, now - self.began - self.left_out
        if mine >= 1 or self.steps_done <= 0:
            if mine <= 0 or elapsed < SETTLED:
                return None
            per_step = elapsed / mine
        else:
            per_step = (self.spent + elapsed) / (self.steps_done + mine)
        return (1 - self.fraction) * self.steps * per_step

    def _run_eta(self, now: float, phase_eta: float | None) -> float | None:
        """The phase's time left, and the steps of the checks still waiting at the run's pace."""
        at = self.checks.index(self.phase) if self.phase in self.checks else -1
        waiting = [dict(self.counts).get(c) for c in self.checks[at + 1:]]   # a copy: the app may re-plan
        steps = self.steps_done + self.fraction * self.steps
        if phase_eta is None or None in waiting or steps <= 0:
            return None
        per_step = (self.spent + now - self.began - self.left_out) / steps
        return phase_eta + per_step * sum(n for n in waiting if n is not None)
