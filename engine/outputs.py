"""The files `scoregap eval` writes (DESIGN.md, "Command line"): results.json and samples.jsonl.

Both are written to a temporary name and renamed, so an interrupted run never leaves a truncated
file where a finished one is expected.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from scoregap.engine.evaluate import Evaluation
from scoregap.engine.files import write_atomic
from scoregap.engine.model import ModelRef


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def results_json(ev: Evaluation, model: ModelRef, environment: dict[str, Any]) -> dict[str, Any]:
    return {
        "score": ev.result.score,
        "metric": ev.metric,
        "n": ev.result.n,
        "stderr": _finite(ev.result.stderr),
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
    write_atomic(out_dir / "results.json", json.dumps(results_json(ev, model, environment), indent=2) + "\n")
    lines = (json.dumps(row, ensure_ascii=False) for row in sample_rows(ev))
    write_atomic(out_dir / "samples.jsonl", "\n".join(lines) + "\n")
