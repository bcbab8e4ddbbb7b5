"""NaN and inf never go unnoticed: not in a score, not in the cache, not in a file.

Before, a copy of the demo model with one NaN in `layers.1.self_attn.q_proj.weight` scored
acc_norm 0.21 on census_mc with exit code 0, samples.jsonl held bare `NaN` (invalid JSON) and the
NaN results were cached; generation returned "" for every doc. Now the backend checks the logits
it scores and every generation step, the engine names the model and the first affected doc and
caches nothing of the batch, and every JSON file the engine writes is strict.

The broken models are copies of the tiny model with one weight (or one row) set to NaN or inf.
The engine-level cases use the fake backend's `nonfinite` regex, so they run without torch.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from fakeworld import write_fake_model, write_mc_task, write_qa_task, write_setup

from scoregap.engine.backends.fake import FakeBackend
from scoregap.engine.cache import Cache
from scoregap.engine.errors import InputError
from scoregap.engine.evaluate import Engine
from scoregap.engine.model import resolve_model
from scoregap.engine.outputs import strict, write_eval
from scoregap.engine.presets import load_setup
from scoregap.engine.progress import NullProgress
from scoregap.engine.requests import (
    Generate,
    Loglikelihood,
    LoglikelihoodResult,
    NonFiniteOutput,
    non_finite_fields,
)
from scoregap.engine.setup import TaskSpec
from scoregap.engine.tasks import load_task
from scoregap.tui.cli import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BROKEN: dict[str, tuple[str, float, int | None]] = {
    # name: (parameter, value, row: None sets one entry, else the whole row)
    "nan_q_proj": ("model.layers.1.self_attn.q_proj.weight", math.nan, None),
    "inf_down_proj": ("model.layers.0.mlp.down_proj.weight", math.inf, None),
    "inf_lm_head_row": ("lm_head.weight", math.inf, 7),
}
PRESETS = {"loglikelihood": ("samples/arith", "arith"), "generation": ("samples/facts", "facts")}


def reject(constant: str) -> Any:
    raise AssertionError(f"not strict JSON: {constant}")


def _strict_json(text: str) -> Any:
    return json.loads(text, parse_constant=reject)


# -- broken copies of the tiny model -----------------------------------------------------------


@pytest.fixture(scope="module")
def broken(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each case of BROKEN as a saved model directory (tokenizer files copied alongside)."""
    import torch
    from transformers import AutoModelForCausalLM

    out = {}
    for name, (parameter, value, row) in BROKEN.items():
        target = tmp_path_factory.mktemp(f"broken-{name}")
        shutil.copytree(tiny_model, target, dirs_exist_ok=True)
        model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
        weight = dict(model.named_parameters())[parameter]
        with torch.no_grad():
            if row is None:
                weight.view(-1)[0] = value
            else:
                weight[row] = value
        model.save_pretrained(target)
        out[name] = target
    return out


@pytest.mark.parametrize("path", list(PRESETS))
@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_model_exits_2_naming_the_model_and_the_doc(
    broken: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, path: str
) -> None:
    preset, task = PRESETS[path]
    model, cache_dir, out = broken[case], tmp_path / "cache", tmp_path / "out"
    code = main(["eval", preset, "--model", str(model), "--limit", "6", "--out", str(out),
                 "--cache-dir", str(cache_dir), "--quiet"])
    err = capsys.readouterr().err
    flat = " ".join(err.split())
    assert code == 2, err
    assert "Traceback" not in err
    assert f'The model "{model}" ({model.resolve()})' in flat
    assert "non-finite logits (NaN or inf)" in flat
    assert re.search(rf"for doc [0-5] of {task}:", flat), flat
    assert "was cached" in flat
    assert Cache(cache_dir).count() == 0          # nothing of the batch was stored
    assert not (out / "results.json").exists()


@pytest.fixture(scope="module")
def nan_backend(broken: dict[str, Path]) -> Any:
    from scoregap.engine.backends.transformers import TransformersBackend

    return TransformersBackend(str(broken["nan_q_proj"]), dtype="float32", device="cpu")


def test_sampled_generation_stops_before_sampling_from_nan(nan_backend: Any) -> None:
    """torch.multinomial would fail on NaN probabilities with its own traceback; the check runs
    before the temperature and top-p warpers."""
    requests = [Generate("What is 2 plus 3?", 4, (), temperature=0.8, top_p=0.9, seed=s) for s in (1, 2)]
    with pytest.raises(NonFiniteOutput) as info:
        nan_backend.generate(requests, 2, NullProgress())
    assert info.value.index == 0 and info.value.what == "generation"


def test_loglikelihood_names_the_first_request_of_the_failing_batch(nan_backend: Any) -> None:
    requests = [Loglikelihood("Question: What is 2 plus 3?\nAnswer:", f" {w}") for w in ("four", "five", "six")]
    with pytest.raises(NonFiniteOutput) as info:
        nan_backend.loglikelihood(requests, 8, NullProgress())
    assert info.value.indices == (0, 1, 2) and info.value.index == 0


# -- the generation check itself ---------------------------------------------------------------


def test_the_step_check_accepts_warped_rows_and_rejects_nan_inf_and_dead_rows() -> None:
    import torch

    from scoregap.engine.backends.hf_generation import finite_logits

    check, ids = finite_logits(), torch.zeros((3, 2), dtype=torch.long)
    warped = torch.tensor([[0.0, -math.inf, 1.0], [2.0, 1.0, -math.inf], [0.5, 0.5, 0.5]])
    assert check(ids, warped) is warped                 # -inf entries are what top-p writes
    for row in ([math.nan, 0.0, 0.0], [math.inf, 0.0, 0.0], [-math.inf] * 3):
        scores = torch.zeros((3, 3))
        scores[2] = torch.tensor(row)
        with pytest.raises(NonFiniteOutput) as info:
            check(ids, scores)
        assert info.value.indices == (2,)


def test_healthy_sampling_with_top_p_is_not_a_false_alarm(tiny_model: Path) -> None:
    from scoregap.engine.backends.transformers import TransformersBackend

    backend = TransformersBackend(str(tiny_model), dtype="float32", device="cpu")
    requests = [Generate("What day comes after Monday?", 8, (), temperature=0.7, top_p=0.3, seed=s)
                for s in range(3)]
    assert len(backend.generate(requests, 4, NullProgress())) == 3


def test_a_bad_row_of_a_generation_batch_is_mapped_to_its_request(tiny_model: Path, monkeypatch) -> None:
    from scoregap.engine.backends.transformers import TransformersBackend

    backend = TransformersBackend(str(tiny_model), dtype="float32", device="cpu")

    def fail(batch: list[Generate], prompts: list[list[int]]) -> list:
        raise NonFiniteOutput([1], "generation")     # the second row of the batch

    monkeypatch.setattr(backend, "_generate_batch", fail)
    requests = [Generate("hi", 4), Generate("What is 2 plus 3? Tell me.", 4), Generate("What is 2?", 4)]
    with pytest.raises(NonFiniteOutput) as info:
        backend.generate(requests, 8, NullProgress())
    assert info.value.index == 2    # rows go longest prompt first: request 1, then 2, then 0


# -- the engine, with the fake backend (no torch) ----------------------------------------------


def _nonfinite_model(directory: Path, task: Path, doc_id: int) -> Path:
    """A fake model whose logits are NaN for the doc `doc_id` of `task` (and only for it)."""
    model = write_fake_model(directory, task)
    question = next(d.question for d in load_task(TaskSpec(path=str(task))).docs if d.doc_id == doc_id)
    data = tomllib.loads((model / "fake-model.toml").read_text(encoding="utf-8"))
    data["nonfinite"] = re.escape(question)
    (model / "fake-model.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    return model


@pytest.mark.parametrize("kind", ["mc", "qa"])
def test_the_engine_names_the_doc_and_caches_nothing(tmp_path: Path, kind: str) -> None:
    task = (write_mc_task if kind == "mc" else write_qa_task)(tmp_path / "task", n_docs=24)
    model = _nonfinite_model(tmp_path / "model", task, doc_id=5)
    setup = load_setup(write_setup(tmp_path / "setup.toml", task))
    cache = Cache(tmp_path / "cache")
    engine = Engine(resolve_model(str(model), cache=cache), cache)
    with pytest.raises(InputError) as info:
        engine.evaluate(setup)
    message = str(info.value)
    name = "fake_mc" if kind == "mc" else "fake_qa"
    assert f'The model "{model}" ({model.resolve()})' in message
    assert f"non-finite logits (NaN or inf) for doc 5 of {name}:" in message
    assert cache.count() == 0
    others = frozenset(range(24)) - {5}   # the docs the scripted NaN does not touch still evaluate
    assert engine.evaluate(setup, only=others).result.n == 23


def test_nonfinite_results_a_backend_returns_are_never_stored(tmp_path: Path, monkeypatch) -> None:
    """A backend that does not check its own logits (a future one) is caught by the engine."""
    task = write_mc_task(tmp_path / "task", n_docs=12)
    model = write_fake_model(tmp_path / "model", task)
    real = FakeBackend._score

    def nan_for_doc_3(self: FakeBackend, r: Loglikelihood, batch: int) -> LoglikelihoodResult:
        result = real(self, r, batch)
        return dataclasses.replace(result, logprob=math.nan) if "Item 3:" in r.context else result

    monkeypatch.setattr(FakeBackend, "_score", nan_for_doc_3)
    cache = Cache(tmp_path / "cache")
    engine = Engine(resolve_model(str(model), cache=cache), cache)
    with pytest.raises(InputError, match=r"non-finite logits \(NaN or inf\) for doc \d+ of fake_mc"):
        engine.evaluate(load_setup(write_setup(tmp_path / "setup.toml", task)))
    assert cache.count() == 0


def test_a_nonfinite_result_already_in_the_cache_is_recomputed(tmp_path: Path) -> None:
    """Results stored by a version that did not check are never used."""
    task = write_mc_task(tmp_path / "task", n_docs=4)
    model = write_fake_model(tmp_path / "model", task)
    setup = load_setup(write_setup(tmp_path / "setup.toml", task))
    cache = Cache(tmp_path / "cache")
    engine = Engine(resolve_model(str(model), cache=cache), cache)
    requests = [r for p in engine.plan(setup)[1] for r in p.requests]
    poisoned = LoglikelihoodResult(logprob=math.nan, is_greedy=False, n_tokens=1, n_context_tokens=3,
                                   min_margin=0.0)
    scope = engine.scope(setup.loading)
    # written as an older version did, with a bare NaN
    with sqlite3.connect(cache.path) as db:
        db.executemany("INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)",
                       [(Cache.key(scope, r.key()), json.dumps(poisoned.to_json())) for r in requests])
    ev = engine.evaluate(setup)
    assert engine.calls.loglikelihood == len(requests) and engine.calls.cached == 0
    assert all(math.isfinite(x) for s in ev.scores for x in s.raw["loglikelihoods"])
    stored = cache.get_many(Cache.key(scope, r.key()) for r in requests)
    assert not any(non_finite_fields(v) for v in stored.values())


# -- strict JSON -------------------------------------------------------------------------------


def test_strict_replaces_every_nonfinite_value_and_says_where() -> None:
    row = {"a": math.nan, "b": [1.0, math.inf], "c": {"d": -math.inf, "e": 2.0}, "f": "text", "g": 3}
    clean = strict(row)
    assert clean == {"a": None, "b": [1.0, None], "c": {"d": None, "e": 2.0}, "f": "text", "g": 3,
                     "non_finite": ["a", "b", "c.d"]}
    assert strict({"x": 1.0}) == {"x": 1.0}


def test_eval_files_are_strict_json_even_with_nonfinite_values(tmp_path: Path) -> None:
    task = write_mc_task(tmp_path / "task", n_docs=3)
    model = write_fake_model(tmp_path / "model", task)
    cache = Cache(tmp_path / "cache")
    ref = resolve_model(str(model), cache=cache)
    ev = Engine(ref, cache).evaluate(load_setup(write_setup(tmp_path / "setup.toml", task)))
    first = ev.scores[0]
    raw = {**first.raw, "loglikelihoods": [math.nan, *first.raw["loglikelihoods"][1:]]}
    ev.scores[0] = dataclasses.replace(first, raw=raw)
    ev.result = dataclasses.replace(ev.result, score=math.nan)
    write_eval(ev, ref, {"python": "3"}, tmp_path / "out")
    results = _strict_json((tmp_path / "out" / "results.json").read_text())
    assert results["score"] is None and results["non_finite"] == ["score"]
    rows = [_strict_json(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert rows[0]["loglikelihoods"][0] is None and rows[0]["non_finite"] == ["loglikelihoods"]
    assert "non_finite" not in rows[1]


def test_eval_of_one_doc_writes_an_undefined_stderr_as_null(tiny_model: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["eval", "samples/arith", "--model", str(tiny_model), "--limit", "1", "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    results = _strict_json((out / "results.json").read_text())
    assert results["stderr"] is None and results["non_finite"] == ["stderr"]
    for line in (out / "samples.jsonl").read_text().splitlines():
        _strict_json(line)
