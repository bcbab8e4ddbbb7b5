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


# ---------------------------------------------------------------------------------------------
# Malformed input: a clear error naming the file and the line, never a traceback


@pytest.mark.parametrize(("line", "needle"), [
    ('question = ["q"]', "[fields] question must be a string"),
    ("gold = { a = 1 }", "[fields] gold must be a string"),
    ("choices = 3", "[fields] choices must be a string"),
])
def test_a_field_mapping_that_is_not_a_string(tmp_path: Path, line: str, needle: str) -> None:
    """Bug: a list or a table here was unhashable: TypeError from the row cache."""
    toml = MC_TASK.split("[fields]")[0] + "[fields]\n" + line + "\n"
    path = write_task(tmp_path, toml, {"mini.test.jsonl": _jsonl(_mc_rows(1)), "mini.dev.jsonl": ""})
    message = _error(path)
    assert f"{path}, line 6" in message and needle in message


@pytest.mark.parametrize(("old", "new", "line", "needle"), [
    ('name = "mini"', "name = {a = 1}", 1, "name must be a string"),
    ('name = "mini"', "name = 123", 1, "name must be a string"),
    ('name = "mini"', 'name = "mini"\ndescription = 5', 2, "description must be a string"),
    ('docs = "mini.test.jsonl"', "docs = 3", 3, "docs must be a file name"),
    ("[fields]", "fields = 3\n[other]", 5, "fields must be a table"),
])
def test_task_file_values_of_the_wrong_type(tmp_path: Path, old: str, new: str, line: int, needle: str) -> None:
    path = write_task(tmp_path, MC_TASK.replace(old, new), {"mini.test.jsonl": _jsonl(_mc_rows(1))})
    message = _error(path)
    assert f"{path}, line {line}" in message and needle in message


@pytest.mark.parametrize("key", ["docs", "fewshot"])
def test_a_data_file_that_is_a_directory(tmp_path: Path, key: str) -> None:
    """Bug: IsADirectoryError."""
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": _jsonl(_mc_rows(1)), "mini.dev.jsonl": ""})
    target = tmp_path / ("mini.test.jsonl" if key == "docs" else "mini.dev.jsonl")
    target.unlink()
    target.mkdir()
    message = _error(path)
    assert f'{path}, line {3 if key == "docs" else 4}: {key} =' in message and "is a directory" in message


def test_a_data_file_that_is_a_symlink_loop(tmp_path: Path) -> None:
    path = write_task(tmp_path, MC_TASK.replace("mini.test.jsonl", "loop.jsonl"), {})
    (tmp_path / "loop.jsonl").symlink_to("loop.jsonl")
    assert "symbolic link that loops" in _error(path)


def test_a_task_path_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    message = _error(tmp_path / "t")
    assert "is a directory" in message and "not found" not in message


def test_invalid_utf8_names_the_line_and_column(tmp_path: Path) -> None:
    path = write_task(tmp_path, MC_TASK, {"mini.dev.jsonl": ""})
    (tmp_path / "mini.test.jsonl").write_bytes(_jsonl(_mc_rows(1)).encode() + b'{"q": "caf\xe9"}\n')
    message = _error(path)
    assert f"{tmp_path / 'mini.test.jsonl'}, line 2" in message and "not valid UTF-8" in message
    assert "column 11" in message


def test_a_bom_and_line_separators_inside_strings_are_fine(tmp_path: Path) -> None:
    """A BOM (Windows tools) is dropped; U+2028 is legal inside a JSON string and must not split
    the line as str.splitlines would."""
    rows = _mc_rows(2)
    rows[0]["q"] = "first\u2028second\x0bthird"
    text = "\ufeff" + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": text, "mini.dev.jsonl": _jsonl(rows)})
    docs = _load(path).docs
    assert len(docs) == 2 and docs[0].question == "first\u2028second\x0bthird"


def test_windows_line_ends_are_fine(tmp_path: Path) -> None:
    text = "".join(json.dumps(r) + "\r\n" for r in _mc_rows(3)) + "\r\n"
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": text, "mini.dev.jsonl": text})
    assert [d.question for d in _load(path).docs] == ["Question 0?", "Question 1?", "Question 2?"]


def test_a_value_nested_100000_deep(tmp_path: Path) -> None:
    """Bug: RecursionError from json."""
    row = '{"q": "x", "options": ["a"], "label": 0, "deep": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": _jsonl(_mc_rows(1)) + row, "mini.dev.jsonl": ""})
    message = _error(path)
    assert "line 2" in message and "nested too deeply" in message


@pytest.mark.parametrize(("row", "field"), [
    ('{"q": "a \\ud800 b", "options": ["a"], "label": 0}', '"q"'),
    ('{"q": "x", "options": ["a", "\\udfff"], "label": 0}', '"options[1]"'),
    ('{"q": "x", "options": ["a"], "label": 0, "meta": {"note": "\\ud83d"}}', '"meta.note"'),
])
def test_a_lone_surrogate_names_line_and_field(tmp_path: Path, row: str, field: str) -> None:
    """Bug: accepted at load, then a UnicodeEncodeError when requests were hashed."""
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": row + "\n", "mini.dev.jsonl": ""})
    message = _error(path)
    assert "line 1" in message and f"field {field}" in message and "lone surrogate" in message


def test_a_surrogate_pair_is_one_character_and_fine(tmp_path: Path) -> None:
    row = '{"q": "smile \\ud83d\\ude00", "options": ["a"], "label": 0}\n'
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": row, "mini.dev.jsonl": row})
    assert _load(path).docs[0].question == "smile \U0001f600"


@pytest.mark.parametrize(("answers", "needle"), [
    ("NaN", "not a finite number"), ("[Infinity]", "not a finite number"), ('["4", -Infinity]', "not a finite"),
    ("2.5", 'write "2.5"'), ("[true]", "answer string"), ("null", "answer string"), ("[]", "answer string"),
])
def test_generate_golds_must_be_strings_or_integers(tmp_path: Path, answers: str, needle: str) -> None:
    """Bug: NaN and [Infinity] became the answers "nan" and "inf"."""
    row = '{"question": "?", "answers": ' + answers + "}\n"
    path = write_task(tmp_path, GEN_TASK, {"gen.test.jsonl": row, "gen.dev.jsonl": row})
    message = _error(path)
    assert "line 1" in message and '"answers"' in message and needle in message


@pytest.mark.parametrize(("change", "needle"), [
    ({"topic": ["math"]}, 'field "topic" (the subtask) must be a string'),
    ({"topic": None}, 'field "topic" (the subtask) must be a string'),
])
def test_a_subtask_must_be_text(tmp_path: Path, change: dict, needle: str) -> None:
    row = {**_mc_rows(1)[0], **change}
    path = write_task(tmp_path, MC_TASK, {"mini.test.jsonl": _jsonl([row]), "mini.dev.jsonl": ""})
    assert needle in _error(path)


def test_a_written_answer_must_be_text(tmp_path: Path) -> None:
    row = {"question": "?", "answers": "4", "worked": {"steps": 2}}
    path = write_task(tmp_path, GEN_TASK, {"gen.test.jsonl": _jsonl([row]), "gen.dev.jsonl": ""})
    assert 'field "worked" (the written answer) must be a string' in _error(path)


def test_each_doc_knows_where_it_is_written(mc_task: Path) -> None:
    docs = _load(mc_task).docs
    assert docs[2].source == f"{mc_task.parent / 'mini.test.jsonl'}, line 3"
