"""`scoregap eval` in-process: the files it writes, and one clear paragraph for every bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scoregap.engine.errors import InputError
from scoregap.tui.cli import main

ARITH = 'extends = "samples/arith"\n'


def _eval(*args: str, cache_dir: Path) -> int:
    return main(["eval", *args, "--cache-dir", str(cache_dir), "--quiet"])


def _task(folder: Path, rows: list[Any], kind: str = "multiple_choice") -> Path:
    """A local task (TOML + docs) and a setup next to it; returns the setup."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "t.toml").write_text(f'name = "t"\nkind = "{kind}"\ndocs = "t.jsonl"\n', encoding="utf-8")
    (folder / "t.jsonl").write_text("".join(
        (r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    setup = folder / "setup.toml"
    setup.write_text('[task]\npath = "t.toml"\n', encoding="utf-8")
    return setup


GOOD_ROW = {"question": "What is 2 plus 3?", "choices": ["four", "five"], "answer": 1}


def test_eval_writes_results_and_samples(tiny_model: Path, write_setup, tmp_path: Path, capsys) -> None:
    setup = write_setup(ARITH)
    out = tmp_path / "out"
    code = _eval(str(setup), "--model", str(tiny_model), "--limit", "8", "--out", str(out),
                 cache_dir=tmp_path / "cache")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "acc = " in captured.out and "n=8" in captured.out

    results = json.loads((out / "results.json").read_text())
    for key in ("score", "metric", "n", "stderr", "setup", "environment"):
        assert key in results
    assert results["metric"] == "acc"
    assert results["n"] == 8
    assert 0.0 <= results["score"] <= 1.0
    assert results["setup"]["fewshot"]["k"] == 0                       # fully resolved
    assert results["setup"]["prompt"]["choice_labels"] == "A"          # from lm-eval/mmlu
    assert results["environment"]["torch"]

    lines = (out / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 8
    rows = [json.loads(line) for line in lines]
    assert [r["doc_id"] for r in rows] == list(range(8))
    for row in rows:
        for key in ("doc_id", "prompt", "loglikelihoods", "is_greedy", "extracted", "gold", "scores"):
            assert key in row
        assert len(row["loglikelihoods"]) == len(row["is_greedy"]) == 4
        assert isinstance(row["gold"], int)
        assert row["scores"]["acc"] in (0.0, 1.0)
        assert row["extracted"] in range(4)
        assert row["prompt"].endswith("\nAnswer:")
    assert rows[0]["prompt"] == (
        "The following are multiple choice questions (with answers) about addition.\n\n"
        "What is 46 plus 51?\nA. ninety-eight\nB. eighty-seven\nC. ninety-seven\n"
        "D. one hundred and seven\nAnswer:"
    )
    assert results["score"] == pytest.approx(sum(r["scores"]["acc"] for r in rows) / 8)

    # Run again: everything comes from the cache, same numbers.
    again = tmp_path / "again"
    assert _eval(str(setup), "--model", str(tiny_model), "--limit", "8", "--out", str(again),
                 cache_dir=tmp_path / "cache") == 0
    assert "0 model calls, 32 cached" in capsys.readouterr().out
    assert json.loads((again / "results.json").read_text())["score"] == results["score"]
    assert (again / "samples.jsonl").read_text() == (out / "samples.jsonl").read_text()


def test_eval_generate_task_writes_generations(tiny_model: Path, write_setup, tmp_path: Path, capsys) -> None:
    setup = write_setup('extends = "samples/facts"\n')
    out = tmp_path / "out"
    code = _eval(str(setup), "--model", str(tiny_model), "--limit", "4", "--out", str(out),
                 cache_dir=tmp_path / "cache")
    assert code == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert results["metric"] == "exact_match" and results["n"] == 4
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 4
    for row in rows:
        assert isinstance(row["generation"], str)
        assert row["finish_reason"] in ("stop", "eos", "length")
        assert "\n" not in row["generation"] and "." not in row["generation"]  # cut at the stops
        assert "exact_match" in row["scores"]
        assert row["prompt"].startswith("Question: ") and row["prompt"].endswith("\nAnswer:")
    assert isinstance(rows[0]["gold"], list)  # several acceptable answers


def test_eval_accepts_a_bundled_preset_by_name(tiny_model: Path, tmp_path: Path, capsys) -> None:
    assert _eval("samples/arith", "--model", str(tiny_model), "--limit", "2",
                 cache_dir=tmp_path / "cache") == 0
    assert "arith" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Bad input: exit code 2, one paragraph on stderr, no traceback


def _assert_one_paragraph(err: str, *needles: str) -> None:
    text = err.strip()
    assert text.startswith("scoregap: error:"), err
    assert "Traceback" not in err
    assert "\n\n" not in text  # one paragraph
    flat = " ".join(text.split())
    for needle in needles:
        assert needle in flat, (needle, err)


def _bad_setups(tmp_path: Path) -> dict[str, tuple[Path | str, str]]:
    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    cases: dict[str, tuple[Path | str, str]] = {
        "malformed_toml": (write("bad.toml", '[prompt]\ntemplate = "oops\n'), "line 2"),
        "unknown_key": (write("key.toml", ARITH + '[prompt]\ntemplete = "x"\n'), 'Did you mean "template"?'),
        "missing_setup": (tmp_path / "missing.toml", "not found"),
        "missing_task": (write("task.toml", '[task]\npath = "nowhere/task.toml"\n'), "task file not found"),
        "gold_out_of_range": (_task(tmp_path / "gold", [GOOD_ROW, {**GOOD_ROW, "answer": 2}]),
                              "gold index 2 is out of range"),
        "empty_task": (_task(tmp_path / "empty", []), "no docs"),
        "bad_json": (_task(tmp_path / "json", [GOOD_ROW, "{nope"]), "line 2"),
        "template_fails": (write("tmpl.toml", ARITH + '[prompt]\ntemplate = "{{ question }} {{ nope }}"\n'),
                           "prompt.template failed to render"),
        "template_syntax": (write("syntax.toml", ARITH + '[prompt]\ntemplate = "{% if %}"\n'),
                            "not a valid Jinja2 template"),
        "too_many_shots": (write("shots.toml", ARITH + "[fewshot]\nk = 50\n"), "fewshot.k = 50"),
        "generate_metric_on_mc": (write("mc.toml", ARITH + '[scoring]\nmethod = "generate"\n'
                                        'metric = "exact_match"\n'), "multiple choice"),
    }
    return cases


BAD_SETUP_CASES = ["malformed_toml", "unknown_key", "missing_setup", "missing_task", "gold_out_of_range",
                   "empty_task", "bad_json", "template_fails", "template_syntax", "too_many_shots",
                   "generate_metric_on_mc"]


@pytest.mark.parametrize("case", BAD_SETUP_CASES)
def test_bad_setup_exits_2_with_one_paragraph(tiny_model: Path, tmp_path: Path, capsys, case: str) -> None:
    setup, needle = _bad_setups(tmp_path)[case]
    code = _eval(str(setup), "--model", str(tiny_model), "--out", str(tmp_path / "out"),
                 cache_dir=tmp_path / "cache")
    captured = capsys.readouterr()
    assert code == 2
    _assert_one_paragraph(captured.err, needle)
    assert not (tmp_path / "out" / "results.json").exists()


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ("/nonexistent/model/dir", "does not exist"),
        ("./missing-model", "does not exist"),
        ("nobody/no-such-model", "neither a local directory nor in the Hugging Face cache"),
    ],
)
def test_bad_model_exits_2(tmp_path: Path, write_setup, capsys, model: str, needle: str) -> None:
    code = _eval(str(write_setup(ARITH)), "--model", model, cache_dir=tmp_path / "cache")
    assert code == 2
    _assert_one_paragraph(capsys.readouterr().err, needle)


def test_a_directory_that_is_not_a_model(tmp_path: Path, write_setup, capsys) -> None:
    (tmp_path / "empty-model").mkdir()
    code = _eval(str(write_setup(ARITH)), "--model", str(tmp_path / "empty-model"),
                 cache_dir=tmp_path / "cache")
    assert code == 2
    _assert_one_paragraph(capsys.readouterr().err, "no config.json")


def test_negative_limit_exits_2(tiny_model: Path, tmp_path: Path, write_setup, capsys) -> None:
    code = _eval(str(write_setup(ARITH)), "--model", str(tiny_model), "--limit", "-1",
                 cache_dir=tmp_path / "cache")
    assert code == 2
    _assert_one_paragraph(capsys.readouterr().err, "--limit")


def test_long_messages_wrap_but_stay_one_paragraph(tmp_path: Path, capsys) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "setup.toml"
    deep.parent.mkdir(parents=True)
    deep.write_text("[fewshot]\nsamplr = 1\n", encoding="utf-8")
    assert _eval(str(deep), "--model", "x", cache_dir=tmp_path / "cache") == 2
    err = capsys.readouterr().err
    _assert_one_paragraph(err, 'Did you mean "sampler"?')
    assert "a-rather-long-folder-name-a-rather-long" in err  # a path is never broken at hyphens


def test_debug_reraises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        main(["eval", str(tmp_path / "missing.toml"), "--model", "x", "--debug",
              "--cache-dir", str(tmp_path / "cache")])


def test_eval_help_lists_the_options(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["eval", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--model", "--limit", "--out", "--cache-dir", "--debug", "SETUP"):
        assert option in out


def test_eval_without_a_model_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["eval", "setup.toml"])
    assert info.value.code == 2
    assert "--model" in capsys.readouterr().err


def test_no_command_prints_help(capsys) -> None:
    assert main([]) == 0
    assert "eval" in capsys.readouterr().out


def test_version(capsys) -> None:
    from scoregap import __version__

    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out
