"""The demo world: a census of crates and towers, two tasks about it, and a model trained on it.

    python scripts/demo_world.py tasks      # write profiles/demo/tasks/ (deterministic)
    python scripts/demo_world.py train      # train the model into profiles/demo/model/ (≤ 3 min)
    python scripts/demo_world.py report     # score the reference setups and their sensitivities
    python scripts/demo_world.py scenarios  # write the demo sessions, reported scores computed
    python scripts/demo_world.py accuracy   # diagnose every scenario in full; the acceptance table

Why a world of its own: scoregap's diagnosis must be shown (and tested) on a model that is really
evaluated and really sensitive to the checklist's factors, on a machine with no GPU and no hub.
So the project writes two reading tasks on the same questions ("How many apples are in a crate of
42?"), one answered by choosing among counts ("42 apples", "42", "37 apples", ...), one answered
in writing ("42 in all."),
and trains a small Llama on them: a skill (read the number, name it) that a model of a million
parameters learns in the three minutes two CPU cores allow, where memorized facts would not.

How the sensitivities arise. The model is "instruction-tuned" on one convention per task: the
reference setups in profiles/demo/ (no chat template, 3 random shots, the choices listed as
"A. text" before the question, the answer written as the choice's text; generated answers
phrased "42 in all."). Like a real model it also saw other formats, but there its answers are
worse: each factor that departs from the reference halves the chance that a training answer is
right, and otherwise the answer is the first listed choice — the position bias of a model
prompted off its format. Off-format prompts therefore lose accuracy factor by factor, roughly
additively, as the published format studies find — but not evenly, as in real models: "1) text"
for "A. text" moves the trained model under a point, "1: text" costs it 38 (scripts/demo_world.py
report lists both; the labels scenarios plant the second). Two effects need no training at all:
- acc vs acc_norm: about half the questions list the bare number as a distractor ("42" beside
  "42 apples"). A prefix of the gold always has the larger total loglikelihood, so acc picks it;
  per-character normalization does not.
- strict vs flexible extraction: the model writes "42 in all.", never "#### 42".
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from scoregap.profiles.tinymodel import number_words

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "profiles" / "demo"
TASKS = DEMO / "tasks" / "census"
MODEL = DEMO / "model"
SEED = 20261129

SUBJECTS = {  # subtask -> (nouns, question); the number closes the question
    "crates": (("apples", "pears", "plums", "lemons", "figs", "limes"), "How many {noun} are in a crate of {n}?"),
    "boxes": (("pens", "cups", "nails", "beads", "cards", "keys"), "How many {noun} fit in a box of {n}?"),
}
SIZES = {"crates": (150, 7), "boxes": (90, 5)}   # (test docs, few-shot pool): unequal subtasks
NUMBERS = tuple(x for x in range(21, 100) if x % 10)

def words(n: int) -> str:
    return number_words(n)


@dataclass(frozen=True)
class Fact:
    """One census line and the question about it: the answer is read from the question."""

    subject: str
    noun: str
    n: int
    split: str   # "test" | "pool"

    @property
    def question(self) -> str:
        return SUBJECTS[self.subject][1].format(noun=self.noun, n=self.n)

    @property
    def worked(self) -> str:
        return f"{self.n} in all."


def facts(seed: int = SEED, sizes: dict | None = None) -> list[Fact]:
    """Distinct (subject, noun, number) triples; the pool never repeats a test question."""
    rng = random.Random(seed)
    out: list[Fact] = []
    for subject, (n_test, n_pool) in (sizes or SIZES).items():
        triples = [(noun, n) for noun in SUBJECTS[subject][0] for n in NUMBERS]
        for i, (noun, n) in enumerate(rng.sample(triples, n_test + n_pool)):
            out.append(Fact(subject, noun, n, "test" if i < n_test else "pool"))
    return out


def choice_set(fact: Fact, rng: random.Random, prefix_trap: bool) -> tuple[list[str], int]:
    """Four counts ("42 apples"): the gold, maybe the bare number (the acc trap), near misses."""
    gold = f"{fact.n} {fact.noun}"
    options = {gold}
    if prefix_trap:
        options.add(str(fact.n))
    while len(options) < 4:
        options.add(f"{rng.choice([x for x in NUMBERS if abs(x - fact.n) < 30])} {fact.noun}")
    choices = sorted(options)
    rng.shuffle(choices)
    return choices, choices.index(gold)


def write_tasks() -> None:
    rng = random.Random(SEED + 1)
    TASKS.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[str]] = {"mc.test": [], "mc.dev": [], "qa.test": [], "qa.dev": []}
    all_facts = facts()
    order = list(range(len(all_facts)))
    rng.shuffle(order)   # mixed subtasks, so --limit keeps both
    for i in order:
        fact = all_facts[i]
        split = "test" if fact.split == "test" else "dev"
        choices, gold = choice_set(fact, rng, prefix_trap=rng.random() < 0.5)
        rows[f"mc.{split}"].append(json.dumps(
            {"question": fact.question, "subject": fact.subject, "choices": choices, "answer": gold}))
        rows[f"qa.{split}"].append(json.dumps(
            {"question": fact.question, "subject": fact.subject, "answer": [str(fact.n)], "worked": fact.worked}))
    for key, lines in rows.items():
        (TASKS / f"census.{key}.jsonl").write_text("\n".join(lines) + "\n")
    (TASKS / "census_mc.toml").write_text(
        'name = "census_mc"\nkind = "multiple_choice"\ndocs = "census.mc.test.jsonl"\n'
        'fewshot = "census.mc.dev.jsonl"\n[fields]\nquestion = "question"\nchoices = "choices"\n'
        'gold = "answer"\nsubtask = "subject"\n'
    )
    (TASKS / "census_qa.toml").write_text(
        'name = "census_qa"\nkind = "generate"\ndocs = "census.qa.test.jsonl"\n'
        'fewshot = "census.qa.dev.jsonl"\n[fields]\nquestion = "question"\ngold = "answer"\n'
        'target = "worked"\nsubtask = "subject"\n'
    )


@dataclass(frozen=True)
class Scenario:
    name: str
    story: str
    reference: str                  # "mc" | "qa"
    changes: dict                   # your setup = the reference with these changes
    causes: tuple[str, ...]
    known: dict | None = None       # facts the "report" states
    rescaled: bool = False          # the report shows a leaderboard-rescaled percentage
    card: dict | None = None        # the card's own setup departs from the reference like this


SCENARIOS = (
    Scenario("chat-template", "You wrapped the prompt in the chat template; the card's number is without it.",
             "mc", {"chat.apply_template": True}, ("template",), known={"chat.apply_template": False}),
    Scenario("labels", "Your prompt numbers the choices 1: 2: 3: where the model card letters them A. B. C.",
             "mc", {"prompt.choice_labels": "1", "prompt.choice_format": "{{ label }}: {{ text }}"}, ("prompt",)),
    Scenario("zero-shot", "You ran 0-shot; the card's number is 3-shot.",
             "mc", {"fewshot.k": 0}, ("fewshot",)),
    Scenario("strict-match", "You extracted answers with GSM8K's strict '#### N' pattern.",
             "qa", {"scoring.extract": "gsm8k_strict"}, ("normalization",)),
    Scenario("acc-vs-norm", "You report acc; the card reports length-normalized acc_norm.",
             "mc", {"scoring.metric": "acc"}, ("metric",)),
    Scenario("labels-and-chat", "Numbered choices and a chat template: two departures at once.",
             "mc", {"prompt.choice_labels": "1", "prompt.choice_format": "{{ label }}: {{ text }}",
                    "chat.apply_template": True}, ("prompt", "template")),
    Scenario("shots-and-metric", "0-shot and plain acc: two departures at once.",
             "mc", {"fewshot.k": 0, "scoring.metric": "acc"}, ("fewshot", "metric"), known={"fewshot.k": 3}),
    Scenario("leaderboard-scale", "Same setup as the leaderboard (plain acc), but it shows a rescaled percentage.",
             "mc", {}, ("metric",), rescaled=True, card={"scoring.metric": "acc"}),
    Scenario("seed-only", "Only the few-shot seed differs from the card: no real gap.",
             "mc", {"fewshot.seed": 99}, ()),
)


def _write_setup(path: Path, comment: str, extends: str, changes: dict) -> None:
    import tomli_w

    sections: dict = {}
    for dotted, value in changes.items():
        section, key = dotted.split(".")
        sections.setdefault(section, {})[key] = value
    path.write_text("\n".join([f"# {comment}", f'extends = "{extends}"', ""]) + tomli_w.dumps(sections))


def write_scenarios() -> None:
    """Your setups and sessions; each reported score is what the reference really scores."""
    import tempfile

    import tomli_w

    from scoregap.engine.cache import Cache
    from scoregap.engine.evaluate import Engine
    from scoregap.engine.model import resolve_model
    from scoregap.engine.presets import load_setup

    cache = Cache(tempfile.mkdtemp())
    engine = Engine(resolve_model(str(MODEL), cache=cache), cache)
    reference_scores = {}
    for ref in ("mc", "qa"):
        reference_scores[ref] = engine.evaluate(load_setup(DEMO / f"reference_{ref}.toml")).result.score
    (DEMO / "setups").mkdir(exist_ok=True)
    (DEMO / "sessions").mkdir(exist_ok=True)
    for sc in SCENARIOS:
        base, reported_setup = f"../reference_{sc.reference}.toml", f"demo/reference_{sc.reference}"
        score = reference_scores[sc.reference]
        if sc.card:
            _write_setup(DEMO / "setups" / f"{sc.name}.card.toml", "The setup behind the reported number: the reference, as the scenario story says.", base, sc.card)
            base = reported_setup = f"../setups/{sc.name}.card.toml"
            score = engine.evaluate(load_setup(DEMO / "setups" / f"{sc.name}.card.toml")).result.score
        _write_setup(DEMO / "setups" / f"{sc.name}.toml", sc.story, base, sc.changes)
        if sc.rescaled:
            score = (score - 0.25) / 0.75
        session = {
            "model": {"path": "../model"},
            "yours": {"setup": f"../setups/{sc.name}.toml"},
            "reported": {"score": round(100 * score, 2), "source": "census model card, table 1",
                         "setup": reported_setup,
                         **({"known": sc.known} if sc.known else {})},
            "diagnosis": {"checks": [], "limit": 0},
            "truth": {"causes": list(sc.causes), "story": sc.story},
        }
        (DEMO / "sessions" / f"{sc.name}.toml").write_text(
            f"# Demo scenario: {sc.story}\n# The reported score is computed by scripts/demo_world.py scenarios.\n"
            + tomli_w.dumps(session))
        print(f"{sc.name:18} reported {100 * score:6.2f}  causes {', '.join(sc.causes) or '(none)'}")
    (DEMO / "sessions" / "index.toml").write_text(
        "# The order `scoregap demo --list` shows; the first is the default demo.\n"
        + tomli_w.dumps({"order": [sc.name for sc in SCENARIOS]}))


def accuracy(out: Path) -> None:
    """Diagnose every scenario in full (all docs, all checks) and print how it did: the issue's
    acceptance table, with the reports of each run written under `out`."""
    import tempfile

    from scoregap.checks import CHECKS
    from scoregap.engine.cache import Cache
    from scoregap.engine.ranking import is_cause
    from scoregap.engine.run import DiagnosisRun
    from scoregap.engine.session import load_session

    cache = Cache(tempfile.mkdtemp())
    print("| scenario | planted | causes found (best first) | verdict | gap | reconciled | residual | "
          "calls | seconds |\n|---|---|---|---|---|---|---|---|---|")
    per_check: dict[str, dict[str, int]] = {}
    for sc in SCENARIOS:
        began = time.perf_counter()
        session = load_session(DEMO / "sessions" / f"{sc.name}.toml")
        run = DiagnosisRun.open(session, cache=cache, checks=CHECKS)
        run.run_all()
        run.write_reports(out / sc.name)
        d, engine = run.diagnosis, run.engine
        found = [f"{f.variant.check} ({f.variant.name}{', round ' + str(f.round) if f.round > 1 else ''})"
                 for f in d.ranking if is_cause(f)]
        rec = d.reconciliation
        per_check[sc.name] = {cid: r.calls for cid, r in d.results.items()}
        print(f"| {sc.name} | {', '.join(sc.causes) or '—'} | {'; '.join(found) or '—'} | {d.verdict} | "
              f"{100 * d.gap:+.1f} | {f'{100 * rec.score:.1f}' if rec else '—'} | "
              f"{f'{100 * rec.residual:+.1f}' + (' (noise)' if rec.within_noise else '') if rec else '—'} | "
              f"{engine.calls.total} | {time.perf_counter() - began:.0f} |", flush=True)
    checks = [c.id for c in CHECKS]
    print("\nModel calls per check (cache hits excluded; scenarios run in this order, sharing a cache):\n")
    print("| scenario | " + " | ".join(checks) + " |\n|---|" + "---|" * len(checks))
    for name, calls in per_check.items():
        print(f"| {name} | " + " | ".join(str(calls.get(c, "—")) for c in checks) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("tasks", "train", "report", "scenarios", "accuracy"))
    parser.add_argument("--out", type=Path, default=Path("demo-reports"), help="accuracy: where the reports go")
    args = parser.parse_args(argv)
    if args.step == "accuracy":
        accuracy(args.out)
        return 0
    if args.step == "tasks":
        write_tasks()
        print(f"wrote {TASKS}")
        return 0
    if args.step == "scenarios":
        write_scenarios()
        return 0
    if args.step == "train":
        from demo_training import train  # noqa: E402  (beside this file)

        began = time.perf_counter()
        digest = train(MODEL)
        print(f"trained {MODEL} in {time.perf_counter() - began:.0f} s; weights sha256 {digest}")
        return 0
    from demo_training import report  # noqa: E402

    return report()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
