"""The demo world is what issue 3 promises: a trained model that is good under its reference
setups and sensitive, by real evaluation, to exactly the factors the checklist examines."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from scoregap.engine.cache import Cache
from scoregap.engine.evaluate import Engine
from scoregap.engine.model import resolve_model
from scoregap.engine.presets import load_setup
from scoregap.engine.session import load_session
from scoregap.profiles import PROFILES_DIR

DEMO = PROFILES_DIR / "demo"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (DEMO / "model" / "config.json").is_file(),
                       reason="the demo model is not committed yet: issue 3 is still open"),
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    cache = Cache(tmp_path_factory.mktemp("demo-cache"))
    return Engine(resolve_model(str(DEMO / "model"), cache=cache), cache)


@pytest.fixture(scope="module")
def mc():
    return load_setup("demo/reference_mc")


@pytest.fixture(scope="module")
def qa():
    return load_setup("demo/reference_qa")


def score(engine, setup, **changes):
    return engine.evaluate(setup.with_values(changes) if changes else setup).result.score


def test_reference_setups_score_well(engine, mc, qa):
    assert score(engine, mc) >= 0.80
    assert score(engine, qa) >= 0.60


@pytest.mark.parametrize("changes", [
    # "1: text" for "A. text". The model shrugs off some label formats ("1) text" moves < 1 point)
    # and not others, as real models do; this is the one the labels scenario plants.
    {"prompt.choice_labels": "1", "prompt.choice_format": "{{ label }}: {{ text }}"},
    {"chat.apply_template": True},
    {"fewshot.k": 0},
    {"scoring.metric": "acc"},
], ids=["label-format", "chat-template-on", "zero-shot", "acc-not-acc_norm"])
def test_one_factor_moves_the_multiple_choice_score_by_ten_points(engine, mc, changes):
    # 24 of 240 docs is exactly 10 points; compare without float subtraction noise.
    assert round(abs(score(engine, mc) - score(engine, mc, **changes)), 9) >= 0.10


def test_strict_extraction_moves_the_short_answer_score_by_ten_points(engine, qa):
    assert abs(score(engine, qa) - score(engine, qa, **{"scoring.extract": "gsm8k_strict"})) >= 0.10


@pytest.mark.parametrize("changes", [{"fewshot.seed": 7}, {"loading.batch_size": 1}], ids=["seed", "batch-size"])
def test_seed_or_batch_size_alone_moves_it_by_less_than_two_points(engine, mc, qa, changes):
    assert abs(score(engine, mc) - score(engine, mc, **changes)) < 0.02
    assert abs(score(engine, qa) - score(engine, qa, **changes)) < 0.02


def test_tasks_have_unequal_subtasks_and_a_separate_fewshot_pool(engine, mc):
    task, _ = engine.plan(mc)
    sizes = [sum(d.subtask == s for d in task.docs) for s in task.subtasks]
    assert len(sizes) >= 2 and len(set(sizes)) == len(sizes)
    assert not {d.question for d in task.docs} & {d.question for d in task.fewshot}


def test_every_scenario_reports_what_the_reference_really_scores(engine):
    index = [line for line in (DEMO / "sessions" / "index.toml").read_text().splitlines() if "order" in line]
    assert index
    sessions = sorted((DEMO / "sessions").glob("*.toml"))
    names = [p.stem for p in sessions if p.stem != "index"]
    assert len(names) >= 8
    for name in names:
        session = load_session(DEMO / "sessions" / f"{name}.toml")
        reference = load_setup(session.reported_setup, relative_to=Path(session.path).parent)
        expected = score(engine, reference)
        if name == "leaderboard-scale":
            expected = (expected - 0.25) / 0.75
        assert abs(session.reported_score - expected) < 5e-5, name
        assert set(session.truth) <= {"prompt", "template", "fewshot", "normalization", "metric"}


def test_retraining_reproduces_the_committed_weights(tmp_path):
    """Same seed, same machine kind -> bit-identical weights (about 3 minutes)."""
    import torch

    record = json.loads((DEMO / "model" / "TRAINING.json").read_text())
    if record["torch"] != torch.__version__ or record["cpu_capability"] != torch.backends.cpu.get_cpu_capability():
        pytest.skip(f"weights were trained with torch {record['torch']} on {record['cpu_capability']}; "
                    f"bit-identity holds only on the same software and CPU kind")
    code = ("import sys; sys.path.insert(0, 'scripts'); from pathlib import Path; "
            f"from demo_training import train; print(train(Path({str(tmp_path)!r})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == record["sha256"]
    assert hashlib.sha256((tmp_path / "model.safetensors").read_bytes()).hexdigest() == record["sha256"]
