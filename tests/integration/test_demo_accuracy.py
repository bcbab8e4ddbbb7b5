"""Diagnostic accuracy on the demo model beyond its planted scenarios: sessions written here, of
the shapes that defeated the diagnosis before (a cause hidden under a sampling floor, a few-shot
separator nobody varied, two equivalent explanations), and seed-only pairs that must find no
cause. Each reported score is what the reference setup (or the same setup under another seed)
really scores on the same docs; the checks are limited to those each story needs, to keep the
suite's time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tomli_w

from scoregap.checks import CHECKS
from scoregap.engine.cache import Cache
from scoregap.engine.presets import load_setup
from scoregap.engine.ranking import is_cause
from scoregap.engine.run import DiagnosisRun
from scoregap.engine.session import load_session
from scoregap.profiles import PROFILES_DIR, scenarios

DEMO = PROFILES_DIR / "demo"
LIMIT = 120

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not scenarios(), reason="the demo world's model is not committed"),
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Cache:
    return Cache(tmp_path_factory.mktemp("demo-accuracy-cache"))


def diagnose(tmp_path: Path, cache: Cache, task: str, yours: dict[str, Any], checks: tuple[str, ...],
             reference: dict[str, Any] | None = None, limit: int = LIMIT) -> DiagnosisRun:
    """Yours and the reference both extend the demo's reference setup for `task` ("mc" | "qa")."""
    def setup(name: str, changes: dict[str, Any]) -> Path:
        data: dict[str, Any] = {"extends": str(DEMO / f"reference_{task}.toml")}
        for dotted, value in changes.items():
            section, _, key = dotted.partition(".")
            data.setdefault(section, {})[key] = value
        path = tmp_path / f"{name}.toml"
        path.write_text(tomli_w.dumps(data))
        return path

    mine, theirs = setup("yours", yours), setup("reference", reference or {})
    engine = DiagnosisRun.open(load_session(_session(tmp_path, mine, 0.5, checks, limit)), cache=cache).engine
    reported = engine.evaluate(load_setup(theirs), limit).result.score
    run = DiagnosisRun.open(load_session(_session(tmp_path, mine, reported, checks, limit)), cache=cache,
                            checks=CHECKS, limit=limit)
    run.run_all()
    return run


def _session(tmp_path: Path, yours: Path, reported: float, checks: tuple[str, ...], limit: int) -> Path:
    path = tmp_path / "session.toml"
    path.write_text(tomli_w.dumps({
        "model": {"path": str(DEMO / "model")}, "yours": {"setup": str(yours)},
        "reported": {"score": reported, "scale": "fraction", "source": "written by the test"},
        "diagnosis": {"checks": list(checks), "limit": limit}}))
    return path


def causes(run: DiagnosisRun) -> list[tuple[str, str, int]]:
    return [(f.variant.check, f.variant.name, f.round) for f in run.diagnosis.ranking if is_cause(f)]


def test_a_cause_under_the_sampling_floor_is_found_once_greedy_is_applied(tmp_path: Path, cache: Cache) -> None:
    """Weakness 1 on the demo model: yours samples at T 0.7 with 5 shots; the card is greedy with 3.
    Greedy closes about two thirds; the rest is within the floor your sampling made, but not
    within the floor of the greedy setup, where round two finds the shots."""
    run = diagnose(tmp_path, cache, "qa", {"generation.temperature": 0.7, "fewshot.k": 5},
                   ("seed", "fewshot", "generation"), limit=80)
    d = run.diagnosis
    assert causes(run)[:2] == [("generation", "greedy", 1), ("fewshot", "k = 3", 2)]
    left = d.gap - d.ranking[0].delta
    assert d.noise.half_width > left, "the old rule would have called the rest noise"
    assert d.reconciliation is not None and d.reconciliation.within_noise
    assert d.reconciliation.floor is not None and d.reconciliation.floor.half_width < left


def test_a_single_line_break_between_shots_is_varied(tmp_path: Path, cache: Cache) -> None:
    """Weakness 2 on the demo model: shots separated by a line break, not a blank line."""
    run = diagnose(tmp_path, cache, "qa", {"prompt.fewshot_delimiter": "\n"}, ("prompt", "fewshot"))
    prompt = next(f for f in run.diagnosis.ranking if f.variant.check == "prompt")
    assert is_cause(prompt)      # on this model a line break before the answer restores the layout alike
    assert "a blank line between shots" in {prompt.variant.name, *(name for name, _ in prompt.alike)}
    assert run.diagnosis.reconciliation is not None and run.diagnosis.reconciliation.within_noise


def test_a_prefix_match_and_last_number_extraction_are_reported_as_one_explanation(tmp_path: Path,
                                                                                     cache: Cache) -> None:
    """Weakness 3 on the demo model: the whole generation ("55 in all.") compared with "55"."""
    run = diagnose(tmp_path, cache, "qa", {"scoring.extract": "none"}, ("metric", "normalization"))
    report = run.report
    assert report is not None
    grouped = [r for r in report["ranking"] if r["group"]]
    assert {r["check"] for r in grouped} == {"metric", "normalization"}
    assert len({r["group"] for r in grouped}) == 1 and report["alternatives"][0]["agree"] >= 0.95


@pytest.mark.parametrize("task, seed", [("qa", 7), ("qa", 99), ("mc", 99)])
def test_seed_only_pairs_find_no_cause(tmp_path: Path, cache: Cache, task: str, seed: int) -> None:
    """Yours and the reported number differ only by the few-shot seed."""
    run = diagnose(tmp_path, cache, task, {"fewshot.seed": seed}, tuple(c.id for c in CHECKS), limit=80)
    assert causes(run) == [], causes(run)
