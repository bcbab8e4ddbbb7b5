"""Write the sample tasks bundled under `profiles/tasks/`: `arith` (multiple choice) and `facts` (generate).

Why generated rather than copied: the demo and the tests need tasks that ship with the project, are
small, carry no third-party licence, and still have the properties the checks probe:

- `arith`: the choices are number words of very different lengths ("twelve" vs "one hundred and
  four"), so `acc` and `acc_norm` disagree; two subtasks of unequal size ("addition" 120 docs,
  "multiplication" 80), so micro and macro averages differ; gold positions balanced over A-D.
- `facts`: short answers with a list of acceptable strings ("12", "twelve") and a worked `target` for
  few-shot examples ("7 plus 5 is 12. The answer is 12."), so extraction and normalization matter;
  two unequal subtasks ("arithmetic" 60, "sequences" 40).

The few-shot pools (`*.dev.jsonl`) never share a question with the test docs. Everything comes from
fixed seeds, so rerunning the script rewrites identical bytes:

    python scripts/make_sample_tasks.py            # into profiles/tasks/
    python scripts/make_sample_tasks.py --out DIR  # elsewhere
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path

from scoregap.profiles.tinymodel import number_words

Doc = dict[str, object]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "profiles" / "tasks"

DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()

ARITH_TOML = """\
name = "arith"
kind = "multiple_choice"
docs = "arith.test.jsonl"
fewshot = "arith.dev.jsonl"
[fields]
question = "question"
choices = "choices"
gold = "answer"
subtask = "subject"
"""

FACTS_TOML = """\
name = "facts"
kind = "generate"
docs = "facts.test.jsonl"
fewshot = "facts.dev.jsonl"
[fields]
question = "question"
gold = "gold"
target = "target"
subtask = "subject"
"""


def _arith_question(rng: random.Random, subject: str) -> tuple[str, int, list[int]]:
    """One question, its value and near-miss distractors (the mistakes a model would plausibly make)."""
    if subject == "addition":
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        value = a + b
        near = [value + 1, value - 1, value + 10, value - 10, a * b, abs(a - b)]
        return f"What is {a} plus {b}?", value, near
    a, b = rng.randint(2, 12), rng.randint(2, 15)
    value = a * b
    near = [value + a, value - a, value + b, value - b, a + b, value + 10]
    return f"What is {a} times {b}?", value, near


def _arith_docs(rng: random.Random, counts: dict[str, int], seen: set[str]) -> list[Doc]:
    """Draw unique questions per subject; then shuffle so a `limit` prefix mixes both subjects."""
    drafts: list[tuple[str, str, int, list[int]]] = []
    for subject, count in counts.items():
        made = 0
        while made < count:
            question, value, near = _arith_question(rng, subject)
            if question in seen:
                continue
            seen.add(question)
            distractors = sorted({n for n in near if 0 < n < 1000 and n != value})
            drafts.append((subject, question, value, rng.sample(distractors, 3)))
            made += 1
    rng.shuffle(drafts)
    golds = [i % 4 for i in range(len(drafts))]  # balanced A-D: chance is exactly 25%
    rng.shuffle(golds)
    docs: list[Doc] = []
    for (subject, question, value, wrong), gold in zip(drafts, golds):
        values = wrong[:gold] + [value] + wrong[gold:]
        docs.append(
            {
                "question": question,
                "choices": [number_words(v) for v in values],
                "answer": gold,
                "subject": subject,
            }
        )
    return docs


def _arithmetic_fact(rng: random.Random) -> Doc:
    """A sum or difference with a numeric and a spelled-out gold answer."""
    a, b = rng.randint(2, 40), rng.randint(2, 40)
    if rng.random() < 0.5:
        op, value = "plus", a + b
    else:
        a, b = max(a, b), min(a, b)
        op, value = "minus", a - b
    return {
        "question": f"What is {a} {op} {b}?",
        "gold": [str(value), number_words(value)],
        "target": f"{a} {op} {b} is {value}. The answer is {value}.",
        "subject": "arithmetic",
    }


def _sequence_fact(rng: random.Random) -> Doc:
    """What comes next in a day, month, letter or number sequence."""
    kind = rng.choice(("day", "month", "letter", "number"))
    if kind == "day":
        i = rng.randrange(7)
        prev, nxt = DAYS[i], DAYS[(i + 1) % 7]
        golds = [nxt]
    elif kind == "month":
        i = rng.randrange(12)
        prev, nxt = MONTHS[i], MONTHS[(i + 1) % 12]
        golds = [nxt]
    elif kind == "letter":
        i = rng.randrange(25)
        prev, nxt = chr(ord("A") + i), chr(ord("A") + i + 1)
        golds = [nxt]
    else:
        n = rng.randint(10, 98)
        prev, nxt = str(n), str(n + 1)
        golds = [nxt, number_words(n + 1)]
    return {
        "question": f"What {kind} comes after {prev}?",
        "gold": golds,
        "target": f"The {kind} after {prev} is {nxt}. The answer is {nxt}.",
        "subject": "sequences",
    }


def _facts_docs(rng: random.Random, counts: dict[str, int], seen: set[str]) -> list[Doc]:
    """Unique questions per subject, shuffled together."""
    makers: dict[str, Callable[[random.Random], Doc]] = {
        "arithmetic": _arithmetic_fact,
        "sequences": _sequence_fact,
    }
    docs: list[Doc] = []
    for subject, count in counts.items():
        made = 0
        while made < count:
            doc = makers[subject](rng)
            if doc["question"] in seen:
                continue
            seen.add(str(doc["question"]))
            docs.append(doc)
            made += 1
    rng.shuffle(docs)
    return docs


def _write_jsonl(path: Path, docs: list[Doc]) -> None:
    """One JSON object a line, UTF-8, '\\n' endings on every platform (identical bytes on rerun)."""
    text = "".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs)
    path.write_text(text, encoding="utf-8", newline="\n")


def make_tasks(out: Path) -> list[Path]:
    """Write both tasks under `out` and return the files written."""
    written: list[Path] = []
    # Dev first, from its own draw: the test docs then skip every question the pool already holds.
    rng = random.Random(20240601)
    seen: set[str] = set()
    arith_dev = _arith_docs(rng, {"addition": 10, "multiplication": 10}, seen)
    arith_test = _arith_docs(rng, {"addition": 120, "multiplication": 80}, seen)
    rng = random.Random(20240602)
    seen = set()
    facts_dev = _facts_docs(rng, {"arithmetic": 6, "sequences": 4}, seen)
    facts_test = _facts_docs(rng, {"arithmetic": 60, "sequences": 40}, seen)
    for name, toml, dev, test in (
        ("arith", ARITH_TOML, arith_dev, arith_test),
        ("facts", FACTS_TOML, facts_dev, facts_test),
    ):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.toml").write_text(toml, encoding="utf-8", newline="\n")
        _write_jsonl(folder / f"{name}.test.jsonl", test)
        _write_jsonl(folder / f"{name}.dev.jsonl", dev)
        written += [folder / f"{name}.toml", folder / f"{name}.test.jsonl", folder / f"{name}.dev.jsonl"]
    return written


def main(argv: list[str] | None = None) -> None:
    """Command line: `--out DIR` (default: profiles/tasks/ of this checkout)."""
    parser = argparse.ArgumentParser(description="Write the sample tasks arith and facts.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write the tasks into")
    args = parser.parse_args(argv)
    for path in make_tasks(args.out):
        print(f"{path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
