"""The codebase presets: each loads, is written for one catalog benchmark (and offered for it
alone), sets every convention key itself, and renders the prompt its header claims."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from scoregap.engine import answers
from scoregap.engine.presets import NOT_CODEBASES, load_setup, presets_for
from scoregap.engine.prompts import Prompt, PromptBuilder, probe_chat
from scoregap.engine.setup import Setup
from scoregap.engine.tasks import load_task
from scoregap.profiles import PROFILES_DIR

ARITH = PROFILES_DIR / "tasks" / "arith" / "arith.toml"
CODEBASE_SECTIONS = ("prompt", "fewshot", "chat", "scoring")
MMLU_PRESETS = ("helm/mmlu", "original/mmlu", "lighteval/mmlu", "olmes/mmlu", "olmes/mmlu_cloze",
                "harness-2023/mmlu")


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _raw(name: str) -> dict[str, Any]:
    return tomllib.loads((PROFILES_DIR / f"{name}.toml").read_text(encoding="utf-8"))


# Every setup file under profiles/ but the tasks, the demo world, the samples and the base.
PRESET_FILES = sorted(
    _name(p) for p in PROFILES_DIR.glob("*/*.toml")
    if p.parent.name not in ("tasks", "demo", "samples") and _name(p) != "lm-eval/base"
)
# The catalog: lm-eval/<benchmark> for each benchmark it names.
CATALOG = sorted(name.split("/")[1] for name in PRESET_FILES
                 if name.startswith("lm-eval/") and load_setup(name).task.benchmark == name.split("/")[1])
# The codebase presets: the files presets_for may offer (lm-eval's own are among them).
CODEBASE_FILES = [n for n in PRESET_FILES if n.split("/")[0] not in NOT_CODEBASES]
# Those written as another codebase's convention over a catalog entry (not the entry itself).
CONVENTIONS = [n for n in CODEBASE_FILES if n != f"lm-eval/{load_setup(n).task.benchmark}"]


def test_the_catalog_is_what_the_presets_are_written_for() -> None:
    assert CATALOG == ["arc_challenge", "arc_easy", "gsm8k", "hellaswag", "mmlu", "piqa",
                       "truthfulqa_mc1", "truthfulqa_mc2", "winogrande"]
    assert {"olmes/arc_challenge", "olmes/winogrande_cloze", "lighteval/hellaswag",
            "lm-eval/gsm8k_cot", "lighteval/gsm8k"} <= set(CONVENTIONS)


@pytest.mark.parametrize("name", PRESET_FILES)
def test_every_preset_loads_and_names_a_catalog_benchmark(name: str) -> None:
    setup = load_setup(name)
    assert setup.task.benchmark in CATALOG, f"{name} names no benchmark of the catalog"
    entry = load_setup(f"lm-eval/{setup.task.benchmark}")
    assert entry.task.benchmark == setup.task.benchmark


@pytest.mark.parametrize("name", CONVENTIONS)
def test_a_convention_extends_its_catalog_entry_and_carries_no_task(name: str) -> None:
    raw, benchmark = _raw(name), load_setup(name).task.benchmark
    assert raw["extends"] == f"lm-eval/{benchmark}"
    assert "task" not in raw, "a codebase preset takes its data from the catalog entry"
    text = (PROFILES_DIR / f"{name}.toml").read_text(encoding="utf-8")
    assert text.startswith("#") and "Approximate" in text, "the header says what it emulates and how"


@pytest.mark.parametrize("name", CONVENTIONS)
def test_a_convention_sets_every_key_the_codebase_check_applies(name: str) -> None:
    """A key left to the catalog entry would be lm-eval's convention passed off as this one's;
    scoring.partial may be left out only where the entry's is false too."""
    raw, setup = _raw(name), load_setup(name)
    entry = load_setup(f"lm-eval/{setup.task.benchmark}")
    for section in CODEBASE_SECTIONS:
        for key in setup.to_dict()[section]:
            if (section, key) == ("scoring", "partial") and not entry.scoring.partial:
                continue
            assert key in raw.get(section, {}), f"{name} leaves {section}.{key} to lm-eval/{entry.task.benchmark}"


# -- which presets the codebase check is offered ------------------------------------------------


@pytest.mark.parametrize("benchmark", CATALOG)
def test_presets_for_offers_only_the_benchmarks_own(benchmark: str) -> None:
    kind = "generate" if load_setup(f"lm-eval/{benchmark}").scoring.method == "generate" else "multiple_choice"
    other = "multiple_choice" if kind == "generate" else "generate"
    offered = presets_for(kind, benchmark)
    assert f"lm-eval/{benchmark}" in offered
    assert presets_for(other, benchmark) == ()
    for name in offered:
        setup = load_setup(name)
        assert setup.task.benchmark == benchmark
        assert setup.scoring.method == ("generate" if kind == "generate" else "loglikelihood")
        assert name.split("/")[0] not in NOT_CODEBASES
    # Every codebase preset written for it is offered.
    assert set(offered) == {n for n in CODEBASE_FILES if load_setup(n).task.benchmark == benchmark}


def test_presets_for_arc_challenge_and_gsm8k() -> None:
    arc = presets_for("multiple_choice", "arc_challenge")
    assert {"olmes/arc_challenge", "olmes/arc_challenge_cloze", "lighteval/arc_challenge",
            "lm-eval/arc_challenge"} <= set(arc)
    assert not any("mmlu" in name or "arc_easy" in name for name in arc)
    assert "leaderboard/arc_challenge" not in arc          # a leaderboard recipe, not a codebase
    assert set(presets_for("generate", "gsm8k")) == {"lm-eval/gsm8k", "lm-eval/gsm8k_cot", "lighteval/gsm8k"}
    assert set(MMLU_PRESETS) <= set(presets_for("multiple_choice", "mmlu"))


def test_a_task_outside_the_catalog_has_no_presets() -> None:
    assert presets_for("multiple_choice", "") == ()
    assert presets_for("generate", "") == ()
    assert presets_for("multiple_choice", "no_such_benchmark") == ()


# -- what the presets render ---------------------------------------------------------------------


def _write_task(folder: Path, name: str, kind: str, fields: dict[str, str],
                docs: list[dict[str, Any]], shots: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, rows in (("test", docs), ("dev", shots)):
        (folder / f"{name}.{suffix}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    mapping = "".join(f'{k} = "{v}"\n' for k, v in fields.items())
    path = folder / f"{name}.toml"
    path.write_text(f'name = "{name}"\nkind = "{kind}"\ndocs = "{name}.test.jsonl"\n'
                    f'fewshot = "{name}.dev.jsonl"\n[fields]\n{mapping}', encoding="utf-8")
    return path


def _arith_rows(split: str) -> list[dict[str, Any]]:
    lines = (ARITH.parent / f"arith.{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:20]]


def _arc(row: dict[str, Any], labels: str = "ABCD") -> dict[str, Any]:
    return {"question": row["question"], "answerKey": labels[row["answer"]],
            "choices": {"text": row["choices"], "label": list(labels)}}


def _hellaswag(row: dict[str, Any]) -> dict[str, Any]:
    head, _, last = row["question"].rpartition(" ")
    return {"activity_label": "Arithmetic", "ctx_a": head, "ctx_b": last, "endings": row["choices"],
            "label": str(row["answer"])}


def _piqa(row: dict[str, Any]) -> dict[str, Any]:
    wrong = next(c for i, c in enumerate(row["choices"]) if i != row["answer"])
    return {"goal": row["question"], "sol1": row["choices"][row["answer"]], "sol2": wrong, "label": 0}


def _wino(sentence: str, option1: str, option2: str, answer: str) -> dict[str, Any]:
    return {"sentence": sentence, "option1": option1, "option2": option2, "answer": answer}


@pytest.fixture(scope="module")
def local_tasks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small local copies of each benchmark in its hub layout's columns: the catalog entry's
    doc processor (task.process) reshapes them as it reshapes the hub's rows."""
    root = tmp_path_factory.mktemp("tasks")
    processed = {"question": "question", "choices": "choices", "gold": "answer"}
    test, dev = _arith_rows("test"), _arith_rows("dev")
    tasks = {"mmlu": ARITH}
    # The first ARC doc labels its choices "1".."4", as some ARC rows do.
    tasks["arc"] = _write_task(root / "arc", "arc", "multiple_choice", processed,
                               [_arc(test[0], "1234")], [_arc(r) for r in dev])
    tasks["hellaswag"] = _write_task(root / "hs", "hs", "multiple_choice", processed,
                                     [_hellaswag(test[0])], [_hellaswag(r) for r in dev])
    tasks["piqa"] = _write_task(root / "piqa", "piqa", "multiple_choice", processed,
                                [_piqa(test[0])], [_piqa(r) for r in dev])
    tasks["winogrande"] = _write_task(
        root / "wino", "wino", "multiple_choice", {**processed, "target": "target"},
        [_wino("The trophy doesn't fit into the suitcase because the _ is too large.", "trophy", "suitcase", "1")],
        [_wino("The ball broke the table because the _ was heavy.", "ball", "table", "1"),
         _wino("Anna lent Maria a pen because _ had none.", "Anna", "Maria", "2")],
    )
    tasks["gsm8k"] = _write_task(
        root / "math", "math", "generate", {"question": "question", "gold": "answer"},
        [{"question": "Tom has 1,200 stamps and buys 34 more. How many does he have?",
          "answer": "1200 + 34 = <<1200+34=1234>>1234\n#### 1,234"}],
        [{"question": f"What is {n} plus {n}?", "answer": f"{n} + {n} = {2 * n}\n#### {2 * n}"} for n in range(1, 9)],
    )
    return tasks


def _on(name: str, task: Path) -> Setup:
    """The preset over a small local task, as a user would write `extends = name` with their own
    copy of the data; k is capped at the pool as the codebase check caps it."""
    setup = load_setup(name).with_values({"task.path": str(task)}, origin=f"test {name}")
    pool = len(load_task(setup.task).fewshot)
    return setup.with_values({"fewshot.k": min(setup.fewshot.k, pool)}, origin=f"test {name}")


def _render(name: str, tasks: dict[str, Path]) -> Prompt:
    setup = load_setup(name)
    benchmark = setup.task.benchmark
    setup = _on(name, tasks["arc" if benchmark.startswith("arc") else benchmark])
    loaded = load_task(setup.task)
    return PromptBuilder(setup, loaded, chat=probe_chat).render(loaded.docs[0])


ARITH_Q = "What is 46 plus 51?"
ARITH_LETTERED = (" A. ninety-eight\n B. eighty-seven\n C. ninety-seven\n D. one hundred and seven")
ARITH_TEXTS = (" ninety-eight", " eighty-seven", " ninety-seven", " one hundred and seven")
HS_Q = f"Arithmetic: {ARITH_Q}"     # the hellaswag processor's "activity_label: ctx_a Ctx_b"


@pytest.mark.parametrize("bench, first_shot", [
    ("arc_challenge", "Question: George wants to warm his hands quickly by rubbing them."),
    ("arc_easy", "Question: Lichens are symbiotic organisms made of green algae and fungi."),
])
def test_olmes_arc_in_both_formulations(local_tasks: dict[str, Path], bench: str, first_shot: str) -> None:
    mcf = _render(f"olmes/{bench}", local_tasks)
    assert mcf.context.startswith(first_shot) and mcf.context.count("Question: ") == 6
    assert mcf.context.endswith(f"\n\nQuestion: {ARITH_Q}\n{ARITH_LETTERED}\nAnswer:")
    assert "\n A. " in mcf.context.split("\n\n")[0]                 # the shots are lettered too
    assert mcf.continuations == (" A", " B", " C", " D")
    cf = _render(f"olmes/{bench}_cloze", local_tasks)
    assert cf.context.startswith(first_shot) and cf.context.count("\nAnswer: ") == 5
    assert " A. " not in cf.context
    assert cf.context.endswith(f"\n\nQuestion: {ARITH_Q}\nAnswer:") and cf.continuations == ARITH_TEXTS
    # PMI for ARC-Challenge, per character for ARC-Easy (OLMES's normalizations).
    expected = {"arc_challenge": "acc_mutual_info", "arc_easy": "acc_norm"}[bench]
    assert load_setup(f"olmes/{bench}_cloze").scoring.metric == expected


def test_olmes_hellaswag_and_piqa(local_tasks: dict[str, Path]) -> None:
    mcf = _render("olmes/hellaswag", local_tasks)
    assert mcf.context.startswith("Health: How to cope with suicidal thoughts.")
    assert "Question:" not in mcf.context and mcf.context.count("Choose the best continuation:\n A. ") == 6
    assert mcf.context.endswith(f"\n\n{HS_Q}\nChoose the best continuation:\n{ARITH_LETTERED}\nAnswer:")
    assert mcf.continuations == (" A", " B", " C", " D")
    cf = _render("olmes/hellaswag_cloze", local_tasks)
    assert cf.context.startswith("Health: How to cope") and cf.context.endswith(f"\n\n{HS_Q}")
    assert "Answer:" not in cf.context and cf.continuations == ARITH_TEXTS
    piqa = _render("olmes/piqa", local_tasks)
    assert piqa.context.startswith("Goal: how do you stab something?\n A. ") and piqa.context.count("Goal: ") == 6
    assert piqa.context.endswith(f"\n\nGoal: {ARITH_Q}\n A. ninety-seven\n B. ninety-eight\nAnswer:")
    assert piqa.continuations == (" A", " B")
    piqa_cf = _render("olmes/piqa_cloze", local_tasks)
    assert piqa_cf.context.startswith("Goal: how do you stab something?\nAnswer: stick a sharp object through it.\n\n")
    assert piqa_cf.context.endswith(f"\n\nGoal: {ARITH_Q}\nAnswer:")
    assert piqa_cf.continuations == (" ninety-seven", " ninety-eight")


def test_olmes_winogrande_fills_the_blank_or_scores_the_rest(local_tasks: dict[str, Path]) -> None:
    mcf = _render("olmes/winogrande", local_tasks)
    assert mcf.context.startswith("Fill in the blank: John moved the couch from the garage to the backyard")
    assert mcf.context.endswith("\n\nFill in the blank: The trophy doesn't fit into the suitcase because the ___ "
                                "is too large.\n A. trophy\n B. suitcase\nAnswer:")
    assert mcf.continuations == (" A", " B")
    cf = _render("olmes/winogrande_cloze", local_tasks)
    first = "John moved the couch from the garage to the backyard to create space. The garage is small.\n\n"
    assert cf.contexts[0].startswith(first)
    assert [c.rsplit("\n\n", 1)[1] for c in cf.contexts] == [
        "The trophy doesn't fit into the suitcase because the trophy",
        "The trophy doesn't fit into the suitcase because the suitcase"]
    assert cf.continuations == (" is too large.", " is too large.")


def test_lighteval_renders_the_harness_prompt_with_its_shots(local_tasks: dict[str, Path]) -> None:
    arc = _render("lighteval/arc_challenge", local_tasks)
    shots = arc.context.split("\n\n")
    assert len(shots) == 21 and shots[-1] == f"Question: {ARITH_Q}\nAnswer:"   # k 25, capped at the pool's 20
    assert all(s.startswith("Question: ") and "\nAnswer: " in s for s in shots[:-1])
    assert arc.continuations == ARITH_TEXTS
    assert load_setup("lighteval/arc_challenge").fewshot.k == 25
    hellaswag = _render("lighteval/hellaswag", local_tasks)
    assert hellaswag.context.count("\n\n") == 10 and hellaswag.context.endswith(f"\n\n{HS_Q}")
    assert all(shot.startswith("Arithmetic: What is ") for shot in hellaswag.context.split("\n\n"))
    assert hellaswag.continuations == ARITH_TEXTS
    arc_easy = _render("lighteval/arc_easy", local_tasks)
    assert arc_easy.context == f"Question: {ARITH_Q}\nAnswer:" and arc_easy.continuations == ARITH_TEXTS
    piqa = _render("lighteval/piqa", local_tasks)
    assert piqa.context == f"Question: {ARITH_Q}\nAnswer:" and piqa.continuations == (" ninety-seven", " ninety-eight")


def test_lighteval_winogrande_scores_whole_sentences(local_tasks: dict[str, Path]) -> None:
    prompt = _render("lighteval/winogrande", local_tasks)
    shots = prompt.context.split("\n\n")
    assert shots[-1] == "The trophy doesn't fit into the suitcase because the "       # one shared context
    assert prompt.contexts == ()
    assert prompt.continuations == ("trophy is too large.", "suitcase is too large.")
    assert sorted(shots[:-1]) == ["Anna lent Maria a pen because Maria had none.",
                                  "The ball broke the table because the ball was heavy."]
    assert load_setup("lighteval/winogrande").scoring.partial is False


def test_gsm8k_cot_is_lm_evals_yaml(local_tasks: dict[str, Path]) -> None:
    setup = _on("lm-eval/gsm8k_cot", local_tasks["gsm8k"])
    prompt = _render("lm-eval/gsm8k_cot", local_tasks)
    assert prompt.context.startswith("Q: There are 15 trees in the grove.")
    assert prompt.context.count("\nA: ") == 8 and prompt.context.count("The answer is ") == 8
    assert prompt.context.endswith(".\n\nQ: Tom has 1,200 stamps and buys 34 more. How many does he have?\nA:")
    assert setup.generation.stop == ("Q:", "</s>", "<|im_end|>")
    # strict-match: the number in the first "The answer is N.", commas and the final "." dropped.
    scoring = setup.scoring
    answer = "He has 1,200 + 34 = 1,234 stamps. The answer is 1,234.\n\nThe answer is 5."
    assert answers.normalize(answers.extract(answer, scoring.extract), scoring.normalize) == "1234"
    assert answers.normalize("1200 + 34 = <<1200+34=1234>>1234\n#### 1,234", scoring.normalize) == "1234"
    assert answers.extract("He has 1234 stamps.", scoring.extract) == ""


def test_lighteval_gsm8k(local_tasks: dict[str, Path]) -> None:
    prompt = _render("lighteval/gsm8k", local_tasks)
    assert prompt.context == "Question: Tom has 1,200 stamps and buys 34 more. How many does he have?\nAnswer:"
    setup = load_setup("lighteval/gsm8k")
    assert setup.generation.stop == ("Question:",) and setup.scoring.metric == "math_equiv"


# -- MMLU ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", MMLU_PRESETS)
def test_mmlu_preset_renders_five_shots_and_the_question(local_tasks: dict[str, Path], preset: str) -> None:
    setup = load_setup(preset)
    assert setup.task.benchmark == "mmlu" and setup.scoring.method == "loglikelihood" and setup.fewshot.k == 5
    prompt = _render(preset, local_tasks)
    assert prompt.context.count("What is") == 6 and prompt.context.endswith("Answer:")
    assert len(prompt.continuations) == 4


def test_each_mmlu_codebase_writes_its_own_prompt(local_tasks: dict[str, Path]) -> None:
    prompts = {p: _render(p, local_tasks) for p in MMLU_PRESETS + ("lm-eval/mmlu",)}
    assert len({p.context for p in prompts.values()}) == len(prompts)
    helm, original = prompts["helm/mmlu"].context, prompts["original/mmlu"].context
    assert helm.startswith("The following are multiple choice questions (with answers) about ")
    assert "\n\nQuestion: What is" in helm
    assert "about  " in original and "Question:" not in original   # the original's double space
    lighteval = prompts["lighteval/mmlu"]
    assert lighteval.context.startswith("Question: ") and lighteval.continuations == (" A", " B", " C", " D")
    olmes = prompts["olmes/mmlu"]
    assert olmes.context.startswith("The following are multiple choice questions (with answers) about addition.\n\n"
                                    "Question: ")
    assert "\n A. " in olmes.context and olmes.continuations == (" A", " B", " C", " D")
    olmes_cf = prompts["olmes/mmlu_cloze"]
    assert " A. " not in olmes_cf.context and olmes_cf.continuations == ARITH_TEXTS
    assert load_setup("olmes/mmlu").scoring.aggregate == "macro"
    harness = prompts["harness-2023/mmlu"]
    assert "\nChoices:\nA. " in harness.context and harness.continuations[0].startswith(" A. ")


# -- the codebase check on each benchmark ---------------------------------------------------------

# What each benchmark's presets change over lm-eval's own convention. lighteval's ARC-Easy and
# PIQA render exactly lm-eval's 0-shot prompt and score acc: nothing to try, so not offered.
OFFERED_OVER_LM_EVAL = {
    "arc_challenge": {"lighteval/arc_challenge", "olmes/arc_challenge", "olmes/arc_challenge_cloze"},
    "arc_easy": {"olmes/arc_easy", "olmes/arc_easy_cloze"},
    "hellaswag": {"lighteval/hellaswag", "olmes/hellaswag", "olmes/hellaswag_cloze"},
    "piqa": {"olmes/piqa", "olmes/piqa_cloze"},
    "winogrande": {"lighteval/winogrande", "olmes/winogrande", "olmes/winogrande_cloze"},
    "gsm8k": {"lm-eval/gsm8k_cot", "lighteval/gsm8k"},
    "mmlu": set(MMLU_PRESETS),
}


@pytest.mark.parametrize("benchmark", sorted(OFFERED_OVER_LM_EVAL))
def test_the_codebase_check_applies_each_preset_to_lm_evals_setup(
        local_tasks: dict[str, Path], benchmark: str) -> None:
    from scoregap.checks import get
    from scoregap.engine.checks_api import CheckContext

    data = local_tasks["arc" if benchmark.startswith("arc") else benchmark]
    yours = load_setup(f"lm-eval/{benchmark}").with_values({"task.path": str(data)}, origin="test")
    task = load_task(yours.task)
    context = CheckContext(task=task, known={}, reported_score=0.5, presets=presets_for(task.kind, benchmark))
    check = get("codebase")
    assert check.applies(yours, context) == ""
    variants = check.variants(yours, context)
    assert {v.name for v in variants} == OFFERED_OVER_LM_EVAL[benchmark]
    for v in variants:
        setup = v.apply(yours)
        assert setup.task == yours.task and setup.generation == yours.generation
        PromptBuilder(setup, task, chat=probe_chat).render(task.docs[0])
