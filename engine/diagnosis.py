"""The diagnosis: from "reported 61.9, I got 55.3" to ranked, tested causes.

Steps (each a method, so a front end can run them one at a time with progress and cancel):
1. `measure()`: evaluate your setup, and the identical-setting repeats that make the noise floor
   (engine/noise.py).
2. `run_check(check)`: evaluate the check's variants on the same docs and compare each with your
   run, paired (engine/stats.py), screened on a subset first (engine/screening.py).
3. `conclude()`: significance and ranking (engine/ranking.py), then the reconciliation and its
   further rounds (engine/reconcile.py).

Scores are fractions throughout; the gap is reported − yours, so a variant "closes" the gap when
it moves your score toward the reported one. Per-doc values carry your aggregation's weights,
computed once from your full run (a macro average weighs each subtask alike), so a subset of
docs is compared on the same footing as the whole. Comparisons cluster by subtask when the task
has at least `MIN_CLUSTERS` of them. Every model output goes through the engine's cache: a re-run
or a resumed session recomputes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from scoregap.engine import noise, ranking, reconcile, screening, stats
from scoregap.engine.cache import CacheError
from scoregap.engine.checks_api import (
    Check,
    CheckContext,
    CheckResult,
    Finding,
    Variant,
)
from scoregap.engine.errors import InputError
from scoregap.engine.evaluate import Engine, Evaluation
from scoregap.engine.events import (
    CONCLUDING,
    LOADING_TOKENIZER,
    MEASURING,
    READING_CACHE,
    Events,
    NullEvents,
    Step,
    Summary,
)
from scoregap.engine.presets import presets_for
from scoregap.engine.progress import Cancelled
from scoregap.engine.prompts import PromptBuilder, probe_chat
from scoregap.engine.report_formats import runs_lines
from scoregap.engine.run_evidence import run_evidence
from scoregap.engine.scoring import OutputStats, describe_outputs, doc_weights, output_stats, reread
from scoregap.engine.session import Session
from scoregap.engine.setup import Setup
from scoregap.engine.tasks import Task, load_task

MIN_CLUSTERS = 10
"""Subtasks needed before standard errors are clustered by subtask: with fewer clusters a
cluster-robust SE rests on too few groups to estimate, and docs are treated as independent."""


@dataclass
class Diagnosis:
    session: Session
    engine: Engine
    checks: Sequence[Check]
    limit: int = 0
    backends: tuple[str, ...] = ("transformers",)
    events: Events = field(default_factory=NullEvents)
    yours: Evaluation | None = None
    weights: dict[int, float] = field(default_factory=dict)      # doc -> aggregation weight
    clusters: dict[int, str] = field(default_factory=dict)       # doc -> subtask, when clustering
    noise: noise.Floor | None = None
    runs: dict[str, Any] | None = None     # what the session's runs show (engine/run_evidence.py)
    results: dict[str, CheckResult] = field(default_factory=dict)
    ranking: list[Finding] = field(default_factory=list)
    reconciliation: reconcile.Reconciliation | None = None
    step: Step = Step(MEASURING, "your setup", 1, 1)

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
        """Per-doc values whose mean over your docs is your aggregate (weights from your run)."""
        return [s.score * self.weights.get(s.doc_id, 1.0) for s in ev.scores]

    def context(self) -> CheckContext:
        assert self.yours is not None
        return CheckContext(task=self.yours.task, known=self.session.known, reported_score=self.session.reported_score,
                            presets=presets_for(self.yours.task.kind, self.session.yours.task.benchmark),
                            backends=self.backends)

    def set_step(self, check: str, name: str, index: int, total: int, part: str = "") -> None:
        """A new step: said to the events, and as progress (its prompts are planned and the cache
        read first; a step the cache answers whole sends no other progress)."""
        self.step = Step(check, name, index, total, part)
        self.events.step(self.step)
        self.engine.progress.stage(READING_CACHE)

    def measure(self) -> None:
        yours = self.session.yours
        planned = noise.repeats(yours, _pool(load_task(yours.task, setup_source=yours.source)))
        self.set_step(MEASURING, "your setup", 1, len(planned) + 1, "your setup")
        if not self.engine.has_tokenizer(yours.loading):   # the diagnosis needs it (run_evidence); the
            self.engine.progress.stage(LOADING_TOKENIZER)  # first load imports the backend's libraries
            self.engine.tokenizer(yours.loading)
        self.yours = self.engine.evaluate(yours, self.limit)
        self.events.scored(self.yours.result.score, self.session.reported_score, self.yours.result.n)
        self.runs = run_evidence(self.session, self.yours, self.checks, self.engine.tokenizer(yours.loading))
        self.weights = doc_weights(self.yours.scores, yours.scoring.aggregate)
        subtasks = {s.subtask for s in self.yours.scores}
        self.clusters = ({s.doc_id: s.subtask for s in self.yours.scores} if len(subtasks) >= MIN_CLUSTERS else {})
        base = self.values(self.yours)
        runs: dict[str, list[float]] = {}
        for i, variant in enumerate(planned, start=2):
            self.set_step(MEASURING, variant.name, i, len(planned) + 1, noise.part(variant))
            try:
                runs[variant.name] = self.variant_values(variant, None)[0]
            except CacheError:
                raise   # the cache is broken: stop the run, never skip work silently
            except InputError:
                continue   # a repeat this task cannot take (too few shots to draw): not noise
        self.noise = noise.floor(base, runs, self.clusters_of([s.doc_id for s in self.yours.scores]))

    def summary(self) -> Summary:
        assert self.yours is not None and self.noise is not None
        top = next((f"{f.variant.check}: {f.variant.name} ({100 * f.delta:+.1f})"
                    for f in self.ranking if ranking.is_cause(f)), "")
        return Summary(self.yours_score, self.session.yours_score, self.session.reported_score,
                       self.session.reported_source, self.gap, self.noise.half_width, self.noise.basis,
                       self.verdict, self.yours.result.n, top, describe_outputs(output_stats(self.yours.scores)),
                       self.untested_facts(), tuple(runs_lines({"runs": self.runs})), self.noise.measured)

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
            variants = check.variants(self.session.yours, context)
            for i, variant in enumerate(variants, start=1):
                self.set_step(check.id, variant.name, i, len(variants))
                try:
                    findings.append(self._screen(variant))
                    self.events.variant_done(check.id, findings[-1])
                except CacheError:
                    raise   # the cache is broken: stop the run, never skip work silently
                except InputError as err:   # one variant the model cannot run; the others go on
                    failures.append(f"{variant.name}: {err}")
        except Cancelled:
            self.results[check.id] = CheckResult(check.id, "cancelled", message="cancelled; finished work is cached")
            raise
        except CacheError:
            raise   # the cache is broken: stop the run, never skip work silently
        except InputError as err:
            failures.append(str(err))
        if failures and not findings:
            result = CheckResult(check.id, "failed", message=" ".join(failures))
        else:
            result = CheckResult(
                check.id, "done", findings, mde=stats.minimum_detectable_effect(self.values(self.yours)),
                calls=self.engine.calls.total - calls_before,
                message=("Variants that could not run: " + " ".join(failures)) if failures else "",
            )
        self.results[check.id] = result
        return result

    def _screen(self, variant: Variant) -> Finding:
        """The variant on growing random subsets, stopping at the first that settles it."""
        assert self.yours is not None and self.noise is not None
        base = self.values(self.yours)
        docs = [s.doc_id for s in self.yours.scores]
        sizes = screening.looks(len(base))
        shuffled = screening.order(len(base))
        before = self.engine.calls.total
        for size in sizes[:-1]:
            picked = sorted(shuffled[:size])
            subset, subset_base = [docs[i] for i in picked], [base[i] for i in picked]
            scores, outputs = self.variant_values(variant, frozenset(subset))
            ci = screening.interim_ci(self.compare(subset_base, scores, subset), len(sizes))
            why = screening.settled(ci, self.noise.half_width, self.gap)
            if why:
                return self.finding(variant, subset_base, scores, subset, before, self.gap, outputs, screened=why)
        scores, outputs = self.variant_values(variant, None)
        return self.finding(variant, base, scores, docs, before, self.gap, outputs, per_doc=tuple(scores))

    def clusters_of(self, docs: list[int]) -> list[str] | None:
        return [self.clusters[d] for d in docs] if self.clusters else None

    def compare(self, base: list[float], scores: list[float], docs: list[int]) -> stats.Comparison:
        return stats.compare(base, scores, self.clusters_of(docs))

    def finding(self, variant: Variant, base: list[float], scores: list[float], docs: list[int], before: int,
                gap: float, outputs: OutputStats | None = None, **typed: object) -> Finding:
        """A variant compared with `base` on `docs`; closes is a fraction of `gap` (the gap it
        is asked to close: the original one, or in a later round the one left)."""
        c = self.compare(base, scores, docs)
        closes, closes_ci = stats.closes(gap, c.delta, c.ci)
        return Finding(variant, sum(scores) / len(scores), c.delta, c.ci, c.p, closes, closes_ci, c.n, c.method,
                       calls=self.engine.calls.total - before, outputs=outputs, **typed)  # type: ignore[arg-type]

    def read(self, ev: Evaluation, transform: str = "") -> list[float]:
        """Per-doc values of a run: with your aggregation's weights, or re-read (`transform`)."""
        return reread(transform, ev.planned, ev.scores, self.weights) if transform else self.values(ev)

    def variant_values(self, variant: Variant, only: frozenset[int] | None, base: Evaluation | None = None,
                       transform: str = "") -> tuple[list[float], OutputStats | None]:
        """Per-doc values of a variant over the base run's docs (all, or those in `only`), and
        what its outputs show. The base is your run, or your run with the fixes found so far,
        read with the same re-reading (`transform`) as the fixes."""
        base = base or self.yours
        assert base is not None
        docs = [s.doc_id for s in base.scores]
        if only is not None:
            docs = [d for d in docs if d in only]
        if variant.transform:
            values = dict(zip((s.doc_id for s in base.scores), self.read(base, variant.transform)))
            return [values[d] for d in docs], None
        setup = variant.apply(base.setup)
        if variant.rerun == "margin":
            margin, sampled = self.margin_for(base, setup)
            flip = screening.could_flip(base, setup, margin)
            if flip is not None:
                rerun = frozenset(d for d in docs if d in flip or d in sampled)
                kept = dict(zip((s.doc_id for s in base.scores), self.read(base, transform)))
                fresh = (dict(zip(sorted(rerun), self.read(self.engine.evaluate(setup, self.limit, rerun), transform)))
                         if rerun else {})
                return [fresh.get(d, kept[d]) for d in docs], None
        ev = self.engine.evaluate(setup, self.limit, frozenset(docs) if only is not None else None)
        return self.read(ev, transform), output_stats(ev.scores)

    def margin_for(self, base: Evaluation, setup: Setup) -> tuple[float | None, frozenset[int]]:
        """The flip margin of a numeric variant (None: its dtype's) and the docs run to find it:
        another backend runs a sample of your docs in full first (the same sample at every look;
        cached after the first), and the margin covers their drift."""
        if setup.loading.backend == base.setup.loading.backend or base.task.kind != "multiple_choice":
            return None, frozenset()
        docs = [s.doc_id for s in base.scores]
        sampled = frozenset(docs[i] for i in screening.order(len(docs))[: screening.DRIFT_DOCS])
        sample = self.engine.evaluate(setup, self.limit, sampled)
        return max(screening.flip_margin(setup), screening.drift_margin(base, sample)), sampled

    def floor_at(self, base: Evaluation, transform: str, where: str) -> noise.Floor:
        """The noise floor measured at another setup (the reconciled one): what is random there
        may not be what is random in yours (a fix to greedy decoding removes sampling noise)."""
        planned = noise.repeats(base.setup, _pool(base.task))
        runs: dict[str, list[float]] = {}
        for i, variant in enumerate(planned, start=1):
            self.set_step(CONCLUDING, f"noise floor at {where}: {variant.name}", i, len(planned), noise.part(variant))
            try:
                runs[variant.name] = self.variant_values(variant, None, base, transform)[0]
            except CacheError:
                raise   # the cache is broken: stop the run, never skip work silently
            except InputError:
                continue
        return noise.floor(self.read(base, transform), runs, self.clusters_of([s.doc_id for s in base.scores]), where)

    def never_varied(self) -> list[str]:
        """The setup keys that matter for this task and that no variant changed."""
        assert self.yours is not None
        varied = {k for f in self.all_findings() for k, _ in f.variant.changes}
        varied |= {"scoring.aggregate" if f.variant.transform in ("macro", "micro") else SCALE
                   for f in self.all_findings() if f.variant.transform}
        return [k for k in relevant_keys(self.session.yours, self.yours.task) if k not in varied]

    def untested_facts(self) -> dict[str, str]:
        """Facts the report states that no variant can test, each with the reason (a stated k
        larger than the few-shot pool, a key no check varies): said, never dropped silently."""
        assert self.yours is not None
        yours, task = self.session.yours, self.yours.task
        owned = {k for c in self.checks for k in getattr(c, "keys", ())}
        notes: dict[str, str] = {}
        for key, value in self.session.known.items():
            try:
                stated = yours.with_values({key: value}, origin="the reported facts")
            except CacheError:
                raise   # the cache is broken: stop the run, never skip work silently
            except InputError as err:
                notes[key] = f"{key} = {value!r} is not a value this setup can take: {err}"
                continue
            if stated.get(key) == yours.get(key):
                continue   # your setup already agrees: nothing to test
            if key not in owned:
                notes[key] = (f"{key} = {value!r} is stated, but no check varies {key}, so the "
                              f"diagnosis cannot test it; set it in your setup to compare by hand.")
                continue
            try:
                PromptBuilder(stated, task, probe_chat).render(task.docs[0])
            except CacheError:
                raise   # the cache is broken: stop the run, never skip work silently
            except InputError as err:
                notes[key] = f"{key} = {value!r} is stated, but cannot be tested on this task: {err}"
        return notes

    def all_findings(self) -> list[Finding]:
        return [f for r in self.results.values() for f in r.findings] + [f for f in self.ranking if f.round > 1]

    # -- conclusions -------------------------------------------------------------------------

    @property
    def runs_evidence(self) -> ranking.RunsEvidence:
        """What the session's two runs, compared, say about each fix (none: nothing)."""
        return ranking.RunsEvidence.from_comparison((self.runs or {}).get("comparison"))

    def rank(self) -> None:
        """Significance across every finished check (Holm), and the ranking; no model calls."""
        assert self.noise is not None
        ranking.mark_significance(self.results, self.noise.half_width)
        self.ranking = ranking.rank(self.results, self.session.known, self.runs_evidence)

    def conclude(self) -> None:
        """The ranking, then the reconciliation and, while a residual beyond noise remains,
        further rounds that look for causes the fixes so far were hiding."""
        self.rank()
        self.reconciliation = reconcile.reconcile(self)
        for round_ in range(2, reconcile.ROUNDS + 1):
            rec = self.reconciliation
            if rec is None or rec.within_noise:
                break
            found = reconcile.next_round(self, rec, round_)
            if not found:
                break
            fixed = {g.variant.check for g in found}
            causes = [f for f in self.ranking if ranking.is_cause(f)]
            rest = [f for f in self.ranking if not ranking.is_cause(f) and f.variant.check not in fixed]
            self.ranking = ranking.group_alternatives(causes + found + rest, self.session.known, self.runs_evidence)
            self.reconciliation = reconcile.reconcile(self)

    def evaluate_fixes(self, fixes: list[Variant]) -> tuple[Evaluation, list[float]]:
        """Your setup with `fixes` combined (reconcile.combine): its run and per-doc values."""
        setup, applied = reconcile.combine(self.session.yours, fixes)
        ev = self.engine.evaluate(setup, self.limit) if setup != self.session.yours else self.yours
        assert ev is not None
        return ev, self.read(ev, reconcile.transform_of(applied))


def _pool(task: Task) -> int:
    """Shots a doc can draw (a pool that is the eval split loses the doc itself)."""
    return max(len(task.fewshot) - (1 if task.fewshot_is_docs else 0), 0)


SCALE = "the score's scale (percent, leaderboard rescaling)"
IRRELEVANT = ("task.", "loading.device", "loading.trust_remote_code", "scoring.method")   # the task fixes the method
ONLY_MC = ("prompt.choice_labels", "prompt.choice_format", "prompt.choice_separator", "prompt.target")
ONLY_GENERATE = ("generation.", "scoring.extract", "scoring.normalize")
ONLY_CHAT = ("fewshot.multiturn", "chat.description_in", "chat.system_prompt")


def relevant_keys(setup: Setup, task: Task) -> list[str]:
    """The setup keys that can change this task's score, plus its scale and average."""
    mc = task.kind == "multiple_choice"
    keys = []
    for dotted in [f"{section}.{key}" for section, values in setup.to_dict().items() for key in values]:
        if dotted.startswith(IRRELEVANT) or (mc and dotted.startswith(ONLY_GENERATE)) or dotted == "scoring.aggregate":
            continue
        if not mc and dotted in ONLY_MC:
            continue
        if dotted in ONLY_CHAT and not setup.chat.apply_template:
            continue
        if dotted.startswith("fewshot.") and dotted != "fewshot.k" and setup.fewshot.k == 0:
            continue
        if dotted == "prompt.fewshot_delimiter" and setup.fewshot.k == 0:
            continue
        if dotted == "generation.seed" and setup.generation.temperature == 0:
            continue
        keys.append(dotted)
    keys.append(SCALE)
    if task.subtasks:
        keys.append("scoring.aggregate")
    return list(dict.fromkeys(keys))
