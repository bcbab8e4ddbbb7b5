"""The diagnosis: from "reported 61.9, I got 55.3" to ranked, tested causes.

Steps (each a method, so the TUI can run them one at a time with progress and cancel):
1. `measure()`: evaluate your setup, and the identical-setting repeats that make the noise floor
   (other few-shot / sampling seeds where something is random; another batch size).
2. `run_check(check)`: evaluate the check's variants on the same docs and compare each with your
   run, paired (engine/stats.py). Variants are screened first on a subset of the docs; a variant
   goes on to the full set unless its screening CI already shows an effect below the noise floor.
   Numeric variants (dtype, batch size, padding, attention) re-run only the docs whose decision
   margin is small enough to flip; the others keep your outputs.
3. `conclude()`: Holm correction over every finding of every check (the variants testing stated
   facts and the exploratory ones as two families), significance beyond the
   noise floor, the ranking, the reconciliation (the best significant fix of every check applied
   together, in ranking order, each kept only if it brings the score closer to the reported one;
   evaluated), further rounds when a residual beyond noise remains (causes one fix was hiding)
   and the Shapley split of the gap over the top ≤ 4 checks.

Scores are fractions throughout; the gap is reported − yours, so a variant "closes" the gap when
it moves your score toward the reported one. Every model output goes through the engine's cache:
a re-run or a resumed session recomputes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from scoregap.engine import stats
from scoregap.engine.checks_api import Check, CheckContext, CheckResult, Finding, Variant
from scoregap.engine.errors import InputError
from scoregap.engine.evaluate import Engine, Evaluation
from scoregap.engine.progress import Cancelled
from scoregap.engine.session import Session
from scoregap.engine.setup import Setup

SCREEN_MIN = 60             # docs in a screening subset, at least
NUMERIC_KEYS = ("loading.dtype", "loading.batch_size", "loading.padding_side", "loading.attn_implementation")
ROUNDS = 3                  # fix-and-look-again rounds at most (see _next_round)
FLIP_MARGIN = {"float32": 0.01, "bfloat16": 1.0, "float16": 0.5}   # nats a numeric change can move


@dataclass
class Reconciliation:
    setup: Setup
    applied: list[Variant]
    score: float
    residual: float                  # reported - reconciled
    within_noise: bool
    shapley: dict[str, float] = field(default_factory=dict)   # check -> share of the gap (fraction)


@dataclass
class Diagnosis:
    session: Session
    engine: Engine
    checks: Sequence[Check]
    limit: int = 0
    yours: Evaluation | None = None
    repeats: dict[str, list[float]] = field(default_factory=dict)
    noise: stats.NoiseFloor | None = None
    results: dict[str, CheckResult] = field(default_factory=dict)
    ranking: list[Finding] = field(default_factory=list)
    reconciliation: Reconciliation | None = None
    # Front ends follow a check variant by variant (the app's table fills in live).
    on_variant: Callable[[Variant], None] | None = None
    on_finding: Callable[[Finding], None] | None = None

    # -- your run and the noise floor ------------------------------------------------------------

    @property
    def gap(self) -> float:
        return self.session.reported_score - self.yours_score

    @property
    def yours_score(self) -> float:
        assert self.yours is not None, "measure() first"
        return self.yours.result.score

    @property
    def verdict(self) -> str:
        assert self.noise is not None
        return "within_noise" if abs(self.gap) <= self.noise.half_width else "gap"

    def values(self, ev: Evaluation) -> list[float]:
        """Per-doc values whose mean is the setup's aggregate (macro weights applied)."""
        scores = [s.score for s in ev.scores]
        if ev.setup.scoring.aggregate == "macro":
            return _macro_values(scores, [s.subtask for s in ev.scores])
        return scores

    def context(self) -> CheckContext:
        assert self.yours is not None
        from scoregap.engine.setup import presets_for

        return CheckContext(
            task=self.yours.task, known=self.session.known, reported_score=self.session.reported_score,
            presets=presets_for(self.yours.task.kind), backends=("transformers",),
        )

    def measure(self) -> None:
        yours = self.session.yours
        self.yours = self.engine.evaluate(yours, self.limit)
        base = self.values(self.yours)
        repeats: dict[str, list[float]] = {"yours": base}
        if yours.fewshot.k > 0 and yours.fewshot.sampler == "random":
            for step in (1, 2):
                repeats[f"few-shot seed {yours.fewshot.seed + step}"] = self._values_of(
                    yours.with_values({"fewshot.seed": yours.fewshot.seed + step}))
        if yours.scoring.method == "generate" and yours.generation.temperature > 0:
            for step in (1, 2):
                repeats[f"sampling seed {yours.generation.seed + step}"] = self._values_of(
                    yours.with_values({"generation.seed": yours.generation.seed + step}))
        other_bs = 1 if yours.loading.batch_size != 1 else 8
        # Only docs whose decision could flip are re-run, as for the loading check's variants.
        repeats[f"batch size {other_bs}"] = self._variant_values(
            Variant("loading", f"batch size {other_bs}", (("loading.batch_size", other_bs),)), None)
        self.repeats = repeats
        floor = stats.noise_floor(list(repeats.values()))
        paired = [stats.compare(base, r).ci for name, r in repeats.items() if name != "yours"]
        widest = max((max(abs(lo), abs(hi)) for lo, hi in paired), default=0.0)
        self.noise = stats.NoiseFloor(floor.sd, max(floor.half_width, widest), floor.n_repeats, floor.means)

    def _values_of(self, setup: Setup, only: frozenset[int] | None = None) -> list[float]:
        return self.values(self.engine.evaluate(setup, self.limit, only))

    # -- one check ---------------------------------------------------------------------------

    def run_check(self, check: Check) -> CheckResult:
        assert self.yours is not None and self.noise is not None, "measure() first"
        context = self.context()
        calls_before = self.engine.calls.total
        reason = check.applies(self.session.yours, context)
        if reason:
            result = CheckResult(check.id, "skipped", message=reason)
            self.results[check.id] = result
            return result
        findings, failures = [], []
        try:
            for variant in check.variants(self.session.yours, context):
                if self.on_variant:
                    self.on_variant(variant)
                try:
                    findings.append(self._screen(variant))
                    if self.on_finding:
                        self.on_finding(findings[-1])
                except InputError as err:   # one variant the model cannot run; the others go on
                    failures.append(f"{variant.name}: {err}")
        except Cancelled:
            self.results[check.id] = CheckResult(check.id, "cancelled", message="cancelled; finished work is cached")
            raise
        except InputError as err:
            failures.append(str(err))
        if failures and not findings:
            result = CheckResult(check.id, "failed", message=" ".join(failures))
            self.results[check.id] = result
            return result
        base = self.values(self.yours)
        result = CheckResult(
            check.id, "done", findings, mde=stats.minimum_detectable_effect(base),
            calls=self.engine.calls.total - calls_before,
            message=("Variants that could not run: " + " ".join(failures)) if failures else "",
        )
        self.results[check.id] = result
        return result

    def _screen(self, variant: Variant) -> Finding:
        base = self.values(self.yours)   # type: ignore[arg-type]
        n = len(base)
        subset = n if n <= 2 * SCREEN_MIN else max(SCREEN_MIN, n // 4)
        before = self.engine.calls.total
        if subset < n:
            scores = self._variant_values(variant, frozenset(d.doc_id for d in self.yours.task.docs[:subset]))  # type: ignore[union-attr]
            screened = stats.compare(base[:subset], scores[:subset])
            noise = self.noise.half_width  # type: ignore[union-attr]
            lo, hi = screened.ci
            inside_noise = max(abs(lo), abs(hi)) < noise
            # Settled too: the variant surely moves your score away from the reported one.
            widens = (hi < 0 < self.gap) or (lo > 0 > self.gap)
            if inside_noise or widens:
                return self._finding(variant, base[:subset], scores[:subset], before,
                                     screened="inside the noise floor" if inside_noise else "widens the gap")
        scores = self._variant_values(variant, None)
        return self._finding(variant, base, scores, before)

    def _finding(self, variant: Variant, base: list[float], scores: list[float], before: int,
                 screened: str = "") -> Finding:
        """`screened`: why the variant stopped on the screening subset ('' if it ran on every doc)."""
        c = stats.compare(base, scores)
        closes, closes_ci = stats.closes(self.gap, c.delta, c.ci)
        extra = {"screened": screened} if screened else {}
        return Finding(variant, sum(scores) / len(scores), c.delta, c.ci, c.p, closes, closes_ci,
                       c.n, c.method, calls=self.engine.calls.total - before, extra=extra)

    def _variant_values(self, variant: Variant, only: frozenset[int] | None,
                        base: Evaluation | None = None) -> list[float]:
        """Per-doc values of a variant over the base run's docs (all, or those in `only`); the
        base is your run, or in a later round your run with the fixes found so far."""
        base = base or self.yours
        assert base is not None
        if variant.transform:
            return _transform(variant.transform, base)
        setup = variant.apply(base.setup)
        docs = [s.doc_id for s in base.scores]
        if only is not None:
            docs = [d for d in docs if d in only]
        if {k for k, _ in variant.changes} <= set(NUMERIC_KEYS):
            flip = self._could_flip(base, setup)
            if flip is not None:
                rerun = frozenset(d for d in docs if d in flip)
                kept = dict(zip((s.doc_id for s in base.scores), self.values(base)))
                fresh = dict(zip(sorted(rerun), self._values_of(setup, rerun))) if rerun else {}
                return [fresh.get(d, kept[d]) for d in docs]
        ev = self.engine.evaluate(setup, self.limit, frozenset(docs) if only is not None else None)
        return self.values(ev)

    def _could_flip(self, base: Evaluation, setup: Setup) -> set[int] | None:
        """Docs whose choice decision is close enough to flip under a numeric change."""
        if base.task.kind != "multiple_choice" or base.setup.scoring.aggregate == "macro":
            return None
        threshold = FLIP_MARGIN.get(setup.loading.dtype, 1.0)
        close = set()
        for s in base.scores:
            lls = sorted(s.raw["loglikelihoods"], reverse=True)
            if len(lls) < 2 or lls[0] - lls[1] < threshold or s.raw["min_margin"] < threshold:
                close.add(s.doc_id)
        return close

    # -- conclusions -------------------------------------------------------------------------

    def conclude(self, reconcile: bool = True) -> None:
        assert self.noise is not None
        everything = {
            (cid, i): f for cid, r in self.results.items() if r.status == "done" for i, f in enumerate(r.findings)
        }
        rejected = _holm_by_family({f"{cid}/{i}": f for (cid, i), f in everything.items()})
        for (cid, i), f in everything.items():
            reject = rejected[f"{cid}/{i}"]
            significant = reject and abs(f.delta) > self.noise.half_width and not f.extra.get("screened")
            self.results[cid].findings[i] = _replace(f, significant=significant)
        best = []
        for r in self.results.values():
            if r.status == "done" and r.findings:
                best.append(max(r.findings, key=lambda f: (is_cause(f), _explains(f))))
        # Causes first: significant effects that move your score toward the reported one.
        self.ranking = sorted(best, key=lambda f: (not is_cause(f), -_explains(f)))
        if not reconcile:
            return
        self.reconciliation = self._reconcile()
        for round_ in range(2, ROUNDS + 1):
            rec = self.reconciliation
            if rec is None or rec.within_noise:
                break
            found = self._next_round(rec, round_)
            if not found:
                break
            causes = [f for f in self.ranking if is_cause(f)]
            rest = [f for f in self.ranking if not is_cause(f) and f.variant.check not in {g.variant.check for g in found}]
            self.ranking = causes + found + rest
            self.reconciliation = self._reconcile()

    def _next_round(self, rec: Reconciliation, round_: int) -> list[Finding]:
        """Causes that show only once the fixes found so far are applied.

        Two departures can hide each other: with the chat template on, the choice labels may not
        matter at all, so neither fix alone closes much. When the reconciled setup still misses
        the reported score beyond noise, every other check's variants are evaluated again on top
        of it, compared with it on the same docs (Holm within the round), and the best cause of
        each check joins the ranking, marked with the fixes it was found after."""
        assert self.noise is not None
        fixed = {v.check for v in rec.applied}
        base_ev = self.engine.evaluate(rec.setup, self.limit) if rec.setup != self.session.yours else self.yours
        assert base_ev is not None
        transform = next((v.transform for v in rec.applied if v.transform), "")
        base = _transform(transform, base_ev) if transform else self.values(base_ev)
        context = self.context()
        after = [v.name for v in rec.applied]
        candidates: list[Finding] = []
        for check in self.checks:
            result = self.results.get(check.id)
            if check.id in fixed or result is None or result.status != "done":
                continue
            try:
                variants = check.variants(rec.setup, context)
            except InputError:
                continue
            for variant in variants:
                if variant.transform and transform:
                    continue
                before = self.engine.calls.total
                try:
                    if transform:   # the same re-reading as the base (from the metric check, fixed)
                        scores = _transform(transform, self.engine.evaluate(variant.apply(rec.setup), self.limit))
                    else:
                        scores = self._variant_values(variant, None, base_ev)
                except InputError:
                    continue
                c = stats.compare(base, scores)
                closes, closes_ci = stats.closes(self.gap, c.delta, c.ci)
                candidates.append(Finding(
                    variant, sum(scores) / len(scores), c.delta, c.ci, c.p, closes, closes_ci, c.n, c.method,
                    calls=self.engine.calls.total - before, extra={"round": round_, "after": after}))
        rejected = _holm_by_family({str(i): f for i, f in enumerate(candidates)})
        best: dict[str, Finding] = {}
        for i, f in enumerate(candidates):
            significant = rejected[str(i)] and abs(f.delta) > self.noise.half_width
            f = _replace(f, significant=significant)
            if is_cause(f) and (f.variant.check not in best or _explains(f) > _explains(best[f.variant.check])):
                best[f.variant.check] = f
        return sorted(best.values(), key=lambda f: -_explains(f))

    def _reconcile(self) -> Reconciliation | None:
        """The causes' fixes together, taken in ranking order; a fix that would not bring the
        combined score closer to the reported one is left out. Several checks can each explain
        the same gap on their own (a rescaled number, or a prompt that happens to score as low):
        those are alternatives, and applying them all would overshoot."""
        fixes: list[Variant] = []
        score = self.yours_score
        for f in self.ranking:
            if not is_cause(f):
                continue
            trial = self._score_with(fixes + [f.variant])
            if abs(self.session.reported_score - trial) < abs(self.session.reported_score - score) - 1e-12:
                fixes.append(f.variant)
                score = trial
        if not fixes:
            return None
        setup, applied = self._combine(fixes)
        residual = self.session.reported_score - score
        players = [v.check for v in applied][:4]
        by_check = {v.check: v for v in applied}
        memo: dict[frozenset[str], float] = {}

        def value(coalition: frozenset[str]) -> float:
            if coalition not in memo:
                memo[coalition] = self._score_with([by_check[c] for c in players if c in coalition])
            return memo[coalition]

        shares = stats.shapley(value, players) if len(players) > 1 else (
            {players[0]: score - self.yours_score} if players else {})
        assert self.noise is not None
        return Reconciliation(setup, applied, score, residual, abs(residual) <= self.noise.half_width, shares)

    def _combine(self, fixes: list[Variant]) -> tuple[Setup, list[Variant]]:
        """Apply fixes in ranking order; a later fix that touches an already-set key is left out."""
        changes: dict[str, Any] = {}
        applied = []
        for v in fixes:
            if v.transform or any(k in changes for k, _ in v.changes):
                if v.transform and not any(a.transform for a in applied):
                    applied.append(v)
                continue
            changes.update(dict(v.changes))
            applied.append(v)
        setup = self.session.yours.with_values(changes, origin="reconciliation") if changes else self.session.yours
        return setup, applied

    def _score_with(self, fixes: list[Variant]) -> float:
        setup, applied = self._combine(fixes)
        ev = self.engine.evaluate(setup, self.limit) if setup != self.session.yours else self.yours
        assert ev is not None
        transform = next((v.transform for v in applied if v.transform), "")
        values = _transform(transform, ev) if transform else self.values(ev)
        return sum(values) / len(values)

    def run_checks(self, on_check=None) -> None:  # noqa: ANN001
        """Every check the session asks for, in checklist order."""
        for check in self.checks:
            if check.id in self.session.checks:
                result = self.run_check(check)
                if on_check:
                    on_check(result)

    def run(self, on_check=None) -> None:  # noqa: ANN001
        """Everything, in order (the headless path)."""
        self.measure()
        self.run_checks(on_check)
        self.conclude()


def _holm_by_family(findings: dict[str, Finding]) -> dict[str, bool]:
    """Holm's correction in two families: variants that test a fact the report states (a few
    hypotheses fixed before looking) and the exploratory rest (many plausible values). Pooling
    them would let a dozen prompt-format guesses drown the one test the report asked for."""
    rejected: dict[str, bool] = {}
    for known in (True, False):
        family = {k: f.p for k, f in findings.items() if f.variant.known == known}
        rejected.update({k: reject for k, (_, reject) in stats.holm(family).items()})
    return rejected


def _explains(f: Finding) -> float:
    """How much of the gap a finding explains: 1 when it closes it exactly, less when it falls
    short or overshoots, negative when it widens the gap."""
    return 1.0 - abs(1.0 - f.closes) if f.closes > 0 else f.closes


def is_cause(f: Finding) -> bool:
    """A significant effect that moves your score toward the reported one without carrying it
    further past the report than it started (closes in (0, 2))."""
    return f.significant and _explains(f) > 0


def _replace(f: Finding, **changes: Any) -> Finding:
    from dataclasses import replace

    return replace(f, **changes)


def _macro_values(scores: list[float], subtasks: list[str]) -> list[float]:
    counts: dict[str, int] = {}
    for s in subtasks:
        counts[s] = counts.get(s, 0) + 1
    n, k = len(scores), len(counts)
    return [v * n / (k * counts[s]) for v, s in zip(scores, subtasks)]


def _transform(name: str, ev: Evaluation) -> list[float]:
    """Your per-doc outputs read on another scale or average (no model calls)."""
    scores = [s.score for s in ev.scores]
    if name == "micro":
        return scores
    if name == "macro":
        return _macro_values(scores, [s.subtask for s in ev.scores])
    if name == "rescaled":   # the Open LLM Leaderboard's normalization: chance maps to 0
        out = []
        for planned, v in zip(ev.planned, scores):
            chance = 1.0 / max(len(planned.doc.choices), 2)
            out.append((v - chance) / (1.0 - chance))
        return out
    if name == "percent":
        return [v * 100.0 for v in scores]
    raise ValueError(name)
