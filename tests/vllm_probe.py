"""Runs the vLLM backend next to the transformers backend on the demo model and prints what the
tests compare, as JSON. A process of its own: vLLM's CPU build binds the threads of the process
it starts in, which would slow every later test of the suite.

    python tests/vllm_probe.py WORK_DIR
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")   # GiB of KV cache on a CPU; the default is 4
os.environ.pop("SCOREGAP_BACKENDS", None)              # here the loading check compares both

DEMO = Path(__file__).resolve().parents[1] / "profiles" / "demo"
QUESTION = "How many people live in Oakridge? Answer:"


def requests() -> tuple[list, list]:
    from scoregap.engine.requests import Generate, Loglikelihood

    scored = [
        *[Loglikelihood(f"{QUESTION}\nA. 120\nB. 340\nC. 560\nD. 780\nAnswer:", f" {label}") for label in "ABCD"],
        Loglikelihood(QUESTION, " three hundred and forty"), Loglikelihood(QUESTION, " 340"),
        Loglikelihood("hi", " there, friend."), Loglikelihood("Answer: ", "12"),
        Loglikelihood(QUESTION, " 340", "false"), Loglikelihood("", " one hundred"),
    ]
    generated = [
        Generate(f"Question: {QUESTION}", max_new_tokens=24, stop=("\n",)),
        Generate("one two three", max_new_tokens=16, stop=()),
        Generate("Question: How many apples are in a crate of 36?\nAnswer:", max_new_tokens=32, stop=()),
        Generate("Question: How many keys fit in a box of 26?\nAnswer:", max_new_tokens=32, stop=("\n\n",)),
    ]
    return scored, generated


def probe(work: Path) -> dict:
    """One engine throughout, so vLLM starts twice only: for the direct and engine comparisons,
    then as the loading check's variant (loading transformers in between closes it)."""
    from scoregap.engine.cache import Cache
    from scoregap.engine.evaluate import Engine
    from scoregap.engine.model import resolve_model
    from scoregap.engine.presets import load_setup
    from scoregap.engine.progress import NullProgress
    from scoregap.engine.requests import ContextTooLong, Loglikelihood

    eng = Engine(resolve_model(str(DEMO / "model")), Cache(work / "cache"))
    scored, generated = requests()
    setups = {kind: load_setup(DEMO / f"reference_{kind}.toml").with_values({"loading.device": "cpu"})
              for kind in ("mc", "qa")}
    on_vllm = {kind: s.with_values({"loading.backend": "vllm", "loading.enforce_eager": True})
               for kind, s in setups.items()}
    sides = {}
    for side, chosen in (("hf", setups), ("vllm", on_vllm)):
        backend = eng.backend(chosen["mc"].loading)
        sides[side] = {
            "loglikelihood": [asdict(r) for r in backend.loglikelihood(scored, 4, NullProgress())],
            "generate": [asdict(r) for r in backend.generate(generated, 4, NullProgress())],
            "engine": {kind: _scores(eng.evaluate(s, 30)) for kind, s in chosen.items()},
        }
    vllm = eng.backend(on_vllm["mc"].loading)
    try:
        vllm.loglikelihood([Loglikelihood("one " * vllm.window, " two")], 1, NullProgress())
        too_long = ""
    except ContextTooLong as err:
        too_long = str(err)
    return {"sides": sides, "too_long": too_long, "tokens_fed": vllm.tokens_fed, "loading": loading_check(work, eng)}


def _scores(ev: object) -> dict:
    return {"score": ev.result.score, "docs": [[s.score, s.extracted, s.raw] for s in ev.scores]}


def loading_check(work: Path, eng: object) -> dict:
    """The loading check on 60 docs with both backends installed: the vLLM variant."""
    import tomli_w

    from scoregap.checks import CHECKS
    from scoregap.engine.run import DiagnosisRun
    from scoregap.engine.session import load_session

    yours = work / "yours.toml"
    yours.write_text(tomli_w.dumps({"extends": str(DEMO / "reference_mc.toml"), "loading": {"device": "cpu"}}))
    session = work / "session.toml"
    session.write_text(tomli_w.dumps({
        "model": {"path": str(DEMO / "model")}, "yours": {"setup": str(yours)},
        "reported": {"score": 0.5, "scale": "fraction", "source": "the probe"},
        "diagnosis": {"checks": ["loading"], "limit": 60}}))
    run = DiagnosisRun(load_session(session), eng, CHECKS, limit=60)
    run.measure()
    result = run.run_check("loading")
    found = {f.variant.name: {"calls": f.calls, "n": f.n, "delta": f.delta} for f in result.findings}
    return {"backends": list(run.diagnosis.backends), "findings": found, "message": result.message,
            "yours_calls": 4 * run.diagnosis.yours.result.n}


def main() -> int:
    work = Path(sys.argv[1])
    work.mkdir(parents=True, exist_ok=True)
    print(json.dumps(probe(work)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
