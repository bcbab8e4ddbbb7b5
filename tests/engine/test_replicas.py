"""The hub replicas (`scripts/make_replicas.py`) load through `datasets.load_dataset(folder, config,
split=...)` as the real datasets do: same columns, same types, and the quirks lm-eval's task code
works around (numeric ARC labels, WikiHow brackets, whitespace around MMLU questions, "#### 1,200")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

datasets = pytest.importorskip("datasets")  # brings pyarrow, which the generator needs too

import pyarrow as pa
from replicas import MMLU_SUBJECTS, REPLICAS, write_replicas

STR, INT = "str", "int"
COLUMNS = {
    "allenai/ai2_arc": {"id": STR, "question": STR, "choices": {"text": [STR], "label": [STR]}, "answerKey": STR},
    "Rowan/hellaswag": {"ind": INT, "activity_label": STR, "ctx_a": STR, "ctx_b": STR, "ctx": STR,
                        "endings": [STR], "source_id": STR, "split": STR, "split_type": STR, "label": STR},
    "cais/mmlu": {"question": STR, "subject": STR, "choices": [STR], "answer": INT},
    "openai/gsm8k": {"question": STR, "answer": STR},
    "allenai/winogrande": {"sentence": STR, "option1": STR, "option2": STR, "answer": STR},
    "truthfulqa/truthful_qa": {"question": STR, "mc1_targets": {"choices": [STR], "labels": [INT]},
                               "mc2_targets": {"choices": [STR], "labels": [INT]}},
    "baber/piqa": {"goal": STR, "sol1": STR, "sol2": STR, "label": INT},
}


def _shape(value: object) -> object:
    """A loaded value's shape as lm-eval's templates see it: str, int, [item shape] or {key: shape}."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return {str: STR, int: INT}.get(type(value), type(value).__name__)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_replicas(tmp_path_factory.mktemp("hub"))


@pytest.fixture(scope="module")
def loaded(folders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], list]:
    """(hub id, config, split) -> the rows `load_dataset` gives back, offline, with a cache of its own."""
    cache = str(tmp_path_factory.mktemp("datasets-cache"))
    tables = {(r.hub_id, config, split): datasets.load_dataset(str(folders[r.hub_id]), config, split=split,
                                                               cache_dir=cache)
              for r in REPLICAS for config in r.configs for split in r.splits}
    return {key: {"schema": table.data.schema, "rows": list(table)} for key, table in tables.items()}


def _rows(loaded: dict, hub_id: str) -> dict[tuple[str, str], list[dict]]:
    return {(config, split): got["rows"] for (hid, config, split), got in loaded.items() if hid == hub_id}


def test_every_config_and_split_loads_with_the_hub_columns_and_types(loaded):
    for replica in REPLICAS:
        for config in replica.configs:
            for split, count in replica.counts:
                got = loaded[replica.hub_id, config, split]
                assert got["schema"].names == list(COLUMNS[replica.hub_id]), (replica.hub_id, config, split)
                assert len(got["rows"]) == count
                for row in got["rows"]:
                    assert _shape(row) == COLUMNS[replica.hub_id], (replica.hub_id, config, split, row)


def test_integer_widths_are_the_hubs(loaded):
    def column(hub_id: str, config: str, split: str, name: str) -> pa.DataType:
        return loaded[hub_id, config, split]["schema"].field(name).type

    assert column("Rowan/hellaswag", "default", "train", "ind") == pa.int32()
    assert column("cais/mmlu", "abstract_algebra", "test", "answer") == pa.int64()
    assert column("baber/piqa", "default", "train", "label") == pa.int64()
    labels = column("truthfulqa/truthful_qa", "multiple_choice", "validation", "mc2_targets").field("labels")
    assert labels.type.value_type == pa.int32()


def test_the_cards_use_the_hub_layout(folders):
    card = (folders["allenai/ai2_arc"] / "README.md").read_text()
    assert "- config_name: ARC-Easy\n  data_files:\n  - split: train\n    path: ARC-Easy/train-*\n" in card
    assert (folders["allenai/ai2_arc"] / "ARC-Challenge" / "test-00000-of-00001.parquet").is_file()
    assert (folders["Rowan/hellaswag"] / "data" / "validation-00000-of-00001.parquet").is_file()
    assert "config_name: default" in (folders["baber/piqa"] / "README.md").read_text()


def test_arc_has_numeric_labels_three_and_five_choices_in_every_split(loaded):
    for (config, split), rows in _rows(loaded, "allenai/ai2_arc").items():
        labels = [row["choices"]["label"] for row in rows]
        assert ["1", "2", "3", "4"] in labels and ["A", "B", "C"] in labels
        assert ["A", "B", "C", "D", "E"] in labels, (config, split)
        assert all(len(row["choices"]["text"]) == len(row["choices"]["label"]) for row in rows)
        golds = [row["choices"]["label"].index(row["answerKey"]) for row in rows]
        assert len(set(golds)) > 1
    assert len(_rows(loaded, "allenai/ai2_arc")["ARC-Challenge", "train"]) >= 30


def test_hellaswag_keeps_the_wikihow_artifacts_and_string_labels(loaded):
    rows = _rows(loaded, "Rowan/hellaswag")
    for split in ("train", "validation"):
        assert {row["label"] for row in rows["default", split]} <= {"0", "1", "2", "3"}
        assert len({row["label"] for row in rows["default", split]}) > 1
    assert {row["label"] for row in rows["default", "test"]} == {""}
    for split_rows in rows.values():
        assert all(len(row["endings"]) == 4 for row in split_rows)
        assert any(" [title]" in row["ctx"] and "[header]" in row["ctx"] and "[step]" in row["ctx"]
                   for row in split_rows)
        assert any(" [title]" in ending for row in split_rows for ending in row["endings"])
        assert any("  " in row["ctx"] or any("  " in e for e in row["endings"]) for row in split_rows)
        assert any(row["ctx_b"] == "" and row["ctx"] == row["ctx_a"] for row in split_rows)
        assert any(row["ctx_b"][:1].islower() and row["ctx"] == f"{row['ctx_a']} {row['ctx_b']}"
                   for row in split_rows)


def test_mmlu_has_the_named_subjects_five_dev_rows_and_questions_to_strip(loaded):
    rows = _rows(loaded, "cais/mmlu")
    assert {config for config, _ in rows} == set(MMLU_SUBJECTS)
    for subject in MMLU_SUBJECTS:
        assert len(rows[subject, "dev"]) == 5
        assert all(row["subject"] == subject and len(row["choices"]) == 4 for rows_ in
                   (rows[subject, s] for s in ("dev", "validation", "test")) for row in rows_)
        assert any(row["question"] != row["question"].strip() for row in rows[subject, "test"])
        assert {row["answer"] for row in rows[subject, "test"]} <= {0, 1, 2, 3}
        assert len({row["answer"] for row in rows[subject, "test"]}) > 1


def test_gsm8k_answers_are_worked_with_annotations_and_a_final_line(loaded):
    final = re.compile(r"#### (\-?[0-9\.\,]+)$")  # lm-eval's strict-match pattern, anchored at the end
    for (_, split), rows in _rows(loaded, "openai/gsm8k").items():
        answers = [final.search(row["answer"]).group(1) for row in rows]
        assert all(re.search(r"<<[^=>]+=[^>]+>>", row["answer"]) for row in rows)
        assert any("," in a for a in answers) and any(a.startswith("-") for a in answers), split
        assert any("." in a for a in answers), split


def test_winogrande_has_one_blank_and_both_answers(loaded):
    for rows in _rows(loaded, "allenai/winogrande").values():
        assert all(row["sentence"].count("_") == 1 for row in rows)
        assert {row["answer"] for row in rows} == {"1", "2"}


def test_truthfulqa_targets_put_the_true_answers_first(loaded):
    rows = loaded["truthfulqa/truthful_qa", "multiple_choice", "validation"]["rows"]
    for row in rows:
        mc1, mc2 = row["mc1_targets"]["labels"], row["mc2_targets"]["labels"]
        assert mc1 == [1] + [0] * (len(mc1) - 1)
        ones = mc2.count(1)
        assert ones >= 2 and mc2 == [1] * ones + [0] * (len(mc2) - ones)
    assert len({len(row["mc2_targets"]["choices"]) for row in rows}) > 1


def test_piqa_labels_are_both_zero_and_one(loaded):
    for rows in _rows(loaded, "baber/piqa").values():
        assert {row["label"] for row in rows} == {0, 1}


def test_rewriting_is_byte_identical_writes_only_what_is_named_and_stays_small(folders, tmp_path):
    again = write_replicas(tmp_path, only=["cais/mmlu", "baber__piqa"])
    assert list(again) == ["cais/mmlu", "baber/piqa"]
    for hub_id, folder in again.items():
        for path in folder.rglob("*"):
            if path.is_file():
                assert path.read_bytes() == (folders[hub_id] / path.relative_to(folder)).read_bytes()
    total = sum(path.stat().st_size for folder in folders.values() for path in folder.rglob("*") if path.is_file())
    assert total < 1_000_000


def test_an_unknown_replica_name_says_which_it_might_mean(tmp_path):
    with pytest.raises(ValueError, match='Did you mean "cais/mmlu"'):
        write_replicas(tmp_path, only=["cais/mmul"])
