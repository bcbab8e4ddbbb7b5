"""Reports hold strings scoregap did not write — task and model names, system prompts, variant
names, model outputs — and must stay inert: report.md is rendered here by a real CommonMark
renderer (markdown-it-py) with hostile payloads in each place, and must keep its own structure."""

from __future__ import annotations

from pathlib import Path

import tomli_w
import tomllib
from fakeworld import write_fake_model, write_mc_task, write_session, write_setup
from markdown_it import MarkdownIt

from scoregap.checks import CHECKS
from scoregap.engine.lmeval_export import safe_name
from scoregap.engine.report_formats import md
from scoregap.engine.run import DiagnosisRun
from scoregap.engine.session import load_session

PAYLOAD = "x\n# injected heading\n```\n<script>alert(1)</script><img src=x onerror=alert(2)>\n````sh\n| a | b |"


def hostile_report(tmp_path: Path) -> dict:
    task = write_mc_task(tmp_path / "task", n_docs=40)
    data = tomllib.loads(task.read_text())
    data["name"] = f"evil {PAYLOAD}"                             # the task's name
    task.write_text(tomli_w.dumps(data))
    model = write_fake_model(tmp_path / "model ``` #x", task, chat_template=True)   # the model's path
    yours = write_setup(tmp_path / "yours.toml", task, **{"chat.apply_template": True,
                                                           "chat.system_prompt": PAYLOAD})
    session = write_session(tmp_path / "session.toml", model, yours, reported_score=0.9,
                            checks=("metric", "template"), cache_dir=tmp_path / "cache")
    run = DiagnosisRun.open(load_session(session), cache=tmp_path / "cache", checks=CHECKS)
    return run.run_all(), run


def test_hostile_strings_cannot_change_the_structure_of_report_md(tmp_path: Path) -> None:
    report, run = hostile_report(tmp_path)
    run.write_reports(tmp_path / "report", ["md"])
    text = (tmp_path / "report" / "report.md").read_text()
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert sum(1 for t in tokens if t.type == "heading_open" and t.tag == "h1") == 1
    assert not any("injected heading" in h and not h.startswith("scoregap diagnosis") for h in headings)
    html_out = MarkdownIt("commonmark").enable("table").render(text)
    assert "<script>" not in html_out and "<img" not in html_out
    fences = {t.info: t.content for t in tokens if t.type == "fence"}
    assert PAYLOAD.split("\n")[0] in fences["sh"] and "alert(1)" in fences["sh"]   # the whole command, in its fence
    assert "injected heading" in fences["toml"]                                  # the system prompt stays code


def test_inline_escaping_keeps_the_text_readable() -> None:
    assert md("labels (A)") == "labels (A)"
    assert md("a|b\n# c") == "a\\|b # c"
    assert md("<b>") == "\\<b\\>"


def test_task_names_never_become_paths() -> None:
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("mmlu high-school") == "mmlu_high_school" and safe_name("///") == "task"
