"""Speed benchmark: scoregap's engine against lm-evaluation-harness 0.4.13's hf backend, same task.

What it answers: on one multiple-choice task, how long does `Engine.evaluate` take next to
lm-eval's `simple_evaluate` with its `hf` model, and are the scores identical while it does? The
issue's target is scoregap/lm-eval-best <= 0.8 with every per-choice loglikelihood matching and
acc/acc_norm agreeing doc by doc.

Everything is built locally in a temporary folder, so the run needs no network and no hub cache:

- the task: arithmetic questions with 4 number-word choices ("forty-six", "one hundred and four"),
  several tokens each, all questions distinct (scoregap deduplicates identical requests, which
  would flatter it); a task TOML, the docs JSONL and a separate few-shot JSONL;
- the model: a randomly initialised Llama (hidden 512, 8 layers, 8 heads of 64, MLP 1408,
  vocab_size 32000: 58.5M parameters) with the tiny BPE tokenizer of `tinymodel`; rows of the
  embedding beyond the tokenizer's ids are never used, but the 32000-wide output layer and
  log-softmax cost what they cost in a real model;
- the setup: lm-eval's cloze layout ("Question: ...\\nAnswer:", continuation " " + the choice's
  words), exported with `lmeval_export.export` so lm-eval runs exactly the same prompts.

Timing, both sides in this one process with the same torch thread count, float32 on CPU:

- model load is excluded for both (scoregap's backend is loaded into the engine's pool first; each
  lm-eval `HFLM` is built before its clock starts);
- scoregap: `Engine.evaluate` over the whole task with a fresh, empty result cache; it includes
  task loading, prompt rendering, tokenization, the model, scoring and the cache writes;
- lm-eval: `simple_evaluate` over the whole task with `log_samples=True` (needed for the
  comparison), once per batch size; it includes task loading, request building, the model and the
  metrics. Not counted: building the `TaskManager` (an index of lm-eval's bundled tasks, done once)
  and `add_env_info` (an environment report written after the evaluation, about a second, measured
  and subtracted);
- one short untimed warm-up of each first (16 docs), so one-off costs (first kernels, the
  datasets cache of the JSON files) land on neither side's clock;
- each run also reports this process's CPU seconds and the CPU seconds every other process took
  meanwhile ("others"): with torch's threads on every core, a neighbour on one core can make a run
  several times slower, and a shared machine should say so next to its figures.

    python bench/eval_vs_lmeval.py                  # 500 docs, 0-shot, lm-eval batch 1, 8, 32
    python bench/eval_vs_lmeval.py --quick          # 100 docs, lm-eval batch 8 only
    python bench/eval_vs_lmeval.py --fewshot 3 --json figures.json
    python bench/eval_vs_lmeval.py --layout letters --fewshot 3   # MMLU's layout: " A".." D"
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCOREGAP_BATCH = 32            # continuations per forward pass (the 4 choices of 8 docs)
LMEVAL_BATCHES = (1, 8, 32)
QUICK_BATCHES = (8,)
WARMUP_DOCS = 16
TARGET_RATIO = 0.8
FEWSHOT_POOL = 20
DESCRIPTION = "The following are questions (with answers) about arithmetic.\n\n"
TEMPLATE = "Question: {{ question }}\nAnswer:"
LAYOUTS = {
    # cloze: each choice's words are the continuation (" forty-six"), several tokens each
    "cloze": {"prompt.template": TEMPLATE},
    # letters: MMLU's layout, the lettered choices in the prompt and " A".." D" as one-token continuations
    "letters": {"prompt.template": "{{ question.strip() }}\n{{ choices }}\nAnswer:", "prompt.choice_labels": "A",
                "prompt.choice_format": "{{ label }}. {{ text }}", "prompt.target": "label"},
}
MODEL = dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8,
             intermediate_size=1408, vocab_size=32000)

TASK_TOML = """\
name = "bench_arith"
kind = "multiple_choice"
docs = "bench_arith.test.jsonl"
fewshot = "bench_arith.dev.jsonl"
[fields]
question = "question"
choices = "choices"
gold = "answer"
subtask = "subject"
"""


# -- the task ------------------------------------------------------------------------------------


def _question(rng: random.Random) -> tuple[str, str, int, list[int]]:
    """A question, its subject, its value and near-miss distractors."""
    subject = rng.choice(("addition", "subtraction", "multiplication"))
    if subject == "addition":
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        value, word = a + b, "plus"
        near = [value + 1, value - 1, value + 10, value - 10, abs(a - b), value + 100]
    elif subject == "subtraction":
        a, b = rng.randint(20, 199), rng.randint(2, 99)
        a, b = max(a, b), min(a, b)
        value, word = a - b, "minus"
        near = [value + 1, value - 1, value + 10, value - 10, a + b, value + 100]
    else:
        a, b = rng.randint(2, 30), rng.randint(2, 30)
        value, word = a * b, "times"
        near = [value + a, value - a, value + b, value - b, a + b, value + 10]
    return f"What is {a} {word} {b}?", subject, value, near


def _docs(rng: random.Random, count: int, seen: set[str]) -> list[dict[str, Any]]:
    from scoregap.profiles.tinymodel import number_words

    docs: list[dict[str, Any]] = []
    while len(docs) < count:
        question, subject, value, near = _question(rng)
        if question in seen:
            continue
        seen.add(question)
        wrong = rng.sample(sorted({n for n in near if 0 <= n < 1000 and n != value}), 3)
        gold = len(docs) % 4                       # balanced gold positions
        values = wrong[:gold] + [value] + wrong[gold:]
        docs.append({"question": question, "choices": [number_words(v) for v in values],
                     "answer": gold, "subject": subject})
    rng.shuffle(docs)
    return docs


def write_task(directory: Path, n_docs: int, n_shots: int) -> Path:
    """The task TOML, its docs and a disjoint few-shot pool; fixed seed, so the same files each run."""
    directory.mkdir(parents=True, exist_ok=True)
    rng, seen = random.Random(20240601), set()
    for name, count in (("dev", max(FEWSHOT_POOL, n_shots)), ("test", n_docs)):
        rows = _docs(rng, count, seen)
        text = "".join(json.dumps(row) + "\n" for row in rows)
        (directory / f"bench_arith.{name}.jsonl").write_text(text, encoding="utf-8")
    path = directory / "bench_arith.toml"
    path.write_text(TASK_TOML, encoding="utf-8")
    return path


# -- the model -----------------------------------------------------------------------------------


def write_model(directory: Path) -> int:
    """Save the random Llama and the tiny tokenizer; returns the parameter count."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from scoregap.profiles.tinymodel import build_tokenizer, default_corpus

    tokenizer = build_tokenizer(default_corpus())
    config = LlamaConfig(
        **MODEL,
        num_key_value_heads=MODEL["num_attention_heads"],
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LlamaForCausalLM(config).eval()
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return sum(p.numel() for p in model.parameters())


# -- the runs ------------------------------------------------------------------------------------


@dataclass
class Figures:
    """What the run measured; `--json` writes it as it is. Per-run dicts are keyed by batch size."""

    docs: int
    fewshot: int
    parameters: int
    torch_threads: int
    scoregap_batch_size: int
    scoregap_seconds: float = 0.0
    scoregap_cpu_seconds: float = 0.0
    lmeval_seconds: dict[int, float] = field(default_factory=dict)
    lmeval_cpu_seconds: dict[int, float] = field(default_factory=dict)
    lmeval_best_batch_size: int = 0
    lmeval_best_seconds: float = 0.0
    ratio: float = 0.0
    max_abs_delta_loglikelihood: dict[int, float] = field(default_factory=dict)
    acc_disagreements: dict[int, int] = field(default_factory=dict)
    acc_norm_disagreements: dict[int, int] = field(default_factory=dict)
    prompt_mismatches: dict[int, int] = field(default_factory=dict)
    scoregap_acc: float = 0.0
    lmeval_acc: dict[int, float] = field(default_factory=dict)
    # CPU seconds other processes (and the host) took during each run: contention, if large
    scoregap_others_cpu_seconds: float = 0.0
    lmeval_others_cpu_seconds: dict[int, float] = field(default_factory=dict)
    timed: str = "evaluation only; model load excluded for both"
    machine: str = ""
    # --vllm: scoregap's vLLM backend on the same task, against lm-eval's vllm backend where it
    # loads, else against scoregap's transformers run
    vllm_seconds: float = 0.0
    vllm_cpu_seconds: float = 0.0
    vllm_acc: float = 0.0
    vllm_max_abs_delta_loglikelihood: float = 0.0   # against the transformers run, every choice
    vllm_acc_disagreements: int = 0
    lmeval_vllm: str = ""                           # why lm-eval's vllm backend did not run ('' : it ran)
    lmeval_vllm_seconds: float = 0.0
    date: str = ""


def _busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy, all processes and time stolen by the host."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Clock:
    """Wall seconds, this process's CPU seconds, and the CPU seconds everything else took meanwhile.

    With torch's threads on every core, another process on one core stalls them all at each
    synchronisation: a run can take several times longer. `others` says when that happened.
    """

    def __enter__(self) -> Clock:
        self.wall, self.cpu, self.others = time.perf_counter(), time.process_time(), _busy_cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        self.others = max(_busy_cpu_seconds() - self.others - self.cpu, 0.0)


def run_scoregap(setup: Any, model_dir: Path, cache_dir: Path, limit: int = 0) -> tuple[Any, Clock]:
    """One `Engine.evaluate` with an empty cache; the model is loaded before the clock starts."""
    from scoregap.engine.cache import Cache
    from scoregap.engine.evaluate import Engine
    from scoregap.engine.model import resolve_model

    cache = Cache(cache_dir)
    engine = Engine(resolve_model(str(model_dir), cache=cache), cache)
    engine.backend(setup.loading)                  # model load, untimed
    with Clock() as clock:
        evaluation = engine.evaluate(setup, limit=limit)
    assert engine.calls.cached == 0 and engine.calls.loglikelihood == 4 * len(evaluation.scores)
    return evaluation, clock


class EnvReportClock:
    """Times lm-eval's post-evaluation environment report so it can be left off its clock."""

    def __init__(self) -> None:
        import lm_eval.evaluator as evaluator

        self.evaluator, self.original = evaluator, evaluator.add_env_info
        self.wall = self.cpu = self.others = 0.0

    def __enter__(self) -> EnvReportClock:
        def timed(storage: dict[str, Any]) -> None:
            with Clock() as clock:
                self.original(storage)
            self.wall += clock.wall
            self.cpu += clock.cpu
            self.others += clock.others

        self.wall = self.cpu = self.others = 0.0
        self.evaluator.add_env_info = timed
        return self

    def __exit__(self, *exc: object) -> None:
        self.evaluator.add_env_info = self.original


def run_lmeval(exported: Any, model_dir: Path, task_manager: Any, batch_size: int,
               limit: int | None = None) -> tuple[list[dict[str, Any]], Clock, float]:
    """One `simple_evaluate` at `batch_size`: (samples by doc_id, its clock, accuracy)."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=str(model_dir), device="cpu", dtype="float32", batch_size=batch_size)
    with EnvReportClock() as env_report, Clock() as clock:
        out = simple_evaluate(
            model=lm, tasks=[exported.task_name], task_manager=task_manager,
            num_fewshot=exported.run_args["num_fewshot"], limit=limit, log_samples=True,
            random_seed=0, numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=1234,
            verbosity="ERROR",
        )
    clock.wall -= env_report.wall
    clock.cpu -= env_report.cpu
    clock.others = max(clock.others - env_report.others, 0.0)
    samples = sorted(out["samples"][exported.task_name], key=lambda s: s["doc_id"])
    return samples, clock, out["results"][exported.task_name]["acc,none"]


def lmeval_vllm_unavailable() -> str:
    """Why lm-eval's `vllm` model cannot load here ('' when it can)."""
    try:
        import lm_eval.models.vllm_causallms  # noqa: F401
    except Exception as err:  # noqa: BLE001 - any failure to import is the answer
        return f"{type(err).__name__}: {err}"
    return ""


def run_lmeval_vllm(exported: Any, model_dir: Path, task_manager: Any) -> tuple[Clock, float]:
    """lm-eval's vllm backend on the task, float32 (only where `lmeval_vllm_unavailable` is '')."""
    from lm_eval import simple_evaluate

    with EnvReportClock() as env_report, Clock() as clock:
        out = simple_evaluate(
            model="vllm", model_args=f"pretrained={model_dir},dtype=float32,enforce_eager=True",
            tasks=[exported.task_name], task_manager=task_manager, num_fewshot=exported.run_args["num_fewshot"],
            random_seed=0, numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=1234, verbosity="ERROR",
        )
    clock.wall -= env_report.wall
    clock.cpu -= env_report.cpu
    return clock, out["results"][exported.task_name]["acc,none"]


def compare_runs(a: Any, b: Any) -> tuple[float, int]:
    """(max |Δ loglikelihood| over every doc and choice, acc disagreements) of two scoregap runs."""
    theirs = {s.doc_id: s for s in b.scores}
    worst, acc = 0.0, 0
    for s in a.scores:
        other = theirs[s.doc_id]
        worst = max(worst, *(abs(x - y) for x, y in zip(s.raw["loglikelihoods"], other.raw["loglikelihoods"])))
        acc += s.scores["acc"] != other.scores["acc"]
    return worst, acc


def compare(evaluation: Any, samples: list[dict[str, Any]]) -> tuple[float, int, int, int]:
    """(max |Δ loglikelihood|, acc disagreements, acc_norm disagreements, prompt mismatches)."""
    ours = {p.doc.doc_id: (p, s) for p, s in zip(evaluation.planned, evaluation.scores)}
    if sorted(ours) != [s["doc_id"] for s in samples]:
        raise SystemExit("scoregap and lm-eval scored different docs; the comparison is void")
    worst, acc, acc_norm, prompts = 0.0, 0, 0, 0
    for sample in samples:
        planned, score = ours[sample["doc_id"]]
        args = [tuple(a) for a in sample["arguments"]]
        if args != [(planned.prompt.context, c) for c in planned.prompt.continuations]:
            prompts += 1
        theirs = [resp[0][0] for resp in sample["resps"]]
        mine = score.raw["loglikelihoods"]
        if len(theirs) != len(mine):
            raise SystemExit(f"doc {sample['doc_id']}: {len(mine)} choices here, {len(theirs)} in lm-eval")
        worst = max(worst, *(abs(a - b) for a, b in zip(theirs, mine)))
        acc += sample["acc"] != score.scores["acc"]
        acc_norm += sample["acc_norm"] != score.scores["acc_norm"]
    return worst, acc, acc_norm, prompts


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=None, help="docs in the task (default 500; 100 with --quick)")
    parser.add_argument("--fewshot", type=int, default=0, help="few-shot examples per prompt (default 0)")
    parser.add_argument("--layout", choices=tuple(LAYOUTS), default="cloze",
                        help="cloze: the choices' words are scored; letters: MMLU's ' A'..' D' (default cloze)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 docs, lm-eval at batch 8 only")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--vllm", action="store_true",
                        help="also time scoregap's vLLM backend (and lm-eval's vllm where it loads)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads for both tools (default: torch's own choice, one per core)")
    args = parser.parse_args(argv)
    if args.docs is None:
        args.docs = 100 if args.quick else 500
    if args.docs < 1 or args.fewshot < 0 or args.threads < 0:
        parser.error("--docs must be at least 1, --fewshot and --threads at least 0")
    return args


def _machine(threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), torch {threads} threads, {platform.system()}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A killed run should still remove its ~250 MB temporary folder (the model's weights).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="scoregap-bench-") as work:
        # Before transformers, datasets or lm-eval is imported: they read these once, at import.
        os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                          HF_HOME=str(Path(work) / "hf"), HF_DATASETS_DISABLE_PROGRESS_BARS="1",
                          TOKENIZERS_PARALLELISM="false")
        figures = benchmark(args, Path(work))
    if args.json:
        args.json.write_text(json.dumps(asdict(figures), indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


def vllm_side(args: argparse.Namespace, figures: Figures, setup: Any, evaluation: Any, exported: Any,
              model_dir: Path, task_manager: Any, work: Path) -> None:
    """scoregap's vLLM backend on the same setup (load untimed, a warm-up first), checked against
    the transformers run doc by doc; then lm-eval's vllm backend where it loads. vLLM runs last:
    on a CPU it binds torch's threads for the rest of the process."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    on_vllm = setup.with_values({"loading.backend": "vllm"})
    run_scoregap(on_vllm, model_dir, work / "cache-vllm-warmup", limit=WARMUP_DOCS)
    ran, clock = run_scoregap(on_vllm, model_dir, work / "cache-vllm")
    figures.vllm_seconds, figures.vllm_cpu_seconds, figures.vllm_acc = clock.wall, clock.cpu, ran.result.score
    figures.vllm_max_abs_delta_loglikelihood, figures.vllm_acc_disagreements = compare_runs(evaluation, ran)
    print(f"scoregap    vLLM    : {_times(clock)}  acc {ran.result.score:.4f}  max|Δll| vs transformers "
          f"{figures.vllm_max_abs_delta_loglikelihood:.2e}  acc differs on {figures.vllm_acc_disagreements} docs",
          flush=True)
    figures.lmeval_vllm = lmeval_vllm_unavailable()
    if figures.lmeval_vllm:
        print(f"lm-eval vllm: does not load here ({figures.lmeval_vllm}); scoregap's vLLM backend is "
              f"compared with scoregap's transformers run instead", flush=True)
        return
    clock, acc = run_lmeval_vllm(exported, model_dir, task_manager)
    figures.lmeval_vllm_seconds = clock.wall
    print(f"lm-eval     vllm    : {_times(clock)}  acc {acc:.4f}", flush=True)


def _times(clock: Clock) -> str:
    return f"{clock.wall:8.2f} s  (cpu {clock.cpu:7.2f} s, others {clock.others:6.2f} s)"


def benchmark(args: argparse.Namespace, work: Path) -> Figures:
    import logging

    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    from lm_eval.tasks import TaskManager

    from scoregap.engine.lmeval_export import export
    from scoregap.engine.presets import load_setup
    from scoregap.engine.tasks import load_task

    if args.threads:
        torch.set_num_threads(args.threads)
    batches = QUICK_BATCHES if args.quick else LMEVAL_BATCHES
    threads = torch.get_num_threads()
    task_path = write_task(work / "task", args.docs, args.fewshot)
    model_dir = work / "model"
    parameters = write_model(model_dir)
    setup = load_setup("lm-eval/base").with_values({
        "task.path": str(task_path), "prompt.description": DESCRIPTION, **LAYOUTS[args.layout],
        "fewshot.k": args.fewshot, "loading.batch_size": SCOREGAP_BATCH, "loading.device": "cpu",
    })
    exported = export(setup, load_task(setup.task), model=str(model_dir), name="bench_arith")
    if exported.unsupported:
        raise SystemExit(f"lm-eval cannot run this setup as scoregap does: {exported.unsupported}")
    exported.write(work / "lmeval-tasks")
    task_manager = TaskManager(include_path=str(work / "lmeval-tasks"))

    figures = Figures(args.docs, args.fewshot, parameters, threads, SCOREGAP_BATCH,
                      machine=_machine(threads),
                      date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    print(f"model: random Llama, {parameters:,} parameters ({parameters / 1e6:.1f}M), "
          f"hidden {MODEL['hidden_size']}, {MODEL['num_hidden_layers']} layers, "
          f"{MODEL['num_attention_heads']} heads, vocab_size {MODEL['vocab_size']}, float32, cpu")
    choices = "multi-token choices" if args.layout == "cloze" else "lettered choices, one-token continuations"
    print(f"task: {args.docs} docs x 4 {choices} ({args.layout} layout), {args.fewshot}-shot")
    print(f"machine: {figures.machine}; torch.get_num_threads() = {threads}")
    print(f"timed: evaluation only, model load excluded for both; scoregap batch size "
          f"{SCOREGAP_BATCH}; lm-eval batch sizes {', '.join(map(str, batches))}", flush=True)

    run_scoregap(setup, model_dir, work / "cache-warmup", limit=WARMUP_DOCS)
    run_lmeval(exported, model_dir, task_manager, 8, limit=WARMUP_DOCS)
    print(f"warm-up done ({WARMUP_DOCS} docs each, untimed)", flush=True)

    evaluation, clock = run_scoregap(setup, model_dir, work / "cache")
    figures.scoregap_seconds, figures.scoregap_cpu_seconds = clock.wall, clock.cpu
    figures.scoregap_others_cpu_seconds = clock.others
    figures.scoregap_acc = evaluation.result.score
    print(f"scoregap    batch {SCOREGAP_BATCH:>2}: {_times(clock)}  acc {figures.scoregap_acc:.4f}",
          flush=True)
    for batch_size in batches:
        samples, clock, acc = run_lmeval(exported, model_dir, task_manager, batch_size)
        figures.lmeval_seconds[batch_size], figures.lmeval_cpu_seconds[batch_size] = clock.wall, clock.cpu
        figures.lmeval_acc[batch_size], figures.lmeval_others_cpu_seconds[batch_size] = acc, clock.others
        delta, bad_acc, bad_norm, bad_prompts = compare(evaluation, samples)
        figures.max_abs_delta_loglikelihood[batch_size] = delta
        figures.acc_disagreements[batch_size] = bad_acc
        figures.acc_norm_disagreements[batch_size] = bad_norm
        figures.prompt_mismatches[batch_size] = bad_prompts
        print(f"lm-eval hf  batch {batch_size:>2}: {_times(clock)}  acc {acc:.4f}  max|Δll| {delta:.2e}  acc/acc_norm differ on {bad_acc}/{bad_norm} docs  "
              f"prompts differ on {bad_prompts} docs", flush=True)
        if torch.get_num_threads() != threads:
            raise SystemExit("the torch thread count changed during the run; the timings are not comparable")

    if args.vllm:
        vllm_side(args, figures, setup, evaluation, exported, model_dir, task_manager, work)

    best = min(figures.lmeval_seconds, key=figures.lmeval_seconds.__getitem__)
    figures.lmeval_best_batch_size, figures.lmeval_best_seconds = best, figures.lmeval_seconds[best]
    figures.ratio = figures.scoregap_seconds / figures.lmeval_best_seconds
    worst = max(figures.max_abs_delta_loglikelihood.values())
    agree = not any(figures.acc_disagreements.values()) and not any(figures.acc_norm_disagreements.values())
    print()
    print(f"lm-eval best:  {figures.lmeval_best_seconds:.2f} s (batch {best})")
    print(f"scoregap:      {figures.scoregap_seconds:.2f} s (batch {SCOREGAP_BATCH})")
    print(f"ratio scoregap/lm-eval-best: {figures.ratio:.3f}  (target <= {TARGET_RATIO})")
    print(f"max per-sample |Δ loglikelihood| (all docs, choices, lm-eval runs): {worst:.2e}")
    print(f"acc and acc_norm agree doc by doc: {'yes' if agree else 'NO'}")
    if args.vllm:
        against = ("lm-eval vllm" if not figures.lmeval_vllm else "scoregap transformers")
        reference = figures.lmeval_vllm_seconds if not figures.lmeval_vllm else figures.scoregap_seconds
        print(f"ratio scoregap vLLM / {against}: {figures.vllm_seconds / reference:.3f}")
    others = figures.scoregap_others_cpu_seconds + sum(figures.lmeval_others_cpu_seconds.values())
    wall = figures.scoregap_seconds + sum(figures.lmeval_seconds.values())
    spare = max((os.cpu_count() or 1) - threads, 0)   # cores torch leaves to everyone else
    if others > (spare + 0.05) * wall:
        print(f"warning: other processes took {others:.0f} CPU-s during the {wall:.0f} s of timed runs, "
              f"more than the {spare} core(s) torch left free: the times are inflated and noisy")
    return figures


if __name__ == "__main__":
    sys.exit(main())
