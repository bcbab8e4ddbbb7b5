"""The files `scoregap eval` writes (DESIGN.md, "Command line"): results.json and samples.jsonl.

Both are written to a temporary name and renamed, so an interrupted run never leaves a truncated
file where a finished one is expected.

Both are strict JSON (`allow_nan=False`): Python would otherwise write a bare `NaN` or `Infinity`,
which other JSON readers reject or misread. A value that is not finite (a standard error over one
doc, say) is written as null, and the object lists where under "non_finite", so a null is never
mistaken for a missing value.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from scoregap.engine.evaluate import Evaluation
from scoregap.engine.files import write_atomic
from scoregap.engine.model import ModelRef


def strict(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` with every NaN or infinite float replaced by None, and the places replaced listed
    under "non_finite" (dotted keys: "stderr", "loglikelihoods", "scores.acc")."""
    places: list[str] = []
    clean = {key: _replace(value, key, places) for key, value in obj.items()}
    if places:
        clean["non_finite"] = places
    return clean


def _replace(value: Any, place: str, places: list[str]) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        if place not in places:
            places.append(place)
        return None
    if isinstance(value, dict):
        return {k: _replace(v, f"{place}.{k}", places) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_replace(v, place, places) for v in value]
    return value


def dumps(obj: dict[str, Any], *, indent: int | None = None, ensure_ascii: bool = True) -> str:
    """Strict JSON of `obj` (see the module docstring)."""
    return json.dumps(strict(obj), indent=indent, ensure_ascii=ensure_ascii, allow_nan=False)


def results_json(ev: Evaluation, model: ModelRef, environment: dict[str, Any]) -> dict[str, Any]:
    return {
        "score": ev.result.score,
        "metric": ev.metric,
        "n": ev.result.n,
        "stderr": ev.result.stderr,
        "aggregate": ev.setup.scoring.aggregate,
        "task": {"name": ev.task.name, "source": ev.task.source, "kind": ev.task.kind},
        "model": {"name": model.name, "directory": model.directory, "revision": model.revision,
                  "fingerprint": model.fingerprint},
        "setup": ev.setup.to_dict(),
        "setup_digest": ev.setup.digest,
        "seconds": round(ev.seconds, 3),
        "environment": environment,
    }


def sample_rows(ev: Evaluation) -> list[dict[str, Any]]:
    rows = []
    for planned, score in zip(ev.planned, ev.scores):
        row: dict[str, Any] = {"doc_id": planned.doc.doc_id, "subtask": planned.doc.subtask,
                               "prompt": planned.prompt.context}
        if planned.prompt.continuations:
            row["continuations"] = list(planned.prompt.continuations)
        row.update(score.raw)
        row["extracted"] = score.extracted
        row["gold"] = list(planned.doc.gold) if len(planned.doc.gold) > 1 else planned.doc.gold[0]
        row["scores"] = score.scores
        rows.append(row)
    return rows


def write_eval(ev: Evaluation, model: ModelRef, environment: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / "results.json", dumps(results_json(ev, model, environment), indent=2) + "\n")
    lines = (dumps(row, ensure_ascii=False) for row in sample_rows(ev))
    write_atomic(out_dir / "samples.jsonl", "\n".join(lines) + "\n")
