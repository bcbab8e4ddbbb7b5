"""`scoregap benchmarks` (the catalog as a table within 80 columns, and as JSON), and `scoregap
eval` on a catalog benchmark without the hub: one paragraph saying how to use a local copy, and
that advice, followed, evaluates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scoregap.engine.catalog import entries
from scoregap.tui.cli import benchmarks_table, main


def test_the_table_lists_every_benchmark_within_80_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmarks"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].split() == ["name", "split", "docs", "shots", "metric", "codebase", "presets"]
    for e in entries():
        row = next(line for line in lines if line.startswith(e.name + " "))
        assert row.split()[1:5] == [e.split, str(e.docs), str(e.k), e.metric]
        assert f"  {e.hf}" in lines[lines.index(row) + 1]          # the hub id under the name
    mmlu = "\n".join(lines[lines.index(next(li for li in lines if li.startswith("lm-eval/mmlu "))):])
    assert "57 configs" in mmlu and "helm," in mmlu and "lighteval," in mmlu
    assert 'yours.setup = "lm-eval/mmlu"' in " ".join(lines)


def test_the_presets_column_wraps_between_names_and_shortens_them() -> None:
    from dataclasses import replace

    arc = next(e for e in entries() if e.name == "lm-eval/arc_challenge")
    wide = replace(arc, codebases=("harness-2023/arc_challenge", "helm/arc_challenge", "lighteval/arc_challenge",
                                   "olmes/arc_challenge", "olmes/arc_challenge_cloze", "other/arc_challenge_2023_v"),
                   leaderboard="leaderboard/arc_challenge")
    lines = benchmarks_table([wide]).splitlines()
    assert max(len(line) for line in lines) <= 80
    column = lines[0].index("codebase presets")
    shown = [line[column:] for line in lines[2:] if len(line) > column and line[column - 1] == " "]
    items = [item.strip() for part in shown for item in part.split(",") if item.strip()]
    assert items == ["harness-2023", "helm", "lighteval", "olmes", "olmes (cloze)", "other (2023_v)", "leaderboard"]


def test_the_readme_shows_the_catalog_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    """README.md pastes `scoregap benchmarks`; a preset added or changed means pasting it again."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    begin, end = "<!-- scoregap benchmarks: begin -->\n```text\n", "\n```\n<!-- scoregap benchmarks: end -->"
    assert begin in readme and end in readme
    pasted = readme[readme.index(begin) + len(begin):readme.index(end)]
    assert main(["benchmarks"]) == 0
    assert pasted == capsys.readouterr().out.rstrip("\n"), (
        "README.md's catalog is stale: paste the output of `scoregap benchmarks` between its markers")


def test_json_is_every_field_of_every_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmarks", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == [e.name for e in entries()]
    mmlu = next(d for d in data if d["name"] == "lm-eval/mmlu")
    assert mmlu["hf"] == "cais/mmlu" and len(mmlu["configs"]) == 57 and mmlu["docs"] == 14042
    assert set(mmlu) == {"name", "benchmark", "hf", "configs", "split", "fewshot_split", "kind", "k", "metric",
                         "docs", "codebases", "leaderboard"}


def test_eval_on_a_catalog_benchmark_offline_says_to_use_a_local_copy(
        tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("datasets")
    code = main(["eval", "lm-eval/arc_challenge", "--model", str(tiny_model), "--cache-dir", str(tmp_path),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("scoregap: error: ") and "\n\n" not in err.strip() and "Traceback" not in err
    paragraph = " ".join(err.split())
    assert 'Hub dataset "allenai/ai2_arc"' in paragraph
    assert "set task.hf to a folder in the hub layout" in paragraph
    assert "a setup that extends this one" in paragraph and 'hf = "/data/ai2_arc"' in paragraph
    assert "hf download allenai/ai2_arc --repo-type dataset --local-dir /data/ai2_arc" in paragraph


def test_the_advice_followed_evaluates_a_local_copy(tiny_model: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pyarrow")
    from replicas import write_replicas

    folder = write_replicas(tmp_path / "hub", only=["allenai/ai2_arc"])["allenai/ai2_arc"]
    setup = tmp_path / "arc-local.toml"
    setup.write_text(f'extends = "lm-eval/arc_challenge"\n\n[task]\nhf = "{folder}"\n', encoding="utf-8")
    code = main(["eval", str(setup), "--model", str(tiny_model), "--limit", "4", "--cache-dir", str(tmp_path),
                 "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "arc_challenge  acc = " in captured.out and "n=4" in captured.out
