"""Local tasks: docs, few-shot pool, subtasks, and row errors that name the file and the line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scoregap.engine.errors import InputError
from scoregap.engine.presets import load_setup
from scoregap.engine.setup import TaskSpec
from scoregap.engine.tasks import load_task

MC_TASK = """\
name = "mini"
kind = "multiple_choice"
docs = "mini.test.jsonl"
fewshot = "mini.dev.jsonl"
[fields]
question = "q"
choices = "options"
gold = "label"
subtask = "topic"
"""

GEN_TASK = """\
name = "gen"
kind = "generate"
docs = "gen.test.jsonl"
fewshot = "gen.dev.jsonl"
[fields]
gold = "answers"
target = "worked"
"""


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def _mc_rows(n: int, topic: str = "math") -> list[dict]:
    return [{"q": f"Question {i}?", "options": ["w", "x", "y", "z"], "label": i % 4, "topic": topic,
             "source": f"book {i}"} for i in range(n)]


def write_task(folder: Path, toml: str, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "task.toml"
    path.write_text(toml, encoding="utf-8")
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return path


def _load(path: Path, **spec: object):  # noqa: ANN202
    return load_task(TaskSpec(path=str(path), **spec))  # type: ignore[arg-type]


def _error(path: Path, **spec: object) -> str:
    with pytest.raises(InputError) as info:
        _load(path, **spec)
    return str(info.value)


@pytest.fixture
def mc_task(tmp_path: Path) -> Path:
    docs = _mc_rows(3, "math") + _mc_rows(2, "history")
    return write_task(tmp_path / "mc", MC_TASK, {
        "mini.test.jsonl": _jsonl(docs),
        "mini.dev.jsonl": _jsonl(_mc_rows(4, "dev")),
    })


def test_local_task_loads_docs_pool_and_subtasks(mc_task: Path) -> None:
    task = _load(mc_task)
    assert task.name == "mini" and task.kind == "multiple_choice"
    assert [d.doc_id for d in task.docs] == [0, 1, 2, 3, 4]
    assert len(task.fewshot) == 4
    assert not task.fewshot_is_docs
    first = task.docs[0]
    assert first.question == "Question 0?"
    assert first.choices == ("w", "x", "y", "z")
    assert first.gold == (0,)
    assert task.docs[3].gold == (0,) and task.docs[2].gold == (2,)
    assert first.subtask == "math"
    assert task.subtasks == ("history", "math")
    assert task.source == str(mc_task)


def test_extra_doc_fields_are_kept_for_templates(mc_task: Path) -> None:
    doc = _load(mc_task).docs[1]
    assert doc.data["source"] == "book 1"
    assert doc.data["q"] == "Question 1?"
    assert doc.data["topic"] == "math"


def test_gold_may_be_a_list_of_indices(tmp_path: Path) -> None:
    rows = [{"q": "?", "options": ["a", "b", "c"], "label": [0, 2]}]
    path = write_task(tmp_path, MC_TASK.replace('fewshot = "mini.dev.jsonl"\n', ""),
                      {"mini.test.jsonl": _jsonl(rows)})
    task = _load(path)
    assert task.docs[0].gold == (0, 2)
    assert task.fewshot == ()
    assert task.docs[0].subtask == ""


def test_blank_lines_are_skipped_and_ids_stay_dense(tmp_path: Path) -> None:
    rows = _mc_rows(2)
    text = "\n" + json.dumps(rows[0]) + "\n\n   \n" + json.dumps(rows[1]) + "\n"
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": text, "mini.dev.jsonl": _jsonl(rows)})
    assert [d.doc_id for d in _load(path).docs] == [0, 1]


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    rows = _mc_rows(3)
    text = json.dumps(rows[0]) + "\n\n" + '{"q": "broken", \n' + json.dumps(rows[2]) + "\n"
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": text, "mini.dev.jsonl": _jsonl(rows)})
    message = _error(path)
    assert f"{tmp_path / 'mini.test.jsonl'}, line 3" in message
    assert "not valid JSON" in message


def test_bad_json_in_the_fewshot_pool_names_that_file(tmp_path: Path) -> None:
    rows = _mc_rows(2)
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": _jsonl(rows),
                                          "mini.dev.jsonl": _jsonl(rows) + "nope\n"})
    assert f"{tmp_path / 'mini.dev.jsonl'}, line 3" in _error(path)


def test_a_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": "[1, 2]\n", "mini.dev.jsonl": ""})
    assert "line 1: each line must be a JSON object" in _error(path)


def test_missing_field_names_the_field_and_line(tmp_path: Path) -> None:
    rows = _mc_rows(3)
    del rows[1]["label"]
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": _jsonl(rows),
                                          "mini.dev.jsonl": _jsonl(_mc_rows(1))})
    message = _error(path)
    assert "line 2" in message
    assert '"label"' in message and '"gold"' in message
    assert "q, options, topic, source" in message  # what the row does have


def test_gold_index_out_of_range(tmp_path: Path) -> None:
    rows = _mc_rows(2)
    rows[1]["label"] = 4
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": _jsonl(rows),
                                          "mini.dev.jsonl": _jsonl(_mc_rows(1))})
    message = _error(path)
    assert "line 2" in message
    assert "gold index 4 is out of range" in message
    assert "4 choices" in message


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"label": -1}, "gold index -1 is out of range"),
        ({"label": "A"}, "must be a choice index"),
        ({"label": True}, "must be a choice index"),
        ({"label": []}, "must be a choice index"),
        ({"options": []}, "non-empty list of strings"),
        ({"options": ["a", 2]}, "non-empty list of strings"),
        ({"q": 3}, 'field "q" must be a string'),
    ],
)
def test_unusable_rows_are_errors(tmp_path: Path, change: dict, needle: str) -> None:
    row = {**_mc_rows(1)[0], **change}
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": _jsonl([row]),
                                          "mini.dev.jsonl": _jsonl(_mc_rows(1))})
    message = _error(path)
    assert needle in message and "line 1" in message


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_docs_file_is_an_error(tmp_path: Path, text: str) -> None:
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": text, "mini.dev.jsonl": _jsonl(_mc_rows(1))})
    message = _error(path)
    assert str(tmp_path / "mini.test.jsonl") in message
    assert "no docs" in message


def test_missing_files_are_input_errors(tmp_path: Path) -> None:
    assert "task file not found" in _error(tmp_path / "absent.toml")
    path = write_task(tmp_path, MC_TASK, {"mini.dev.jsonl": _jsonl(_mc_rows(1))})
    assert "data file not found" in _error(path)


def test_task_file_keys_are_checked(tmp_path: Path) -> None:
    path = write_task(tmp_path / "a", MC_TASK.replace("docs =", "doc ="), {})
    assert 'Did you mean "docs"?' in _error(path)
    path = write_task(tmp_path / "b", MC_TASK.replace('"multiple_choice"', '"mcq"'), {})
    assert "kind must be" in _error(path)
    path = write_task(tmp_path / "c", MC_TASK.replace('subtask = "topic"', 'subtsk = "topic"'), {})
    assert 'Did you mean "subtask"?' in _error(path)


def test_no_task_in_the_setup_is_an_input_error() -> None:
    with pytest.raises(InputError, match="names no task"):
        load_task(TaskSpec())


def test_generate_task_golds_are_answer_lists(tmp_path: Path) -> None:
    rows = [
        {"question": "2+2?", "answers": ["4", "four"], "worked": "2 plus 2 is 4."},
        {"question": "Capital?", "answers": "Paris"},
        {"question": "Number?", "answers": 7, "worked": "Seven."},
    ]
    path = write_task(tmp_path, GEN_TASK, {"gen.test.jsonl": _jsonl(rows), "gen.dev.jsonl": _jsonl(rows)})
    docs = _load(path).docs
    assert docs[0].gold == ("4", "four")
    assert docs[0].target == "2 plus 2 is 4."       # the written-out answer for shots
    assert docs[0].choices == ()
    assert docs[1].gold == ("Paris",)
    assert docs[1].target == "Paris"                # no target field: the first gold
    assert docs[2].gold == ("7",)


def test_generate_gold_must_be_answers(tmp_path: Path) -> None:
    rows = [{"question": "?", "answers": {"a": 1}}]
    path = write_task(tmp_path, GEN_TASK, {"gen.test.jsonl": _jsonl(rows), "gen.dev.jsonl": _jsonl(rows)})
    assert "answer string or a list of them" in _error(path)


def test_setup_can_override_kind_and_fields(tmp_path: Path) -> None:
    rows = [{"prompt": "Say hi", "choices": ["hi"], "answer": 0, "reply": "hi"}]
    toml = 'kind = "multiple_choice"\ndocs = "d.jsonl"\n'
    path = write_task(tmp_path, toml, {"d.jsonl": _jsonl(rows)})
    task = _load(path, kind="generate", fields=(("gold", "reply"), ("question", "prompt")))
    assert task.kind == "generate"
    assert task.name == "task"                      # no name: the file's stem
    assert task.docs[0].question == "Say hi" and task.docs[0].gold == ("hi",)


def test_bundled_arith_task_loads_through_its_preset() -> None:
    setup = load_setup("samples/arith")
    task = load_task(setup.task)
    assert task.kind == "multiple_choice"
    assert len(task.docs) == 200 and len(task.fewshot) == 20
    assert all(len(d.choices) == 4 for d in task.docs)
    assert task.subtasks


def test_an_edited_docs_file_is_read_again(mc_task: Path) -> None:
    assert len(_load(mc_task).docs) == 5
    docs = mc_task.parent / "mini.test.jsonl"
    docs.write_text(_jsonl(_mc_rows(2)), encoding="utf-8")
    stat = docs.stat()
    os.utime(docs, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000_000))
    assert len(_load(mc_task).docs) == 2
