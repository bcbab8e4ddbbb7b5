"""Hub tasks go through `datasets` with the setup's field mapping (here: a local dataset folder,
which `datasets.load_dataset` reads exactly as it reads a cached hub dataset)."""

from __future__ import annotations

import json

import pytest

from scoregap.engine.errors import InputError
from scoregap.engine.setup import TaskSpec
from scoregap.engine.tasks import load_task

pytest.importorskip("datasets")


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def dataset_dir(tmp_path):
    folder = tmp_path / "toy-mc"
    folder.mkdir()
    rows = [{"q": f"What is {i} plus 1?", "opts": [str(i + 1), str(i + 2)], "label": 0, "topic": "add"}
            for i in range(6)]
    _write(folder / "test.jsonl", rows)
    _write(folder / "train.jsonl", rows[:2])
    return folder


def test_hub_task_uses_the_field_mapping_and_the_fewshot_split(dataset_dir):
    spec = TaskSpec(hf=str(dataset_dir), split="test", fewshot_split="train", kind="multiple_choice",
                    fields=(("choices", "opts"), ("gold", "label"), ("question", "q"), ("subtask", "topic")))
    task = load_task(spec)
    assert len(task.docs) == 6 and len(task.fewshot) == 2
    assert task.docs[3].question == "What is 3 plus 1?"
    assert task.docs[3].choices == ("4", "5") and task.docs[3].gold == (0,)
    assert task.subtasks == ("add",)
    assert not task.fewshot_is_docs


def test_hub_task_without_a_fewshot_split_draws_shots_from_the_docs(dataset_dir):
    spec = TaskSpec(hf=str(dataset_dir), split="test", kind="multiple_choice",
                    fields=(("choices", "opts"), ("gold", "label"), ("question", "q")))
    assert load_task(spec).fewshot_is_docs


def test_hub_task_errors_name_the_dataset_and_what_to_set(dataset_dir):
    with pytest.raises(InputError, match="task.kind"):
        load_task(TaskSpec(hf=str(dataset_dir)))
    with pytest.raises(InputError, match="could not be loaded"):
        load_task(TaskSpec(hf=str(dataset_dir / "missing"), kind="multiple_choice"))
    with pytest.raises(InputError, match='no field "question"'):
        load_task(TaskSpec(hf=str(dataset_dir), kind="multiple_choice", fields=(("choices", "opts"),)))
