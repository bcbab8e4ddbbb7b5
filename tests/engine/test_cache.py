"""The result cache: round trips, scoping, no repeated model calls, and surviving `kill -9`."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scoregap.engine.cache import Cache, default_cache_dir
from scoregap.engine.evaluate import Engine
from scoregap.engine.model import resolve_model
from scoregap.engine.presets import load_setup
from scoregap.engine.requests import (
    Generate,
    GenerationResult,
    Loglikelihood,
    LoglikelihoodResult,
    result_from_json,
)

LL = LoglikelihoodResult(logprob=-1.25, is_greedy=True, n_tokens=2, n_context_tokens=17,
                         min_margin=0.5, doubled_bos=False)
GEN = GenerationResult(text="Saturday.\nThe", finish_reason="stop", n_tokens=5, n_prompt_tokens=9)


def test_put_get_round_trip(cache: Cache) -> None:
    a = Cache.key("scope", Loglikelihood("Q:", " A").key())
    b = Cache.key("scope", Generate("Q:", 8, ("\n",)).key())
    cache.put_many({a: LL, b: GEN})
    assert cache.get_many([a, b, "missing"]) == {a: LL, b: GEN}
    assert cache.count() == 2
    assert cache.get_many([]) == {}
    cache.put_many({})
    assert cache.count() == 2


def test_results_persist_across_instances(tmp_path: Path) -> None:
    Cache(tmp_path).put_many({"k": LL})
    assert Cache(tmp_path).get_many(["k"]) == {"k": LL}


def test_many_keys_are_read_in_chunks(cache: Cache) -> None:
    items = {f"key{i}": LL for i in range(1234)}
    cache.put_many(items)
    assert len(cache.get_many(list(items) + ["absent"])) == 1234


def test_keys_differ_by_scope_and_request() -> None:
    request = Loglikelihood("Q:", " A").key()
    assert Cache.key("model1|transformers|float32|bs=1", request) != Cache.key(
        "model1|transformers|float32|bs=2", request)
    assert Cache.key("s", request) != Cache.key("s", Loglikelihood("Q:", " B").key())
    assert Cache.key("s", request) != Cache.key("s", Loglikelihood("Q:", " A", "false").key())
    assert Cache.key("s", request) == Cache.key("s", Loglikelihood("Q:", " A").key())


def test_greedy_generation_keys_ignore_sampling_knobs() -> None:
    assert Generate("p", seed=1).key() == Generate("p", seed=2, top_p=0.5).key()
    assert Generate("p", temperature=1.0, seed=1).key() != Generate("p", temperature=1.0, seed=2).key()


def test_default_location_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCOREGAP_CACHE_DIR", str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("SCOREGAP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "scoregap"
    assert Cache().directory == tmp_path / "xdg" / "scoregap"


def test_fingerprints_are_remembered(cache: Cache) -> None:
    assert cache.fingerprint_of("/m/model.safetensors", "10:20") is None
    cache.remember_fingerprint("/m/model.safetensors", "10:20", "abc")
    assert cache.fingerprint_of("/m/model.safetensors", "10:20") == "abc"
    assert cache.fingerprint_of("/m/model.safetensors", "10:21") is None


# ---------------------------------------------------------------------------------------------
# The engine and the cache


def _score(ev) -> list:  # noqa: ANN001
    return [(s.doc_id, s.score, s.raw["loglikelihoods"]) for s in ev.scores]


def test_a_second_evaluation_makes_no_model_calls(tiny_model: Path, cache: Cache) -> None:
    setup = load_setup("samples/arith").with_values({"loading.device": "cpu"})
    model = resolve_model(str(tiny_model), cache=cache)
    first = Engine(model, cache)
    ev1 = first.evaluate(setup, limit=8)
    assert first.calls.total == 8 * 4
    assert first.calls.cached == 0
    assert cache.count() == 32

    again = Engine(resolve_model(str(tiny_model), cache=cache), cache)  # a new process, in effect
    ev2 = again.evaluate(setup, limit=8)
    assert again.calls.total == 0
    assert again.calls.cached == 32
    assert _score(ev2) == _score(ev1)
    assert ev2.result.score == ev1.result.score

    ev3 = first.evaluate(setup, limit=8)  # the same engine, again
    assert first.calls.total == 32 and _score(ev3) == _score(ev1)

    # A metric variant re-scores stored outputs: free.
    norm = Engine(model, cache)
    norm.evaluate(setup.with_values({"scoring.metric": "acc_norm"}), limit=8)
    assert norm.calls.total == 0

    # Batch size is part of the numerics: a new scope, so new calls.
    other = Engine(model, cache)
    ev4 = other.evaluate(setup.with_values({"loading.batch_size": 3}), limit=8)
    assert other.calls.total == 32
    assert cache.count() == 64
    assert [s.doc_id for s in ev4.scores] == [s.doc_id for s in ev1.scores]

    # More docs: only the new ones are computed.
    more = Engine(model, cache)
    more.evaluate(setup, limit=10)
    assert more.calls.total == 2 * 4 and more.calls.cached == 32


def test_scope_names_the_numerics(tiny_model: Path, cache: Cache) -> None:
    setup = load_setup("samples/arith").with_values({"loading.device": "cpu"})
    engine = Engine(resolve_model(str(tiny_model), cache=cache), cache)
    scope = engine.scope(setup.loading)
    for change in ({"loading.batch_size": 2}, {"loading.dtype": "bfloat16"},
                   {"loading.attn_implementation": "eager"}):
        assert engine.scope(setup.with_values(change).loading) != scope
    assert engine.scope(setup.with_values({"fewshot.k": 3}).loading) == scope


# ---------------------------------------------------------------------------------------------
# kill -9

WRITER = """
import sys
from scoregap.engine.cache import Cache
from scoregap.engine.requests import GenerationResult, LoglikelihoodResult

cache = Cache(sys.argv[1])
prefix, size = sys.argv[2], int(sys.argv[3])
batch = 0
while True:
    items = {}
    for j in range(size):
        if j % 2:
            items[f"{prefix}-{batch}-{j}"] = LoglikelihoodResult(-j / 7, j % 3 == 0, j % 5 + 1, batch, 0.1)
        else:
            items[f"{prefix}-{batch}-{j}"] = GenerationResult("x" * (j % 50) + " \\u00e9\\n", "stop", j, batch)
    cache.put_many(items)
    batch += 1
    print(batch, flush=True)
"""

BATCH = 1500


def test_kill_9_mid_write_leaves_a_sound_cache(tmp_path: Path) -> None:
    directory = tmp_path / "killed"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    committed: dict[str, int] = {}
    for round_no, delay in enumerate((0.0, 0.013, 0.031)):
        prefix = f"r{round_no}"
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(directory), prefix, str(BATCH)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        )
        try:
            assert proc.stdout is not None
            for _ in range(3):  # a few batches are surely committed
                line = proc.stdout.readline()
                assert line, proc.stderr.read() if proc.stderr else "writer died"
            time.sleep(delay)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        committed[prefix] = int(line)

    db = sqlite3.connect(directory / "results.sqlite")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT key, value FROM results").fetchall()
    finally:
        db.close()
    per_round: dict[str, int] = {}
    for key, value in rows:
        result = result_from_json(json.loads(value))
        assert isinstance(result, (LoglikelihoodResult, GenerationResult))
        per_round[key.split("-")[0]] = per_round.get(key.split("-")[0], 0) + 1
    for prefix, batches in committed.items():
        # Every batch is all there or not at all, and nothing reported as committed was lost.
        assert per_round[prefix] % BATCH == 0
        assert per_round[prefix] >= batches * BATCH

    reopened = Cache(directory)
    assert reopened.count() == len(rows)
    reopened.put_many({"after": LL})
    assert reopened.get_many(["after", "r0-0-1"])["after"] == LL
