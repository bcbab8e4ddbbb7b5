"""Cost benchmark: a whole diagnosis against one plain evaluation of your setup.

What it answers: how many evaluations' worth of time does scoregap's nine-check diagnosis cost, how
much model work does it do next to a naive diagnosis that runs every variant on every doc, and how
much does a second run of the same session cost once its results are cached?

Everything is built locally in a temporary folder (no network, no hub cache), with the task and
model of `eval_vs_lmeval.py`: a randomly initialised 58.5M-parameter Llama (float32, CPU) and
≥ 500 distinct arithmetic questions with four choices.

- yours: lm-eval's MMLU layout (a description, lettered choices, " A".." D" scored), 3 shots;
- the reported score: what a reference setup (0-shot, no description) scores on the same docs,
  computed first and untimed, so the diagnosis has a real gap to explain;
- eval: `Engine.evaluate` of your setup, with model load, on an empty cache;
- cold diagnosis: `DiagnosisRun.open` + `run_all` (your run, the noise floor, all nine checks,
  the ranking and reconciliation) + writing the reports, with model load, on an empty cache;
- warm diagnosis: the same again on the cache the cold one filled.

All three run in this one process (imports are warm for each), with the same torch threads.

Printed: the wall-time ratio cold diagnosis ÷ eval (target ≤ 3), the model tokens the backend
processed ÷ the tokens a naive diagnosis feeds (every evaluation the diagnosis makes — your run,
the noise-floor repeats, every variant that changes the model's input or settings — run on every
doc, each request's context and continuation fed whole, as lm-eval does; target ≤ 0.15), and
warm ÷ cold (target ≤ 0.05).

    python bench/diagnosis_cost.py                 # 500 docs
    python bench/diagnosis_cost.py --docs 600 --json figures.json
    python bench/diagnosis_cost.py --session profiles/demo/sessions/labels.toml   # a trained model

With `--session` the same three runs and figures are measured on that session instead: its model,
its setup, its reported score and its docs (`diagnosis.limit` included).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_vs_lmeval import DESCRIPTION, LAYOUTS, MODEL, Clock, _machine, write_model, write_task  # noqa: E402

BATCH = 32
FEWSHOT = 3
TARGETS = {"time": 3.0, "tokens": 0.15, "warm": 0.05}


@dataclass
class Figures:
    docs: int
    parameters: int
    threads: int
    machine: str
    date: str
    eval_seconds: float = 0.0
    cold_seconds: float = 0.0
    warm_seconds: float = 0.0
    variants: int = 0
    evaluations: int = 0
    tokens_fed: int = 0
    naive_tokens: int = 0
    docs_per_variant: dict[str, int] = field(default_factory=dict)
    phase_tokens: dict[str, int] = field(default_factory=dict)
    time_ratio: float = 0.0
    token_ratio: float = 0.0
    warm_ratio: float = 0.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=500, help="docs in the task (default 500)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own)")
    p.add_argument("--gap", type=float, default=None,
                   help="report a score this many points above what your setup scores (a real gap no "
                        "variant can close on a random model) instead of the reference setup's score")
    p.add_argument("--backends", default="transformers",
                   help="what the loading check compares (SCOREGAP_BACKENDS; default transformers, so "
                        "runs compare where vLLM is or is not installed)")
    p.add_argument("--session", type=Path, default=None,
                   help="measure this session instead (its model, setup, reported score and docs), "
                        "e.g. a demo scenario: profiles/demo/sessions/labels.toml")
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="scoregap-cost-") as work:
        os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                          SCOREGAP_BACKENDS=args.backends,
                          HF_HOME=str(Path(work) / "hf"), TOKENIZERS_PARALLELISM="false")
        figures = benchmark(args, Path(work))
    if args.json:
        args.json.write_text(json.dumps(asdict(figures), indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


def naive_tokens(run: Any, setups: list[Any]) -> int:
    """Tokens a diagnosis that ran each of `setups` on every doc would feed: every request's
    context and continuation, whole (the tokenizer alone; no model call)."""
    from scoregap.engine.requests import Loglikelihood
    from scoregap.engine.tokenization import encode, encode_pair

    engine, total = run.engine, 0
    for setup in setups:
        tokenizer = engine.tokenizer(setup.loading)
        _, planned = engine.plan(setup, run.diagnosis.limit, None)
        for p in planned:
            for r in p.requests:
                if isinstance(r, Loglikelihood):
                    ctx, cont = encode_pair(tokenizer, r.context, r.continuation, r.bos)
                    total += len(ctx) + len(cont)
                else:
                    total += len(encode(tokenizer, r.prompt, r.bos)) + r.max_new_tokens
    return total


def evaluations_of(run: Any) -> list[Any]:
    """Every distinct setup the diagnosis evaluated: yours, the floor's repeats, each variant that
    changes the input or the settings (re-readings of your outputs cost nothing, even naively)."""
    from scoregap.engine import noise
    from scoregap.engine.diagnosis import _pool

    d = run.diagnosis
    yours = d.yours.setup
    setups = {yours.digest: yours}
    for variant in noise.repeats(yours, _pool(d.yours.task)):
        setup = variant.apply(yours)
        setups.setdefault(setup.digest, setup)
    for finding in d.all_findings():
        if not finding.variant.transform:
            setup = finding.variant.apply(yours)
            setups.setdefault(setup.digest, setup)
    return list(setups.values())


def phase_counter(engine_of: Any) -> Any:
    """Events that count the model tokens each phase took: your run, each part of the noise floor,
    each check, the conclusion (`engine_of()`: the engine, once the run exists)."""
    from scoregap.engine.events import NullEvents

    class Phases(NullEvents):
        def __init__(self) -> None:
            self.tokens: dict[str, int] = {}
            self.mark, self.phase = 0, "your run"

        def _to(self, phase: str) -> None:
            now = engine_of().calls.tokens
            self.tokens[self.phase] = self.tokens.get(self.phase, 0) + now - self.mark
            self.mark, self.phase = now, phase

        def scored(self, yours: float, reported: float, n: int) -> None:
            self._to("floor")

        def step(self, step: Any) -> None:   # the floor by part: seed repeats, batch-size repeat
            if self.phase.startswith("floor") and step.part and step.part != "your setup":
                self._to(f"floor: {step.part}")

        def check_started(self, check: str) -> None:
            self._to(check)

        def concluded(self, report: dict[str, Any]) -> None:
            self._to("")

        def check_finished(self, result: Any, findings: Any, summary: Any) -> None:
            self._to("conclusion")

    return Phases()


def benchmark(args: argparse.Namespace, work: Path) -> Figures:
    import logging

    import tomli_w
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    logging.getLogger("scoregap").setLevel(logging.ERROR)
    from scoregap.checks import CHECKS
    from scoregap.engine.cache import Cache
    from scoregap.engine.evaluate import Engine
    from scoregap.engine.model import resolve_model
    from scoregap.engine.presets import load_setup
    from scoregap.engine.run import DiagnosisRun
    from scoregap.engine.session import load_session

    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    figures = Figures(args.docs, 0, threads, _machine(threads),
                      datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    if args.session:
        session_path = args.session.resolve()
        session = load_session(session_path)
        yours, model_dir = session.yours, session.model
        print(f"session: {session_path} (its model, setup and reported score); machine: {figures.machine}")
    else:
        task_path = write_task(work / "task", args.docs, FEWSHOT)
        model_dir = work / "model"
        figures.parameters = write_model(model_dir)
        yours = load_setup("lm-eval/base").with_values({
            "task.path": str(task_path), "prompt.description": DESCRIPTION, **LAYOUTS["letters"],
            "fewshot.k": FEWSHOT, "loading.batch_size": BATCH, "loading.device": "cpu",
        })
        reference = yours.with_values({"fewshot.k": 0, "prompt.description": ""})
        (work / "yours.toml").write_text(yours.to_toml(), encoding="utf-8")
        print(f"model: random Llama, {figures.parameters / 1e6:.1f}M parameters, hidden {MODEL['hidden_size']}, "
              f"{MODEL['num_hidden_layers']} layers, float32, cpu; machine: {figures.machine}, {threads} threads")
        print(f"task: {args.docs} docs x 4 lettered choices, {FEWSHOT}-shot (MMLU's layout); batch size {BATCH}")
        cache = Cache(work / "cache-reference")
        measured = reference if args.gap is None else yours
        reported = Engine(resolve_model(str(model_dir), cache=cache), cache).evaluate(measured).result.score
        if args.gap is not None:
            reported += args.gap / 100
        source = "the reference setup (0-shot)" if args.gap is None else f"your setup's score + {args.gap} points"
        session_path = work / "session.toml"
        session_path.write_text(tomli_w.dumps({
            "model": {"path": str(model_dir)}, "yours": {"setup": str(work / "yours.toml")},
            "reported": {"score": reported, "scale": "fraction", "source": source}}))
        print(f"reported ({source}, untimed): {reported:.4f}", flush=True)
        session = load_session(session_path)

    with Clock() as clock:
        cache = Cache(work / "cache-eval")
        ev = Engine(resolve_model(str(model_dir), cache=cache), cache).evaluate(yours, session.limit)
    figures.eval_seconds, figures.docs = clock.wall, len(ev.scores)
    print(f"one eval of your setup:  {clock.wall:8.2f} s  (cpu {clock.cpu:.1f} s, others {clock.others:.1f} s)"
          f"  score {ev.result.score:.4f}", flush=True)

    with Clock() as clock:
        phases = phase_counter(lambda: run.engine)
        run = DiagnosisRun.open(session, cache=work / "cache-diagnosis", checks=CHECKS, events=phases)
        run.run_all()
        run.write_reports(work / "report-cold")
    figures.cold_seconds = clock.wall
    d = run.diagnosis
    findings = d.all_findings()
    figures.variants = len(findings)
    figures.tokens_fed = run.engine.calls.tokens
    setups = evaluations_of(run)
    figures.evaluations = len(setups)
    figures.naive_tokens = naive_tokens(run, setups)
    figures.docs_per_variant = {f"{f.variant.check}: {f.variant.name}": f.n for f in findings}
    print(f"cold diagnosis:          {clock.wall:8.2f} s  (cpu {clock.cpu:.1f} s, others {clock.others:.1f} s)"
          f"  {figures.variants} variants in {len(d.results)} checks", flush=True)

    with Clock() as clock:
        warm = DiagnosisRun.open(session, cache=work / "cache-diagnosis", checks=CHECKS)
        warm.run_all()
        warm.write_reports(work / "report-warm")
    figures.warm_seconds = clock.wall
    print(f"warm re-run (cached):    {clock.wall:8.2f} s  model calls {warm.engine.calls.total}", flush=True)
    if warm.engine.calls.total:
        print("warning: the warm run made model calls; the cache did not serve everything")

    figures.time_ratio = figures.cold_seconds / figures.eval_seconds
    figures.token_ratio = figures.tokens_fed / figures.naive_tokens
    figures.warm_ratio = figures.warm_seconds / figures.cold_seconds
    screened = sum(1 for f in findings if f.n < len(ev.scores))
    print()
    print(f"docs per conclusion: {screened} of {len(findings)} variants settled on a subset "
          f"(n = {', '.join(str(n) for n in sorted({f.n for f in findings}))})")
    print(f"model tokens: {figures.tokens_fed:,} processed; a naive run of the {figures.evaluations} "
          f"evaluations on every doc feeds {figures.naive_tokens:,}")
    one = max(phases.tokens.get("your run", 0), 1)
    print("model tokens by phase (in evaluations of your setup): " + ", ".join(
        f"{name} {count / one:.1f}" for name, count in phases.tokens.items() if name and (count or name != "floor")))
    figures.phase_tokens = {k: v for k, v in phases.tokens.items() if k and (v or k != "floor")}
    print(f"cold diagnosis / one eval:   {figures.time_ratio:6.2f}   (target <= {TARGETS['time']})")
    print(f"tokens / naive tokens:       {figures.token_ratio:6.3f}   (target <= {TARGETS['tokens']})")
    print(f"warm / cold:                 {figures.warm_ratio:6.3f}   (target <= {TARGETS['warm']})")
    return figures


if __name__ == "__main__":
    sys.exit(main())
