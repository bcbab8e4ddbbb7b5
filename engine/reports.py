"""Diagnosis reports: one report model, written as report.json, report.md and report.html.

`report_model` gathers everything a reader needs — the verdict, the ranking, every check's
findings, the reconciliation, a prompt diff of your setup against the reconciled one, the exact
setups, the environment and how to reproduce the reported number — into plain data. The three
writers only format it: the Markdown pastes into a GitHub issue, the HTML is one self-contained
file (inline SVG, every model output and prompt escaped).
"""

from __future__ import annotations

import difflib
import html
import json
import math
from pathlib import Path
from typing import Any, Sequence

from scoregap.engine.checks_api import Finding
from scoregap.engine.diagnosis import Diagnosis
from scoregap.engine.environment import environment
from scoregap.engine.files import write_atomic
from scoregap.engine.lmeval_export import export
from scoregap.engine.ranking import is_cause
from scoregap.engine.scoring import OutputStats, describe_outputs, output_stats

FORMATS = ("md", "html", "json")

SCREENING = ("Variants were first evaluated on a screening subset of the docs (a quarter, at least "
             "60); a variant went on to every doc unless the subset already settled it: its 95% CI "
             "lay inside the noise floor, or wholly on the side that widens the gap (it cannot be a "
             "cause). Numeric variants, and the batch-size repeat of the noise floor, re-ran only "
             "docs whose choice margin could flip. Significance: Holm's correction at 5%, the "
             "variants that test a fact the report states and the exploratory ones as two families, "
             "and an effect must also exceed the noise floor. The reconciliation applies the causes' "
             "fixes in ranking order, keeping each only if it brings the score closer to the "
             "reported one (causes that explain the same gap alone are alternatives, not a sum). "
             "When the fixes found together still "
             "miss the reported score beyond noise, the other checks are run again on top of them "
             "(a cause that another one hid shows up then, marked \"after ...\"; its closes is a "
             "fraction of the gap left after those fixes), up to three rounds.")


def visible(text: str) -> str:
    """Whitespace made visible: ␣ for a space, → for a tab, ↵ for a newline."""
    return text.replace(" ", "␣").replace("\t", "→").replace("\n", "↵\n")


def prompt_diff(a: str, b: str, a_name: str = "yours", b_name: str = "reconciled") -> list[str]:
    lines = difflib.unified_diff(visible(a).splitlines(), visible(b).splitlines(), a_name, b_name, lineterm="", n=2)
    return list(lines)


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
    }


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
        "noise_floor": {"half_width": _num(d.noise.half_width), "sd": _num(d.noise.sd),
                        "repeats": {k: _num(v) for k, v in d.noise.repeats.items()},
                        "basis": d.noise.basis, "setup": d.noise.setup},
        "outputs": _outputs(output_stats(d.yours.scores)),
        "verdict": d.verdict,
        "ranking": [_finding(f) for f in d.ranking],
        "checks": {
            cid: {"status": r.status, "message": r.message, "mde": _num(r.mde), "calls": r.calls,
                  "variants": [_finding(f) for f in r.findings]}
            for cid, r in d.results.items()
        },
        "reconciliation": None if rec is None else {
            "score": _num(rec.score), "residual": _num(rec.residual), "within_noise": rec.within_noise,
            "applied": [{"check": v.check, "variant": v.name} for v in rec.applied],
            "shapley": {k: _num(v) for k, v in rec.shapley.items()},
        },
        "screening": SCREENING,
        "calls": {"total": d.engine.calls.total, "cached": d.engine.calls.cached},
        "setups": {"yours": yours_setup.to_dict(), "reconciled": target.to_dict()},
        "environment": environment(yours_setup.loading.backend),
    }
    first = d.yours.planned[0]
    theirs_context = first.prompt.context
    if rec is not None and rec.setup != yours_setup:
        _, planned = d.engine.plan(rec.setup, limit=1)
        theirs_context = planned[0].prompt.context
    model["prompt_diff"] = {"doc_id": first.doc.doc_id, "yours": first.prompt.context,
                            "reconciled": theirs_context, "diff": prompt_diff(first.prompt.context, theirs_context)}
    ex = export(target, d.yours.task, model=s.model, limit=d.limit)
    model["reproduce"] = {
        "scoregap": target.to_toml(),
        "lm_eval": ex.command(),
        "lm_eval_task_yaml": ex.yaml(),
        "lm_eval_differs": list(ex.unsupported),
    }
    return model


# -- writers ------------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def _signed(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.1f}"


def _ci(ci: list[float | None]) -> str:
    return "—" if None in ci else f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"  # type: ignore[operator]


def verdict_line(m: dict[str, Any]) -> str:
    gap, noise = m["gap"], m["noise_floor"]["half_width"]
    if m["verdict"] == "within_noise":
        return (f"The gap of {_signed(gap)} points is within the noise floor (±{_pct(noise)} points): "
                f"no cause needed.")
    line = f"Reported {_pct(m['reported']['score'])}, yours {_pct(m['yours']['score'])}: a gap of {_signed(gap)} points (noise floor ±{_pct(noise)})."
    rec = m["reconciliation"]
    if rec:
        fixes = ", ".join(f"{a['check']}: {a['variant']}" for a in rec["applied"])
        line += (f" With {fixes} applied you score {_pct(rec['score'])}; residual {_signed(rec['residual'])} "
                 f"points, {'within' if rec['within_noise'] else 'beyond'} noise.")
    else:
        line += " No check explained it significantly."
    return line


def _closes(r: dict[str, Any]) -> str:
    """closes as a percentage; a later round's closes is of the gap left after earlier fixes."""
    if r["closes"] is None:
        return "—"
    return f"{_pct(r['closes'])}%" + (" of the rest" if r.get("round", 1) > 1 else "")


def markdown(m: dict[str, Any]) -> str:
    out = [f"# scoregap diagnosis: {m['task']['name']} on {m['model']['name']}", "", f"**{verdict_line(m)}**", ""]
    out += [f"Noise floor: ±{_pct(m['noise_floor']['half_width'])} points. {m['noise_floor']['basis']}", ""]
    if m.get("outputs"):
        out += [f"Your outputs: {m['outputs']['text']}", ""]
    out += ["## Ranked causes", "", "| # | check | variant | score | Δ (points) | 95% CI | closes | p | significant |",
            "|---|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(m["ranking"], 1):
        after = f" (after {', '.join(r['after'])})" if r["after"] else ""
        out.append(f"| {i} | {r['check']} | {r['variant']}{after} | {_pct(r['score'])} | {_signed(r['delta'])} | "
                   f"{_ci(r['ci'])} | {_closes(r)} | {r['p']:.2g} | {'yes' if r['significant'] else 'no'} |")
    rec = m["reconciliation"]
    if rec:
        out += ["", "## Reconciliation", "", verdict_line(m), ""]
        if rec["shapley"]:
            out += ["Shapley split of the gap:", ""]
            out += [f"- {k}: {_signed(v)} points" for k, v in rec["shapley"].items()]
    out += ["", "## Checks", ""]
    for cid, c in m["checks"].items():
        out.append(f"### {cid} — {c['status']}")
        if c["message"]:
            out.append(f"\n{c['message']}\n")
        if c["variants"]:
            out += ["", "| variant | score | Δ | 95% CI | closes | n | calls | outputs |",
                    "|---|---|---|---|---|---|---|---|"]
            for v in c["variants"]:
                star = " (known)" if v["known"] else ""
                out.append(f"| {v['variant']}{star} | {_pct(v['score'])} | {_signed(v['delta'])} | {_ci(v['ci'])} | "
                           f"{_closes(v)} | {v['n']}{' (screened: ' + v['screened'] + ')' if v['screened'] else ''} | "
                           f"{v['calls']} | {_outputs_cell(v['outputs'])} |")
            out.append(f"\nMinimum detectable effect: {_pct(c['mde'])} points.")
        out.append("")
    out += ["## Prompt: yours vs reconciled (doc %d)" % m["prompt_diff"]["doc_id"], "", "```diff"]
    out += m["prompt_diff"]["diff"] or ["(identical)"]
    out += ["```", "", "## Reproduce the reported score", "", "scoregap setup:", "", "```toml",
            m["reproduce"]["scoregap"].rstrip(), "```", "", "lm-evaluation-harness (write the task YAML below to TASK_DIR):",
            "", "```sh", m["reproduce"]["lm_eval"], "```"]
    if m["reproduce"]["lm_eval_differs"]:
        out += ["", "lm-eval cannot express: " + "; ".join(m["reproduce"]["lm_eval_differs"])]
    out += ["", "## How this was computed", "", m["screening"],
            f"Model calls: {m['calls']['total']} ({m['calls']['cached']} answered from the cache).", "",
            "## Environment", "", "```json", json.dumps(m["environment"], indent=2), "```", ""]
    return "\n".join(out)


def _outputs_cell(o: dict[str, Any] | None) -> str:
    if not o:
        return ""
    cells = []
    if "stop" in o:
        cells.append(f"stop {_pct(o['stop'])}%, truncated {_pct(o['length'])}%")
    if o["doubled_bos"]:
        cells.append(f"doubled BOS {o['doubled_bos']}/{o['n']}")
    return "; ".join(cells)


def _svg_effects(m: dict[str, Any]) -> str:
    rows = m["ranking"]
    if not rows:
        return ""
    values = [abs(x) for r in rows for x in r["ci"] if x is not None] + [abs(m["gap"] or 0)]
    scale = 200 / max(max(values), 1e-9)
    height = 24 * len(rows) + 30
    parts = [f'<svg width="640" height="{height}" role="img" aria-label="effects with 95% CIs">',
             f'<line x1="420" y1="0" x2="420" y2="{height}" stroke="#888"/>']
    gap_x = 420 + (m["gap"] or 0) * scale
    parts.append(f'<line x1="{gap_x:.1f}" y1="0" x2="{gap_x:.1f}" y2="{height}" stroke="#c33" stroke-dasharray="4"/>')
    for i, r in enumerate(rows):
        y = 20 + 24 * i
        label = html.escape(f"{r['check']}: {r['variant']}")
        parts.append(f'<text x="0" y="{y + 4}" font-size="12">{label}</text>')
        x0, x1 = sorted((420, 420 + (r["delta"] or 0) * scale))
        color = "#2a7" if r["significant"] else "#aaa"
        parts.append(f'<rect x="{x0:.1f}" y="{y - 7}" width="{max(x1 - x0, 1):.1f}" height="14" fill="{color}"/>')
        if None not in r["ci"]:
            a, b = 420 + r["ci"][0] * scale, 420 + r["ci"][1] * scale
            parts.append(f'<line x1="{a:.1f}" y1="{y}" x2="{b:.1f}" y2="{y}" stroke="#000"/>')
    parts.append("</svg>")
    return "".join(parts)


def html_report(m: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{i}</td><td>{e(r['check'])}</td><td>{e(r['variant'])}</td><td>{_pct(r['score'])}</td>"
        f"<td>{_signed(r['delta'])}</td><td>{_ci(r['ci'])}</td><td>{e(_closes(r))}</td>"
        f"<td>{'yes' if r['significant'] else 'no'}</td></tr>"
        for i, r in enumerate(m["ranking"], 1)
    )
    checks = "".join(
        f"<h3>{e(cid)} — {e(c['status'])}</h3><p>{e(c['message'])}</p><table><tr><th>variant</th><th>score</th>"
        f"<th>Δ</th><th>95% CI</th><th>closes</th><th>n</th><th>outputs</th></tr>"
        + "".join(f"<tr><td>{e(v['variant'])}</td><td>{_pct(v['score'])}</td><td>{_signed(v['delta'])}</td>"
                  f"<td>{_ci(v['ci'])}</td><td>{e(_closes(v))}</td><td>{v['n']}</td>"
                  f"<td>{e(_outputs_cell(v['outputs']))}</td></tr>" for v in c["variants"])
        + "</table>"
        for cid, c in m["checks"].items()
    )
    diff = e("\n".join(m["prompt_diff"]["diff"]) or "(identical)")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>scoregap: {e(m['task']['name'])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}
pre{{background:#f6f6f6;padding:8px;overflow:auto}}</style></head><body>
<h1>scoregap diagnosis: {e(m['task']['name'])} on {e(m['model']['name'])}</h1>
<p><strong>{e(verdict_line(m))}</strong></p>
<p>Noise floor: ±{_pct(m['noise_floor']['half_width'])} points. {e(m['noise_floor']['basis'])}</p>
<p>{e(('Your outputs: ' + m['outputs']['text']) if m.get('outputs') else '')}</p>
<h2>Effects (points, 95% CI; dashed: the gap)</h2>{_svg_effects(m)}
<h2>Ranked causes</h2><table><tr><th>#</th><th>check</th><th>variant</th><th>score</th><th>Δ</th><th>95% CI</th><th>closes</th><th>significant</th></tr>{rows}</table>
<h2>Checks</h2>{checks}
<h2>Prompt: yours vs reconciled</h2><pre>{diff}</pre>
<h2>Reproduce</h2><pre>{e(m['reproduce']['scoregap'])}</pre><pre>{e(m['reproduce']['lm_eval'])}</pre>
<h2>How this was computed</h2><p>{e(m['screening'])}</p>
<h2>Environment</h2><pre>{e(json.dumps(m['environment'], indent=2))}</pre>
</body></html>
"""


def write_reports(m: dict[str, Any], directory: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """report.md, report.html and report.json (or the chosen `formats` of them) in `directory`."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report formats {unknown}; formats: {FORMATS}")
    texts = {"json": lambda: json.dumps(m, indent=2, ensure_ascii=False) + "\n",
             "md": lambda: markdown(m), "html": lambda: html_report(m)}
    return [write_atomic(directory / f"report.{name}", texts[name]()) for name in FORMATS if name in formats]
