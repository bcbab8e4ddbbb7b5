"""A fake world for tests: tasks, a scripted fake model, setups and sessions, written in seconds.

Why: the diagnosis (screening, reconciliation, noise floor, Holm) must be tested on gaps whose
causes are known. A fake model (`scoregap.engine.backends.fake`) memorises a task's docs and is
scripted with sensitivities (`effects`), so a test plants a cause, writes the session and checks
that the diagnosis finds it, without torch and without minutes of model time.

    task = write_mc_task(tmp_path / "task")
    model = write_fake_model(tmp_path / "model", task, effects=[{"name": "labels 1",
                             "when": r"(?m)^1\\. ", "docs": 0.4, "nats": -3.0}])
    yours = write_setup(tmp_path / "yours.toml", task, **{"prompt.choice_labels": "1"})
    theirs = write_setup(tmp_path / "theirs.toml", task)
    session = write_session(tmp_path / "session.toml", model, yours, reported_setup=theirs)

Every function is deterministic in its arguments. Not a test module; it imports no pytest.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any, Mapping, Sequence

import tomli_w

from scoregap.engine.cache import Cache
from scoregap.engine.evaluate import Engine, Evaluation
from scoregap.engine.model import resolve_model
from scoregap.engine.presets import load_setup
from scoregap.engine.setup import TaskSpec
from scoregap.engine.tasks import load_task

SYLLABLES = ("ba", "ko", "mi", "tu", "re", "sa", "lo", "ni", "ve", "du", "pa", "zo", "fi", "ge", "ru", "ta")


def words(count: int, seed: int = 0) -> list[str]:
    """`count` distinct pseudo-words of three syllables: none is a label, a number, or a suffix
    of another (they all have the same length)."""
    rng = random.Random(seed)
    pool = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES]
    if count > len(pool):
        raise ValueError(f"at most {len(pool)} distinct words")
    return rng.sample(pool, count)


def _write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _write_task(directory: Path, name: str, kind: str, docs: list[dict], pool: list[dict],
                subtasks: bool) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    _write_jsonl(directory / f"{name}.test.jsonl", docs)
    _write_jsonl(directory / f"{name}.dev.jsonl", pool)
    fields = {"question": "question", "gold": "answer"}
    if kind == "multiple_choice":
        fields["choices"] = "choices"
    if subtasks:
        fields["subtask"] = "subject"
    task = {"name": name, "kind": kind, "docs": f"{name}.test.jsonl", "fewshot": f"{name}.dev.jsonl",
            "fields": fields}
    path = directory / f"{name}.toml"
    path.write_text(tomli_w.dumps(task), encoding="utf-8")
    return path


def write_mc_task(
    directory: Path | str,
    n_docs: int = 200,
    n_choices: int = 4,
    subtasks: Mapping[str, int] | None = None,
    pool: int = 8,
    seed: int = 0,
    interleave: bool = True,
    name: str = "fake_mc",
) -> Path:
    """A multiple-choice task: "Item 17: which word is right?" with unique word choices and the
    gold spread evenly over the positions. With `subtasks` ({"alpha": 250, "beta": 150}) their
    sizes replace `n_docs`; docs are shuffled so subtasks interleave, unless `interleave=False`.
    Returns the task TOML's path."""
    rng = random.Random(seed)
    sizes = dict(subtasks) if subtasks else {"": n_docs}
    subjects = [s for s, n in sizes.items() for _ in range(n)]
    vocabulary = words(max(n_choices * 4, 64), seed)

    def row(question: str, i: int, subject: str) -> dict:
        choices = rng.sample(vocabulary, n_choices)
        out = {"question": question, "choices": choices, "answer": i % n_choices}
        return {**out, "subject": subject} if subtasks else out

    docs = [row(f"Item {i}: which {s + ' ' if s else ''}word is right?", i, s) for i, s in enumerate(subjects)]
    if interleave:
        rng.shuffle(docs)
    names = list(sizes)
    shots = [row(f"Practice {i}: which word is right?", i, names[i % len(names)]) for i in range(pool)]
    return _write_task(Path(directory), name, "multiple_choice", docs, shots, bool(subtasks))


def write_qa_task(directory: Path | str, n_docs: int = 120, pool: int = 8, seed: int = 0,
                  name: str = "fake_qa") -> Path:
    """A generate task whose gold answers are integers: "Item 4: how many marbles are in jar 4?"."""
    rng = random.Random(seed)

    def row(prefix: str, i: int) -> dict:
        question = f"{prefix} {i}: how many marbles are in jar {i}?"
        return {"question": question, "answer": str(rng.randint(10, 999))}

    docs = [row("Item", i) for i in range(n_docs)]
    shots = [row("Practice", i) for i in range(pool)]
    return _write_task(Path(directory), name, "generate", docs, shots, False)


def write_fake_model(
    directory: Path | str,
    task_path: Path | str,
    *,
    skill: float = 0.7,
    margin: float = 2.0,
    close: float = 0.0,
    jitter: float = 0.0,
    chat_template: bool = False,
    sampling_flip: float = 0.15,
    output: str = "{answer}",
    effects: Sequence[Mapping[str, Any]] = (),
    seed: int = 0,
) -> Path:
    """A fake model directory that has memorised every eval doc of the task. Returns the directory."""
    task = load_task(TaskSpec(path=str(task_path)))
    docs = []
    for doc in task.docs:
        if task.kind == "multiple_choice":
            docs.append({"question": doc.question, "choices": list(doc.choices), "answer": int(doc.gold[0])})
        else:
            docs.append({"question": doc.question, "answer": str(doc.gold[0])})
    model = {"seed": seed, "skill": skill, "margin": margin, "close": close, "jitter": jitter,
             "chat_template": chat_template, "sampling_flip": sampling_flip, "output": output,
             "doc": docs, "effect": [dict(e) for e in effects]}
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    _write_changed(out / "fake-model.toml", tomli_w.dumps(model))
    return out


def _write_changed(path: Path, text: str) -> None:
    """Write `text`; if it replaces other content, make sure the mtime moves too. The model's
    fingerprint is remembered per (size, mtime), and a rewrite within one clock tick that keeps
    the size ("skill = 0.7" -> "skill = 0.3") would otherwise reuse the old model's results."""
    before = path.stat().st_mtime_ns if path.is_file() and path.read_text(encoding="utf-8") != text else None
    path.write_text(text, encoding="utf-8")
    if before is not None and path.stat().st_mtime_ns <= before:
        os.utime(path, ns=(before + 1_000, before + 1_000))


def write_setup(path: Path | str, task_path: Path | str, **changes: Any) -> Path:
    """A setup that runs the task on the fake backend; `changes` are dotted keys, given as
    `**{"fewshot.k": 3, "prompt.choice_labels": "1"}`. A generate task gets exact-match scoring
    of a greedy answer cut at a blank line. Validated before it is returned."""
    kind = load_task(TaskSpec(path=str(task_path))).kind
    data: dict[str, dict[str, Any]] = {"task": {"path": str(Path(task_path).resolve())},
                                       "loading": {"backend": "fake"}}
    if kind == "generate":
        data["prompt"] = {"template": "Question: {{ question }}\nAnswer:"}
        data["scoring"] = {"method": "generate", "metric": "exact_match", "normalize": ["strip"]}
        data["generation"] = {"max_new_tokens": 32, "stop": ["\n\n"]}
    for dotted, value in changes.items():
        section, _, key = dotted.partition(".")
        data.setdefault(section, {})[key] = value
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(tomli_w.dumps(data), encoding="utf-8")
    load_setup(out)
    return out


def evaluate(setup_path: Path | str, model_dir: Path | str, cache_dir: Path | str | None = None,
             limit: int = 0) -> Evaluation:
    """The evaluation of a setup file with the fake model, through a result cache."""
    cache = Cache(cache_dir)
    engine = Engine(resolve_model(str(model_dir), cache=cache), cache)
    return engine.evaluate(load_setup(setup_path), limit)


def write_session(
    path: Path | str,
    model_dir: Path | str,
    yours_setup: Path | str,
    *,
    reported_score: float | None = None,
    reported_setup: Path | str | None = None,
    known: Mapping[str, Any] | None = None,
    checks: Sequence[str] = (),
    limit: int = 0,
    cache_dir: Path | str | None = None,
) -> Path:
    """A session file. Without `reported_score`, the reported score is what `reported_setup`
    really scores with the model (on the first `limit` docs), written as a fraction."""
    if reported_score is None:
        if reported_setup is None:
            raise ValueError("give reported_score, or reported_setup to compute it")
        reported_score = evaluate(reported_setup, model_dir, cache_dir, limit).result.score
        scale = "fraction"
    else:
        scale = "auto"
    reported: dict[str, Any] = {"score": float(reported_score), "scale": scale, "source": "fake world"}
    if reported_setup is not None:
        reported["setup"] = str(Path(reported_setup).resolve())
    if known:
        reported["known"] = dict(known)
    session = {
        "model": {"path": str(Path(model_dir).resolve())},
        "yours": {"setup": str(Path(yours_setup).resolve())},
        "reported": reported,
        "diagnosis": {"checks": list(checks), "limit": limit},
    }
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(tomli_w.dumps(session), encoding="utf-8")
    return out
