"""A setup gets a lighteval task line only when it is lighteval's task (few-shot count aside)."""

from __future__ import annotations

from scoregap.engine.lighteval_export import lighteval_line
from scoregap.engine.presets import load_setup
from scoregap.engine.report_formats import lighteval_text


def test_lightevals_own_task_with_any_shot_count_is_one_line():
    setup = load_setup("lighteval/arc_challenge").with_values({"fewshot.k": 5, "loading.batch_size": 8})
    assert lighteval_line(setup).line == "lighteval|arc:challenge|5|0"


def test_a_setup_that_departs_from_lightevals_task_names_the_keys_instead():
    line = lighteval_line(load_setup("lm-eval/arc_challenge"))
    assert line.line == "" and "scoring.metric" in line.differs
    assert "scoring.metric" in lighteval_text({"reproduce": {"lighteval": "", "lighteval_differs": list(line.differs)}})
    assert lighteval_line(load_setup("samples/arith")).differs[0].startswith("task.benchmark")
