"""The engine features the benchmark catalog stands on, each against lm-eval 0.4.13's own code
where it has one: the default few-shot sampler (one random stream), doc processors, partial
scoring (Winogrande), the mc2 metric, and hub-layout folders with one subtask per config."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from scoregap.engine.errors import InputError
from scoregap.engine.metrics import score_choices
from scoregap.engine.presets import load_setup
from scoregap.engine.processors import PROCESSORS, hellaswag_clean
from scoregap.engine.prompts import PromptBuilder
from scoregap.engine.setup import TaskSpec
from scoregap.engine.tasks import Doc, Task, load_task


def _docs(rows: list[dict], subtask: str = "") -> tuple[Doc, ...]:
    return tuple(Doc(i, r["question"], tuple(r["choices"]), (r["answer"],), subtask, "", r) for i, r in enumerate(rows))


def _rows(n: int, tag: str) -> list[dict]:
    return [{"question": f"{tag} question {i}?", "choices": [f"{tag}{i}a", f"{tag}{i}b"], "answer": i % 2}
            for i in range(n)]


@pytest.mark.parametrize(("same_split", "sampler"), [(False, "stream"), (True, "stream"), (False, "stream_excluding")])
def test_the_stream_sampler_draws_what_lm_evals_default_sampler_draws(same_split: bool, sampler: str) -> None:
    from lm_eval.api.samplers import ContextSampler

    docs = _rows(30, "d")
    pool = docs if same_split else _rows(12, "p")
    task = Task("t", "multiple_choice", _docs(docs), _docs(pool), "t", fewshot_is_docs=same_split)
    setup = load_setup("lm-eval/base").with_values({"fewshot.k": 3, "fewshot.sampler": sampler})
    builder = PromptBuilder(setup, task)
    lm_eval_sampler = ContextSampler(pool, rnd=1234)
    handed = same_split or sampler == "stream_excluding"   # lm-eval is given the doc to exclude
    for doc in task.docs:
        theirs = lm_eval_sampler.sample(3, eval_doc=doc.data if handed else None)
        assert [d.data for d in builder.shots(doc)] == list(theirs), doc.doc_id


def test_the_stream_is_the_same_whatever_doc_is_rendered_first() -> None:
    docs = _rows(10, "d")
    task = Task("t", "multiple_choice", _docs(docs), _docs(_rows(6, "p")), "t")
    setup = load_setup("lm-eval/base").with_values({"fewshot.k": 2, "fewshot.sampler": "stream"})
    forward = [PromptBuilder(setup, task).shots(d) for d in task.docs]
    late = PromptBuilder(setup, task)
    assert late.shots(task.docs[7]) == forward[7]          # not the stream's first draw
    assert len({tuple(d.doc_id for d in s) for s in forward}) > 1


def test_each_subtask_draws_from_its_own_pool_and_stream(tmp_path: Path) -> None:
    folder = _hub_folder(tmp_path, {"alpha": (_rows(4, "a"), _rows(5, "A")), "beta": (_rows(3, "b"), _rows(5, "B"))})
    spec = TaskSpec(hf=str(folder), subsets=("alpha", "beta"), split="test", fewshot_split="dev",
                    kind="multiple_choice", process="mmlu")
    task = load_task(spec)
    assert [d.subtask for d in task.docs] == ["alpha"] * 4 + ["beta"] * 3
    assert [d.doc_id for d in task.docs] == list(range(7))
    setup = load_setup("lm-eval/base").with_values({"fewshot.k": 2, "fewshot.sampler": "first_n"})
    builder = PromptBuilder(setup, task)
    assert [s.question for s in builder.shots(task.docs[5])] == ["B question 0?", "B question 1?"]
    streamed = PromptBuilder(setup.with_values({"fewshot.sampler": "stream"}), task)
    from lm_eval.api.samplers import ContextSampler

    beta = ContextSampler(_rows(5, "B"), rnd=1234)
    for doc in task.docs[4:]:
        assert [d.data for d in streamed.shots(doc)] == list(beta.sample(2))


def _hub_folder(root: Path, configs: dict[str, tuple[list[dict], list[dict]]]) -> Path:
    folder = root / "replica"
    lines = ["---", "configs:"]
    for name, (test, dev) in configs.items():
        (folder / name).mkdir(parents=True)
        lines += [f"- config_name: {name}", "  data_files:"]
        for split, rows in (("test", test), ("dev", dev)):
            (folder / name / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            lines += [f"  - split: {split}", f"    path: {name}/{split}.jsonl"]
    (folder / "README.md").write_text("\n".join(lines + ["---", "# a replica", ""]))
    return folder


def test_a_missing_config_or_split_names_what_the_readme_lists(tmp_path: Path) -> None:
    folder = _hub_folder(tmp_path, {"alpha": (_rows(2, "a"), _rows(2, "A"))})
    with pytest.raises(InputError, match='no config "gamma".*lists: alpha'):
        load_task(TaskSpec(hf=str(folder), subsets=("gamma",), kind="multiple_choice"))
    with pytest.raises(InputError, match='no split "validation".*it has: test, dev'):
        load_task(TaskSpec(hf=str(folder), subset="alpha", split="validation", kind="multiple_choice"))


def test_subset_and_subsets_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="task.subset and task.subsets are both set"):
        load_setup("lm-eval/mmlu").with_values({"task.subset": "anatomy"})


# -- processors --------------------------------------------------------------------------------


def test_arc_reads_numeric_labels_and_any_number_of_choices() -> None:
    row = {"question": "q", "choices": {"text": ["a", "b", "c"], "label": ["1", "2", "3"]}, "answerKey": "3"}
    assert PROCESSORS["arc"](row, "row 0")["answer"] == 2
    five = {"question": "q", "choices": {"text": list("abcde"), "label": list("ABCDE")}, "answerKey": "E"}
    assert PROCESSORS["arc"](five, "row 1")["choices"] == list("abcde")
    with pytest.raises(InputError, match="row 2: answerKey 'F'"):
        PROCESSORS["arc"]({**five, "answerKey": "F"}, "row 2")


def test_hellaswag_cleans_as_lm_eval_does() -> None:
    from lm_eval.tasks.hellaswag.utils import preprocess

    for text in (" Removing ice [title] Use a scraper. [step] Scrape  it.", "[header] How to x [title] y",
                 "plain text", "a  b   c [x] d"):
        assert hellaswag_clean(text) == preprocess(text)
    row = {"activity_label": "Roof", "ctx_a": "A man climbs.", "ctx_b": "then He [step] Nails", "label": "2",
           "endings": [" one [title] two", "three", "four", "five"]}
    doc = PROCESSORS["hellaswag"](row, "row 0")
    assert doc["question"] == preprocess("Roof: A man climbs. Then he [step] nails")   # capitalize() lowers the rest
    assert doc["choices"][0] == "one. two" and doc["answer"] == 2


def test_winogrande_partial_scoring_renders_lm_evals_contexts_and_continuation() -> None:
    from lm_eval.tasks.winogrande.preprocess_winogrande import doc_to_choice, doc_to_target

    rows = [{"sentence": f"Sam gave Alex a gift because _ was kind {i}.", "option1": "Sam", "option2": "Alex",
             "answer": "1" if i % 2 else "2"} for i in range(6)]
    processed = [PROCESSORS["winogrande"](r, f"row {i}") for i, r in enumerate(rows)]
    docs = tuple(Doc(i, p["question"], tuple(p["choices"]), (p["answer"],), "", p["target"], p)
                 for i, p in enumerate(processed))
    task = Task("w", "multiple_choice", docs[:3], docs[3:], "w")
    setup = load_setup("lm-eval/winogrande").with_values({"fewshot.k": 1, "fewshot.sampler": "first_n"})
    prompt = PromptBuilder(setup, task).render(docs[0])
    shot = rows[3]
    shot_text = doc_to_choice(shot)[int(shot["answer"]) - 1] + " " + doc_to_target(shot) + "\n\n"
    assert prompt.contexts == tuple(shot_text + c for c in doc_to_choice(rows[0]))
    assert prompt.continuations == (" " + doc_to_target(rows[0]),) * 2
    assert prompt.pair(1) == (prompt.contexts[1], prompt.continuations[1])
    assert prompt.context == prompt.contexts[1]   # rows[0] answers "2"


def test_partial_scoring_needs_text_targets() -> None:
    with pytest.raises(InputError, match='scoring.partial = true.*prompt.target = "text"'):
        load_setup("lm-eval/winogrande").with_values({"prompt.target": "label", "prompt.choice_labels": "A"})


# -- mc2 -------------------------------------------------------------------------------------------


def test_mc2_is_lm_evals_normalized_probability_mass_on_the_true_answers() -> None:
    from lm_eval.tasks.truthfulqa.utils import process_results_mc2

    lls = [-1.5, -0.7, -3.2, -2.0, -0.9]
    labels = [1, 1, 0, 0, 0]
    theirs = process_results_mc2({"mc2_targets": {"labels": labels}}, [(ll, False) for ll in lls])["acc"]
    assert score_choices("mc2", lls, ["a"] * 5, [0, 1]) == pytest.approx(theirs, abs=1e-12)


def test_mc2_stays_finite_where_exp_underflows() -> None:
    value = score_choices("mc2", [-900.0, -901.0, -905.0], ["a", "b", "c"], [0])
    assert math.isfinite(value) and value == pytest.approx(1 / (1 + np.exp(-1) + np.exp(-5)))
