"""The runs a session names, read beside the diagnosis: what they show before any ablation.

Two pieces of evidence, both free of model calls beyond your measured setup:

- the two runs compared doc by doc (`run_comparison.compare_runs`), with the checks whose setting keys
  differ between them ("implicated"); the report and the app show it first;
- your logged run against scoregap's re-measurement of your setup on this machine: the docs whose
  outcome flips and the largest per-choice loglikelihood difference. Identical prompts that score
  differently point at the hardware, the dtype, the batch size or the backend (the loading check).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scoregap.engine.errors import InputError
from scoregap.engine.run_comparison import compare_runs, comparison_lines, token_difference
from scoregap.engine.runs import LoggedRun, doc_finder


def run_evidence(session: Any, yours_eval: Any, checks: Sequence[Any], tokenizer: Any = None) -> dict[str, Any] | None:
    """The report's `runs` entry, or None when the session names no run."""
    from scoregap.engine.run_import import read_ref

    if session.yours_run is None and session.reported_run is None:
        return None
    try:
        yours = read_ref(session.yours_run)[0] if session.yours_run else None
        reported = read_ref(session.reported_run)[0] if session.reported_run else None
    except InputError as err:
        return {"error": str(err)}
    out: dict[str, Any] = {}
    if yours is not None and reported is not None and yours.docs and reported.docs:
        comparison = compare_runs(yours, reported)
        data = comparison.to_dict(tokenizer)
        differing = set(comparison.keys)
        data["implicated"] = [c.id for c in checks if differing & set(getattr(c, "keys", ()))]
        data["implicated_keys"] = sorted(differing)
        if tokenizer is not None and comparison.first_pair is not None:
            mine, theirs = comparison.first_pair
            data["first_difference_tokens"] = token_difference(tokenizer, mine.context, theirs.context)
        data["lines"] = comparison_lines(data)
        out["comparison"] = data
    if yours is not None and yours.docs:
        out["remeasure"] = remeasure(yours, yours_eval)
    template = template_here(tokenizer, yours, reported)
    if template:
        out["chat_template"] = template
    return out or None


def template_here(tokenizer: Any, *runs: LoggedRun | None) -> dict[str, Any] | None:
    """The chat templates the runs recorded (by hash) against the one this model's tokenizer
    applies here: a template changed since a run (a tokenizer update on the hub) renders other
    prompts than the run's, and no setup key can bring the old one back. None when no run
    recorded a template."""
    from scoregap.engine.tokenization import template_sha

    recorded = {side: run.chat_template_sha for side, run in zip(("yours", "reported"), runs)
                if run is not None and run.chat_template_sha}
    if not recorded or tokenizer is None:
        return None
    here = template_sha(tokenizer)
    other = {side: sha for side, sha in recorded.items() if sha != here}
    said = " and ".join(f"{'your' if side == 'yours' else 'the reported'} run's ({sha[:12]})" for side, sha in recorded.items())
    if not other:
        line = f"The chat template {said} is the one this model's tokenizer applies here."
    else:
        mine = f"this model's tokenizer applies {'none' if not here else here[:12]} here"
        names = " and ".join("your run" if side == "yours" else "the reported run" for side in other)
        line = (f"Chat templates by sha256: {said}; {mine}. {names[0].upper() + names[1:]} rendered prompts with another "
                f"template than the one the diagnosis uses (a tokenizer updated since?), which no setup key can "
                f"bring back: compare that template by hand.")
    return {"here": here, **recorded, "line": line}


def remeasure(run: LoggedRun, ev: Any) -> dict[str, Any]:
    """Your logged outcomes against your setup measured here, on the docs both have (paired as the
    import's prompt check pairs them: `runs.doc_finder`)."""
    find = doc_finder([planned.doc for planned in ev.planned], run)
    by_id = {s.doc_id: s for s in ev.scores}
    flips, n, worst, logged_sum, here_sum = 0, 0, 0.0, 0.0, 0.0
    for doc in run.docs:
        found = find(doc)
        score = by_id.get(found.doc_id) if found is not None else None
        if score is None or doc.correct is None:
            continue
        here = score.scores.get(run.metric, score.score)
        n += 1
        logged_sum += doc.correct
        here_sum += here
        flips += (doc.correct >= 0.5) != (here >= 0.5)
        ours = score.raw.get("loglikelihoods") or []
        if doc.loglikelihoods and len(ours) == len(doc.loglikelihoods):
            worst = max(worst, max(abs(a - b) for a, b in zip(doc.loglikelihoods, ours)))
    if not n:
        return {"docs": 0, "line": "None of your logged docs was measured here (another task or split?)."}
    line = (f"Your logged run against your setup measured here, on {n} docs: {flips} change outcome; "
            f"largest per-choice loglikelihood difference {worst:.2g}; logged {100 * logged_sum / n:.1f}, "
            f"here {100 * here_sum / n:.1f}.")
    if flips:
        line += " Same prompts scoring differently point at the hardware, dtype, batch size or backend."
    return {"docs": n, "flips": flips, "max_abs_delta_loglikelihood": worst, "logged_score": logged_sum / n,
            "score_here": here_sum / n, "line": line}
