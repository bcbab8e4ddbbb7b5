"""Diagnosis reports: one report model, written as report.json, report.md and report.html.

`report_model` gathers everything a reader needs — the verdict, the ranking (equivalent causes
grouped, with the questions that would decide between them), every check's findings, the
reconciliation and the noise floor it was judged by, what stays unexplained and what was never
varied, a prompt diff of your setup against the reconciled one, the exact setups, the
environment and how to reproduce the reported number — into plain data. The writers in
engine/report_formats.py only format it: the Markdown pastes into a GitHub issue, the HTML is
one self-contained file (inline SVG, every model output and prompt escaped).

`write_reports` writes the reports and, beside them, the lm-eval task YAML of the reconciled
setup (`lm-eval-task/<task>.yaml`): every written report names that file, and its lm-eval command
points `--include_path` at the folder, so reproducing is one copied command.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

from scoregap.engine.checks_api import Finding
from scoregap.engine.diagnosis import Diagnosis
from scoregap.engine.environment import environment
from scoregap.engine.files import write_atomic
from scoregap.engine.lighteval_export import lighteval_line
from scoregap.engine.lmeval_export import TASK_FOLDER, export, with_include_path
from scoregap.engine.noise import Floor
from scoregap.engine.ranking import agreement, is_cause
from scoregap.engine.report_formats import html_report, markdown, prompt_diff
from scoregap.engine.scoring import OutputStats, describe_outputs, output_stats

FORMATS = ("md", "html", "json")

SCREENING = ("Variants were evaluated on growing random subsets of the docs (60, 120, 240, each at "
             "most half of them, then all) and stopped at the first that settled them: the CI lay "
             "inside the noise floor, or excluded every change that would make it a cause (closing "
             "between 0 and 200% of the gap: it surely widens the gap or overshoots it). When the gap "
             "itself was within the noise floor, every variant stopped at the first look: nothing "
             "needed a cause. Each interim "
             "look used a CI at 1 - 0.05/K for K looks, so all the stops of a variant together keep a "
             "5% error rate; n says how many docs each conclusion rests on. "
             "Numeric variants, and the batch-size repeat of the noise floor, re-ran only docs whose "
             "choice margin could flip (another backend first ran 16 docs in full, and the margin was "
             "four times the largest change of a loglikelihood they showed). Significance: Holm's correction at 5%, the variants that test "
             "a fact the report states and the exploratory ones as two families, and an effect must "
             "also exceed the noise floor; noise-floor repeats (other seeds, another batch size) are "
             "never causes. Causes that each close the gap alone and score at least 95% of the docs "
             "alike are reported as one group of alternatives. The reconciliation applies the causes' "
             "fixes in ranking order, keeping each only if it brings the score closer to the reported "
             "one, and judges the residual against the noise floor measured again at the reconciled "
             "setup (a fix can change what is random). When the fixes together still miss the "
             "reported score beyond that floor, the other checks are run again on top of them (a "
             "cause that another one hid shows up then, marked \"after ...\"; its closes is a "
             "fraction of the gap left after those fixes), up to three rounds.")


def _num(x: float) -> float | None:
    return round(x, 6) if isinstance(x, (int, float)) and math.isfinite(x) else None


def _outputs(o: OutputStats | None) -> dict[str, Any] | None:
    """Rates (fractions of docs) of how generations ended, and the doubled-BOS count."""
    if o is None:
        return None
    return {"n": o.n, "doubled_bos": o.doubled_bos, "text": describe_outputs(o),
            **({"stop": _num(o.rate(o.stop)), "eos": _num(o.rate(o.eos)), "length": _num(o.rate(o.length))}
               if o.generated else {})}


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "check": f.variant.check, "variant": f.variant.name, "changes": dict(f.variant.changes),
        "transform": f.variant.transform or None, "known": f.variant.known,
        "score": _num(f.score), "delta": _num(f.delta), "ci": [_num(f.ci[0]), _num(f.ci[1])],
        "p": _num(f.p), "closes": _num(f.closes), "closes_ci": [_num(f.closes_ci[0]), _num(f.closes_ci[1])],
        "significant": f.significant, "cause": is_cause(f), "n": f.n, "method": f.method, "calls": f.calls,
        "screened": f.screened or None, "round": f.round, "after": list(f.after), "outputs": _outputs(f.outputs),
        "group": f.group or None, "alike": [name for name, _ in f.alike],
    }


def _floor(floor: Floor) -> dict[str, Any]:
    return {"half_width": _num(floor.half_width), "sd": _num(floor.sd),
            "repeats": {k: _num(v) for k, v in floor.repeats.items()}, "basis": floor.basis, "setup": floor.setup}


def _alternatives(d: Diagnosis) -> list[dict[str, Any]]:
    """Each set of equivalent causes (a group across checks, or a cause and the variants of its
    check that explain the gap alike), how alike they score, and what to ask to decide."""
    questions = {c.id: c.questions for c in d.checks}

    def ask(findings: list[Finding]) -> list[str]:
        out: list[str] = []
        for f in findings:
            keys = {k for k, _ in f.variant.changes} or {"scoring.metric"}
            asked = [q.text for q in questions.get(f.variant.check, ()) if q.key in keys]
            for text in asked or [q.text for q in questions.get(f.variant.check, ())][:1]:
                if text not in out:
                    out.append(text)
        return out

    def names(f: Finding) -> list[str]:
        return [f"{f.variant.check}: {f.variant.name}"] + [f"{f.variant.check}: {n}" for n, _ in f.alike]

    out = []
    for group in sorted({f.group for f in d.ranking if f.group}):
        members = [f for f in d.ranking if f.group == group]
        agree = [agreement(members[0], f) for f in members[1:]] + [a for f in members for _, a in f.alike]
        out.append({"group": group, "members": [n for f in members for n in names(f)],
                    "agree": _num(min(agree)), "ask": ask(members)})
    for f in d.ranking:
        if f.alike and not f.group and is_cause(f):
            out.append({"group": None, "members": names(f), "agree": _num(min(a for _, a in f.alike)),
                        "ask": ask([f])})
    return out


def _unexplained(d: Diagnosis) -> dict[str, Any] | None:
    """A gap beyond noise that the fixes found do not close: the residual and where nobody looked."""
    rec = d.reconciliation
    if d.verdict != "gap" or (rec is not None and rec.within_noise):
        return None
    residual = rec.residual if rec else d.gap
    rounds = max((f.round for f in d.ranking), default=1)
    return {"residual": _num(residual), "rounds": rounds, "never_varied": d.never_varied()}


def report_model(d: Diagnosis) -> dict[str, Any]:
    assert d.yours is not None and d.noise is not None
    s = d.session
    yours_setup = s.yours
    rec = d.reconciliation
    target = rec.setup if rec else yours_setup
    model: dict[str, Any] = {
        "session": s.path,
        "model": {"name": s.model, "fingerprint": d.engine.model.fingerprint},
        "task": {"name": d.yours.task.name, "kind": d.yours.task.kind, "source": d.yours.task.source},
        "yours": {"score": _num(d.yours_score), "n": d.yours.result.n, "stderr": _num(d.yours.result.stderr),
                  "stated": _num(s.yours_score) if s.yours_score is not None else None,
                  "metric": yours_setup.scoring.metric},
        "reported": {"score": _num(s.reported_score), "scale": s.reported_scale, "as_written": s.reported_raw,
                     "source": s.reported_source},
        "gap": _num(d.gap),
        "noise_floor": _floor(d.noise),
        "outputs": _outputs(output_stats(d.yours.scores)),
        "verdict": d.verdict,
        "ranking": [_finding(f) for f in d.ranking],
        "alternatives": _alternatives(d),
        "untested_facts": [{"key": k, "why": why} for k, why in d.untested_facts().items()],
        "unexplained": _unexplained(d),
        "checks": {
            cid: {"status": r.status, "message": r.message, "mde": _num(r.mde), "calls": r.calls,
                  "variants": [_finding(f) for f in r.findings]}
            for cid, r in d.results.items()
        },
        "reconciliation": None if rec is None else {
            "score": _num(rec.score), "residual": _num(rec.residual), "within_noise": rec.within_noise,
            "applied": [{"check": v.check, "variant": v.name} for v in rec.applied],
            "shapley": {k: _num(v) for k, v in rec.shapley.items()},
            "noise_floor": _floor(rec.floor) if rec.floor else None,
        },
        "screening": SCREENING,
        "calls": {"total": d.engine.calls.total, "cached": d.engine.calls.cached, "tokens": d.engine.calls.tokens},
        "setups": {"yours": yours_setup.to_dict(), "reconciled": target.to_dict()},
        "environment": environment(yours_setup.loading.backend),
    }
    model["runs"] = d.runs
    evidence = d.runs_evidence
    for r, f in zip(model["ranking"], d.ranking):
        r["runs_show"] = evidence.support(f)     # 1: the runs show it; -1: their prompts rule it out
    first = d.yours.planned[0]
    theirs_context = first.prompt.context
    if rec is not None and rec.setup != yours_setup:
        _, planned = d.engine.plan(rec.setup, limit=1)
        theirs_context = planned[0].prompt.context
    model["prompt_diff"] = {"doc_id": first.doc.doc_id, "yours": first.prompt.context,
                            "reconciled": theirs_context, "diff": prompt_diff(first.prompt.context, theirs_context)}
    ex = export(target, d.yours.task, model=s.model, limit=d.limit)
    light = lighteval_line(target)
    model["reproduce"] = {
        "scoregap": target.to_toml(),
        "lm_eval": ex.command(),
        "lm_eval_task": ex.task_name,
        "lm_eval_task_file": None,     # where write_reports wrote the YAML
        "lm_eval_task_yaml": ex.yaml(),
        "lm_eval_differs": list(ex.unsupported),
        "lighteval": light.line,
        "lighteval_differs": list(light.differs),
    }
    return model


def default_folder(session_path: str | Path) -> Path:
    """Where a session's reports go unless the user says: ./scoregap-report/<session file's name>
    (beside the work, never in a hidden cache folder)."""
    return Path("scoregap-report") / Path(session_path).stem


def task_file(m: dict[str, Any], directory: Path) -> Path:
    """Where the report in `directory` keeps its lm-eval task YAML."""
    return directory.absolute() / TASK_FOLDER / f"{m['reproduce']['lm_eval_task']}.yaml"


def located(m: dict[str, Any], directory: Path) -> dict[str, Any]:
    """The report model as written to `directory`: the task YAML's path filled in, and the
    lm-eval command's --include_path pointing at its folder."""
    path = task_file(m, directory)
    reproduce = dict(m["reproduce"], lm_eval_task_file=str(path),
                     lm_eval=with_include_path(m["reproduce"]["lm_eval"], str(path.parent)))
    return {**m, "reproduce": reproduce}


def write_reports(m: dict[str, Any], directory: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """report.md, report.html and report.json (or the chosen `formats` of them) in `directory`,
    and the lm-eval task YAML they name (lm-eval-task/<task>.yaml), the YAML last."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report formats {unknown}; formats: {FORMATS}")
    m = located(m, directory)
    texts = {"json": lambda: json.dumps(m, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
             "md": lambda: markdown(m), "html": lambda: html_report(m)}
    written = [write_atomic(directory / f"report.{name}", texts[name]()) for name in FORMATS if name in formats]
    return written + [write_atomic(Path(m["reproduce"]["lm_eval_task_file"]), m["reproduce"]["lm_eval_task_yaml"])]
