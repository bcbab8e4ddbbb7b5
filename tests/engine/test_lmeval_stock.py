"""A catalog task's recorded config against lm-eval 0.4.13's own (profiles/lm-eval/stock.json).

Found by a review: a run whose arc_easy YAML was edited (another description or doc_to_text)
imported as the stock preset with no word, and without logged samples nothing compared them.
"""

from __future__ import annotations

import json

import pytest

from scoregap.engine.lmeval_setup import STOCK_FILE, reconstruct, stock_configs


def _arc(**changes) -> dict:
    stock = dict(stock_configs()["arc_easy"])
    stock.pop("version")
    return {"task": "arc_easy", "dataset_path": "allenai/ai2_arc", "num_fewshot": 0, **stock, **changes}


def test_a_stock_catalog_config_lists_nothing_and_an_edited_one_names_each_field():
    clean = reconstruct("arc_easy", {"arc_easy": _arc()}, {"versions": {"arc_easy": 1.0}}, "acc", "none")
    assert not [line for line in clean.unrepresentable if "arc_easy:" in line]
    edited = reconstruct("arc_easy", {"arc_easy": _arc(description="Science questions.\n\n", test_split="validation",
                                                       doc_to_text="Q: {{question}}\nA:")},
                         {"versions": {"arc_easy": 2.0}}, "acc", "none")
    lines = [line for line in edited.unrepresentable if line.startswith("arc_easy:")]
    assert [line.split(" is ")[0] for line in lines[:3]] == [
        "arc_easy: test_split", "arc_easy: description", "arc_easy: doc_to_text"]
    assert "lm-eval 0.4.13's is 'Question: {{question}}\\nAnswer:'" in lines[2]
    assert lines[3].startswith("arc_easy: task version 2.0, where the catalog reproduces lm-eval 0.4.13's version 1.0")
    assert edited.extends == "lm-eval/arc_easy"       # still the preset: these are said, not guessed at


def test_every_subject_of_a_group_is_compared_with_its_own_stock_config():
    stock = {k: v for k, v in stock_configs()["mmlu_anatomy"].items() if k != "version"}
    configs = {"mmlu_anatomy": {"task": "mmlu_anatomy", "dataset_path": "cais/mmlu", **stock},
               "mmlu_virology": {"task": "mmlu_virology", "dataset_path": "cais/mmlu",
                                 **stock_configs()["mmlu_anatomy"], "dataset_name": "virology"}}
    recon = reconstruct("mmlu", configs, {}, "acc", "none")
    lines = [line for line in recon.unrepresentable if line.startswith("mmlu_")]
    assert len(lines) == 1, lines
    assert lines[0].startswith("mmlu_virology: description is …'with answers) about anatomy.\\n\\n', lm-eval "
                               "0.4.13's is …'with answers) about virology.\\n\\n'")


def test_the_stock_file_is_what_the_installed_lm_eval_records():
    pytest.importorskip("lm_eval")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "scripts" / "make_lmeval_stock.py"
    spec = importlib.util.spec_from_file_location("make_lmeval_stock", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert json.loads(STOCK_FILE.read_text(encoding="utf-8")) == json.loads(json.dumps(module.build()))
