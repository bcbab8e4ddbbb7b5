"""`scoregap diagnose` end to end on the tiny local model: real ablations, the three reports,
free metric variants, and a second run that the cache answers entirely."""

from __future__ import annotations

import json

import pytest

from scoregap.tui.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture
def session(tmp_path, tiny_model):
    (tmp_path / "mine.toml").write_text('extends = "samples/arith"\n[fewshot]\nk = 2\nsampler = "random"\n'
                                        '[loading]\nbatch_size = 8\n')
    path = tmp_path / "session.toml"
    path.write_text(f'[model]\npath = "{tiny_model}"\n[yours]\nsetup = "mine.toml"\n'
                    '[reported]\nscore = 61.9\nsource = "a paper"\n[reported.known]\n"fewshot.k" = 0\n'
                    '[diagnosis]\nlimit = 24\n')
    return path


def test_diagnose_writes_three_reports_and_reuses_every_result(session, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["diagnose", str(session), "--checks", "seed,metric,fewshot", "--report", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    for key in ("yours", "reported", "gap", "noise_floor", "verdict", "ranking", "checks", "reconciliation",
                "environment"):
        assert key in report
    assert report["reported"]["score"] == pytest.approx(0.619) and report["reported"]["scale"] == "percent"
    assert report["gap"] == pytest.approx(0.619 - report["yours"]["score"], abs=1e-6)
    assert report["verdict"] in ("gap", "within_noise")
    assert set(report["checks"]) == {"seed", "metric", "fewshot"}
    fewshot = report["checks"]["fewshot"]["variants"]
    assert fewshot[0]["known"] and fewshot[0]["changes"] == {"fewshot.k": 0}
    free = [v for v in report["checks"]["metric"]["variants"] if v["variant"] != "acc_mutual_info"]
    assert free and all(v["calls"] == 0 for v in free)
    for row in report["ranking"]:
        assert set(row) >= {"check", "variant", "score", "delta", "closes", "ci", "p", "significant"}
    md = (out / "report.md").read_text()
    assert "# scoregap diagnosis" in md and "lm-eval run" in md
    html_text = (out / "report.html").read_text()
    assert html_text.startswith("<!doctype html>") and "<svg" in html_text and "<script" not in html_text
    # A second run recomputes nothing.
    capsys.readouterr()
    assert main(["diagnose", str(session), "--checks", "seed,metric,fewshot", "--report", str(out)]) == 0
    again = json.loads((out / "report.json").read_text())
    def strip(rows):
        return [{k: v for k, v in r.items() if k != "calls"} for r in rows]

    assert again["calls"]["total"] == 0 and strip(again["ranking"]) == strip(report["ranking"])


def test_diagnose_rejects_an_unknown_check_with_exit_code_2(session, capsys):
    assert main(["diagnose", str(session), "--checks", "promt"]) == 2
    err = capsys.readouterr().err
    assert 'Did you mean "prompt"' in err and "Traceback" not in err
