"""The report model as text: Markdown (to paste into an issue) and one self-contained HTML file.

Both say the same things in the same order: the verdict, the noise floor and what made it, the
causes (equivalent ones together, with the question that would decide between them), the
significant effects that are not causes, what stays unexplained and what was never varied, the
reconciliation, every check's variants, the prompt diff and how to reproduce the number. Every
figure is formatted here once (`closes_text`, `score_text`, `p_text`), so a closes above 200% is
never printed as a percentage and a screened score never appears without its n.
"""

from __future__ import annotations

import difflib
import html
import json
import re
from pathlib import Path
from typing import Any, Callable

from scoregap.engine.lmeval_export import shell_lines


def visible(text: str) -> str:
    """Whitespace made visible: ␣ for a space, → for a tab, ↵ for a newline."""
    return text.replace(" ", "␣").replace("\t", "→").replace("\n", "↵\n")


def prompt_diff(a: str, b: str, a_name: str = "yours", b_name: str = "reconciled") -> list[str]:
    lines = difflib.unified_diff(visible(a).splitlines(), visible(b).splitlines(), a_name, b_name, lineterm="", n=2)
    return list(lines)


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def signed(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.1f}"


def ci_text(ci: list[float | None]) -> str:
    return "—" if None in ci else f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"  # type: ignore[operator]


def p_text(p: float | None) -> str:
    return "—" if p is None else "< 0.001" if p < 0.001 else f"{p:.2g}"


def closes_text(r: dict[str, Any]) -> str:
    """The share of the gap a variant closes: "widens" below 0, "overshoots" above 200%; a later
    round's share is of the gap its earlier fixes left."""
    closes = r["closes"]
    if closes is None:
        return "—"
    if closes < 0:
        return "widens"
    if closes > 2:
        return "overshoots"
    return f"{100 * closes:.0f}%" + (" of the rest" if r.get("round", 1) > 1 else "")


def sig_text(significant: bool, screened: str | None, settled: bool = True) -> str:
    """Significance in a word: a variant settled on a screening subset says why instead ("noise":
    inside the noise floor, or no gap beyond it to close; "away": surely not a cause), so its n
    reads as a subset's."""
    if screened:
        return "noise" if "noise floor" in screened else "away"
    if not settled:
        return "…"
    return "yes" if significant else "no"


def score_text(r: dict[str, Any], n: int) -> str:
    """A variant's score, with its n when it rests on fewer docs than yours (screened)."""
    return pct(r["score"]) + (f" (n={r['n']})" if r["n"] < n else "")


def outputs_cell(o: dict[str, Any] | None) -> str:
    if not o:
        return ""
    cells = []
    if "stop" in o:
        cells.append(f"stop {pct(o['stop'])}%, truncated {pct(o['length'])}%")
    if o["doubled_bos"]:
        cells.append(f"doubled BOS {o['doubled_bos']}/{o['n']}")
    return "; ".join(cells)


def numbering(rows: list[dict[str, Any]]) -> list[str]:
    """1, 2a, 2b, 3: members of one group of equivalent causes share a number."""
    out, number, last = [], 0, None
    letters = "abcdefghij"
    seen: dict[int, int] = {}
    for r in rows:
        group = r.get("group") or 0
        if group and group == last:
            seen[group] += 1
            out.append(f"{number}{letters[seen[group]]}")
            continue
        number += 1
        last = group
        if group:
            seen[group] = 0
            out.append(f"{number}a")
        else:
            out.append(str(number))
    return out


def verdict_line(m: dict[str, Any]) -> str:
    gap, noise = m["gap"], m["noise_floor"]["half_width"]
    if m["verdict"] == "within_noise":
        return (f"The gap of {signed(gap)} points is within the noise floor (±{pct(noise)} points): "
                f"no cause needed.")
    line = (f"Reported {pct(m['reported']['score'])}, yours {pct(m['yours']['score'])}: a gap of {signed(gap)} "
            f"points (noise floor ±{pct(noise)}).")
    rec = m["reconciliation"]
    if rec:
        fixes = ", ".join(f"{a['check']}: {a['variant']}" for a in rec["applied"])
        floor = rec["noise_floor"]["half_width"] if rec.get("noise_floor") else noise
        line += (f" With {fixes} applied you score {pct(rec['score'])}; residual {signed(rec['residual'])} "
                 f"points, {'within' if rec['within_noise'] else 'beyond'} the noise there (±{pct(floor)}).")
    else:
        line += " No check explained it significantly."
    return line


def alternatives_lines(m: dict[str, Any]) -> list[str]:
    """One paragraph per group of equivalent causes."""
    out = []
    for g in m.get("alternatives", []):
        ask = " ".join(g["ask"])
        out.append(f"**Equivalent on these docs:** {' / '.join(g['members'])} each close the gap alone and score "
                   f"{100 * g['agree']:.0f}% of the docs alike, so the data cannot tell them apart: either "
                   f"explains the gap. What the report states decides; ask: {ask}")
    return out


def unexplained_line(m: dict[str, Any], code: Callable[[str], str] = lambda k: k) -> str:
    """The residual nothing explained, in words; `code` quotes each setup key in the caller's
    format (the keys are validated setup names, the rest of the sentence is ours)."""
    u = m.get("unexplained")
    if not u:
        return ""
    keys = ", ".join(code(k) for k in u["never_varied"]) or "none"
    return (f"A residual of {signed(u['residual'])} points beyond the noise floor remains after "
            f"{u['rounds']} round(s): nothing this diagnosis varied explains it. Never varied: {keys}. "
            f"Look there, or at what the report does not state.")


_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&!])")
_MD_BLOCK_START = re.compile(r"([#+=-]|\d+[.)])")


def lighteval_text(m: dict[str, Any], code: Callable[[str], str] = lambda t: t,
                   plain: Callable[[str], str] = lambda t: t) -> str:
    """The reconciled setup as a lighteval task line, or why it has none."""
    r = m["reproduce"]
    if r.get("lighteval"):
        return f"lighteval task: {code(r['lighteval'])}"
    return "lighteval: no task line (a lighteval task is Python; this setup differs from it in " + \
        plain(", ".join(r.get("lighteval_differs", [])) or "its task") + ")."


def lmeval_intro(m: dict[str, Any], code: Callable[[str], str] = lambda t: t,
                 plain: Callable[[str], str] = lambda t: t) -> str:
    """Where the task YAML is, before the lm-eval command that reads it (`code` quotes the path)."""
    path = m["reproduce"].get("lm_eval_task_file")
    if path:
        return plain("lm-evaluation-harness: the task YAML is written beside this report, at ") + code(path) + \
            plain("; run:")
    return plain("lm-evaluation-harness: write the task YAML below to a folder of its own, and give that folder "
                 "as --include_path (TASK_DIR):")


def code_span(text: str) -> str:
    """`text` as Markdown inline code: delimited by more backticks than any run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{' '.join(text.splitlines())}{pad}{ticks}"


def _task_name(m: dict[str, Any]) -> str:
    path = m["reproduce"].get("lm_eval_task_file")
    return Path(path).name if path else ""


def runs_lines(m: dict[str, Any]) -> list[str]:
    """What the session's runs show (report.json `runs`), as sentences; [] when it names none."""
    runs = m.get("runs") or {}
    lines = list((runs.get("comparison") or {}).get("lines", []))
    if runs.get("remeasure"):
        lines.append(runs["remeasure"]["line"])
    if runs.get("chat_template"):
        lines.append(runs["chat_template"]["line"])
    if runs.get("error"):
        lines.append(f"The session's runs could not be read: {runs['error']}")
    return lines


DOC_COLUMNS = ("doc", "outcome", "prompts", "question")
MD_DOC_ROWS = 30     # docs of two compared runs a Markdown or HTML report lists (report.json: all kept)


def doc_cells(row: dict[str, Any]) -> dict[str, str]:
    """One doc of two compared runs (`runs.doc_rows`) as table cells."""
    if row["identical"]:
        prompts = "identical"
    elif row.get("tokens"):
        t = row["tokens"]
        prompts = f"part at token {t['first']} ({t['yours']} vs {t['reported']} tokens)"
    else:
        prompts = f"part at character {row['parts_at']}"
    doc = f"{row['subtask']} {row['doc_id']}" if row.get("subtask") else str(row["doc_id"])
    return {"doc": doc, "outcome": row["outcome"] or "not logged", "prompts": prompts, "question": row["question"]}


def doc_lines_intro(c: dict[str, Any]) -> str:
    listed, differing = len(c.get("docs", [])), c.get("docs_differing", 0)
    more = f" (the first {listed} listed, flips first)" if listed < differing else " (flips first)"
    return f"{differing} of the {c['matched']} matched docs differ in outcome or prompt{more}."


def md(text: object) -> str:
    """A string from the user, a file or the model, made inert in Markdown: one line (a newline
    could start a heading or a fence), no leading spaces (an indented code block), and every mark
    that opens inline markup, a link or raw HTML backslash-escaped (CommonMark lets any ASCII
    punctuation be escaped), `|` included for tables; a line-start heading, list or quote mark too."""
    line = " ".join(str(text).splitlines()).lstrip()
    line = _MD_INLINE.sub(r"\\\1", line)
    start = _MD_BLOCK_START.match(line)
    if start:   # escape the mark itself: "\#", "\-", "1\."
        at = start.end() - 1
        line = line[:at] + "\\" + line[at:]
    return line


def fence(text: str, lang: str = "") -> list[str]:
    """`text` in a code fence longer than any run of backticks inside it, so nothing closes it early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return [ticks + lang, text, ticks]


def markdown(m: dict[str, Any]) -> str:
    """The report for a GitHub issue. Everything that did not come from scoregap itself — task and
    model names, variant and repeat names, messages, prompts, setups, commands — goes through `md`
    (inline) or `fence` (blocks)."""
    n = m["yours"]["n"]
    out = [f"# scoregap diagnosis: {md(m['task']['name'])} on {md(m['model']['name'])}", "",
           f"**{md(verdict_line(m))}**", ""]
    if runs_lines(m):
        out += ["## What the two runs show", ""] + [f"- {md(line)}" for line in runs_lines(m)] + [""]
        comparison = (m.get("runs") or {}).get("comparison") or {}
        first = comparison.get("first_difference")
        if first:
            out += [f"First differing prompt (your doc {first['doc_id']}):", ""]
            out += fence("\n".join(prompt_diff(first["yours"], first["reported"], "yours", "reported")[:40]), "diff")
            out.append("")
        if comparison.get("docs"):
            out += ["### Doc by doc", "", md(doc_lines_intro(comparison)) + " report.json holds both prompts of each.", "",
                    "| " + " | ".join(DOC_COLUMNS) + " |", "|" + "---|" * len(DOC_COLUMNS)]
            for row in comparison["docs"][:MD_DOC_ROWS]:
                cells = doc_cells(row)
                out.append("| " + " | ".join(md(cells[c]) for c in DOC_COLUMNS) + " |")
            if len(comparison["docs"]) > MD_DOC_ROWS:
                out.append(f"\n{len(comparison['docs']) - MD_DOC_ROWS} more in report.json.")
            out.append("")
    out += [f"Noise floor: ±{pct(m['noise_floor']['half_width'])} points. {md(m['noise_floor']['basis'])}", ""]
    if m.get("outputs"):
        out += [f"Your outputs: {md(m['outputs']['text'])}", ""]
    if m.get("untested_facts"):
        out += ["**Stated facts that could not be tested:**", ""]
        out += [f"- {md(f['why'])}" for f in m["untested_facts"]] + [""]
    causes = [r for r in m["ranking"] if r["cause"]]
    out += ["## Ranked causes", ""]
    if causes:
        out += ["| # | check | variant | score | Δ (points) | 95% CI | closes | p |", "|---|---|---|---|---|---|---|---|"]
        for label, r in zip(numbering(causes), causes):
            after = f" (after {', '.join(r['after'])})" if r["after"] else ""
            after += f" (or {' / '.join(r['alike'])})" if r.get("alike") else ""
            after += runs_note(r)
            out.append(f"| {label} | {md(r['check'])} | {md(r['variant'] + after)} | {score_text(r, n)} | "
                       f"{signed(r['delta'])} | {ci_text(r['ci'])} | {closes_text(r)} | {p_text(r['p'])} |")
        out += [""] + [md(line) + "\n" for line in alternatives_lines(m)]
    else:
        out += ["No check explained the gap significantly.", ""]
    others = [r for r in m["ranking"] if r["significant"] and not r["cause"]]
    if others:
        out += ["## Significant effects that are not causes", "",
                "They move your score beyond noise, but away from the reported one or past it by more than the gap.",
                "", "| check | variant | score | Δ (points) | 95% CI | closes |", "|---|---|---|---|---|---|"]
        out += [f"| {md(r['check'])} | {md(r['variant'])} | {score_text(r, n)} | {signed(r['delta'])} | "
                f"{ci_text(r['ci'])} | {closes_text(r)} |" for r in others]
        out.append("")
    if m.get("unexplained"):
        out += ["## Not explained", "", unexplained_line(m, code=lambda k: f"`{k}`"), ""]
    rec = m["reconciliation"]
    if rec:
        out += ["## Reconciliation", "", md(verdict_line(m)), ""]
        if rec.get("noise_floor"):
            out += [f"Noise floor at the reconciled setup: ±{pct(rec['noise_floor']['half_width'])} points. "
                    f"{md(rec['noise_floor']['basis'])}", ""]
        if rec["shapley"]:
            out += ["Shapley split of the gap:", ""]
            out += [f"- {md(k)}: {signed(v)} points" for k, v in rec["shapley"].items()] + [""]
    out += ["## Checks", ""]
    for cid, c in m["checks"].items():
        out.append(f"### {md(cid)} — {md(c['status'])}")
        if c["message"]:
            out += ["", md(c["message"]), ""]
        if c["variants"]:
            out += ["", "| variant | score | Δ | 95% CI | closes | n | calls | outputs |",
                    "|---|---|---|---|---|---|---|---|"]
            for v in c["variants"]:
                star = " (known)" if v["known"] else ""
                screened = f" (screened: {v['screened']})" if v["screened"] else ""
                out.append(f"| {md(v['variant'] + star)} | {pct(v['score'])} | {signed(v['delta'])} | "
                           f"{ci_text(v['ci'])} | {closes_text(v)} | {v['n']}{md(screened)} | {v['calls']} | "
                           f"{md(outputs_cell(v['outputs']))} |")
            out.append(f"\nMinimum detectable effect: {pct(c['mde'])} points.")
        out.append("")
    out += [f"## Prompt: yours vs reconciled (doc {m['prompt_diff']['doc_id']})", ""]
    out += fence("\n".join(m["prompt_diff"]["diff"]) or "(identical)", "diff")
    out += ["", "## Reproduce the reported score", "", "scoregap setup:", ""]
    out += fence(m["reproduce"]["scoregap"].rstrip(), "toml")
    out += ["", lmeval_intro(m, code=code_span, plain=md), ""]
    out += fence(shell_lines(m["reproduce"]["lm_eval"]), "sh")
    if m["reproduce"].get("lm_eval_task_yaml"):
        out += ["", f"The task YAML ({code_span(_task_name(m))}):" if _task_name(m) else "The task YAML:", ""]
        out += fence(m["reproduce"]["lm_eval_task_yaml"].rstrip(), "yaml")
    if m["reproduce"]["lm_eval_differs"]:
        out += ["", "lm-eval cannot express: " + md("; ".join(m["reproduce"]["lm_eval_differs"]))]
    out += ["", lighteval_text(m, code=lambda t: f"`{t}`", plain=md)]
    out += ["", "## How this was computed", "", m["screening"],
            f"Model calls: {m['calls']['total']} ({m['calls']['cached']} answered from the cache).", "",
            "## Environment", ""]
    out += fence(json.dumps(m["environment"], indent=2), "json") + [""]
    return "\n".join(out)


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
        color = "#2a7" if r["cause"] else "#c93" if r["significant"] else "#aaa"
        parts.append(f'<rect x="{x0:.1f}" y="{y - 7}" width="{max(x1 - x0, 1):.1f}" height="14" fill="{color}"/>')
        if None not in r["ci"]:
            a, b = 420 + r["ci"][0] * scale, 420 + r["ci"][1] * scale
            parts.append(f'<line x1="{a:.1f}" y1="{y}" x2="{b:.1f}" y2="{y}" stroke="#000"/>')
    parts.append("</svg>")
    return "".join(parts)


def runs_note(r: dict[str, Any]) -> str:
    """What the two logged runs say of a ranked fix (engine/ranking.py::RunsEvidence)."""
    support = r.get("runs_show", 0)
    if support > 0:
        return " (the runs show it)"
    return " (the runs' prompts were identical: not why they differ)" if support < 0 else ""


def _rows(e: Any, rows: list[dict[str, Any]], n: int, labels: list[str] | None = None) -> str:
    return "".join(
        (f"<tr><td>{e(labels[i])}</td>" if labels else "<tr>")
        + f"<td>{e(r['check'])}</td><td>{e(r['variant'] + runs_note(r))}</td><td>{e(score_text(r, n))}</td><td>{signed(r['delta'])}</td>"
        f"<td>{ci_text(r['ci'])}</td><td>{e(closes_text(r))}</td></tr>"
        for i, r in enumerate(rows)
    )


def _html_docs(e: Any, c: dict[str, Any]) -> str:
    """Two compared runs doc by doc: a table, each doc's prompts diffed under a fold."""
    if not c.get("docs"):
        return ""
    rows = ""
    for row in c["docs"][:MD_DOC_ROWS]:
        cells = doc_cells(row)
        diff = "\n".join(prompt_diff(row["yours"], row["reported"], "yours", "reported")[:40]) or "(identical)"
        rows += ("<tr>" + "".join(f"<td>{e(cells[k])}</td>" for k in DOC_COLUMNS)
                 + f"<td><details><summary>diff</summary><pre>{e(diff)}</pre></details></td></tr>")
    head = "".join(f"<th>{k}</th>" for k in DOC_COLUMNS)
    return f"<h3>Doc by doc</h3><p>{e(doc_lines_intro(c))}</p><table><tr>{head}<th></th></tr>{rows}</table>"


def html_report(m: dict[str, Any]) -> str:
    e = html.escape
    n = m["yours"]["n"]
    causes = [r for r in m["ranking"] if r["cause"]]
    others = [r for r in m["ranking"] if r["significant"] and not r["cause"]]
    head = "<tr>{}<th>check</th><th>variant</th><th>score</th><th>Δ</th><th>95% CI</th><th>closes</th></tr>"
    cause_table = (f"<table>{head.format('<th>#</th>')}{_rows(e, causes, n, numbering(causes))}</table>"
                   if causes else "<p>No check explained the gap significantly.</p>")
    groups = "".join(f"<p>{e(line)}</p>" for line in alternatives_lines(m))
    other_table = (f"<h2>Significant effects that are not causes</h2><table>{head.format('')}{_rows(e, others, n)}</table>"
                   if others else "")
    why = unexplained_line(m, code=lambda k: f"<code>{e(k)}</code>")
    unexplained = f"<h2>Not explained</h2><p>{why}</p>" if why else ""
    checks = "".join(
        f"<h3>{e(cid)} — {e(c['status'])}</h3><p>{e(c['message'])}</p><table><tr><th>variant</th><th>score</th>"
        f"<th>Δ</th><th>95% CI</th><th>closes</th><th>n</th><th>outputs</th></tr>"
        + "".join(f"<tr><td>{e(v['variant'])}</td><td>{pct(v['score'])}</td><td>{signed(v['delta'])}</td>"
                  f"<td>{ci_text(v['ci'])}</td><td>{e(closes_text(v))}</td><td>{v['n']}</td>"
                  f"<td>{e(outputs_cell(v['outputs']))}</td></tr>" for v in c["variants"])
        + "</table>"
        for cid, c in m["checks"].items()
    )
    diff = e("\n".join(m["prompt_diff"]["diff"]) or "(identical)")
    runs = ("<h2>What the two runs show</h2><ul>" + "".join(f"<li>{e(line)}</li>" for line in runs_lines(m))
            + "</ul>" + _html_docs(e, (m.get("runs") or {}).get("comparison") or {})) if runs_lines(m) else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>scoregap: {e(m['task']['name'])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}
pre{{background:#f6f6f6;padding:8px;overflow:auto}}</style></head><body>
<h1>scoregap diagnosis: {e(m['task']['name'])} on {e(m['model']['name'])}</h1>
<p><strong>{e(verdict_line(m))}</strong></p>
{runs}
<p>Noise floor: ±{pct(m['noise_floor']['half_width'])} points. {e(m['noise_floor']['basis'])}</p>
<p>{e(('Your outputs: ' + m['outputs']['text']) if m.get('outputs') else '')}</p>
{''.join(f"<p><strong>Stated but not testable:</strong> {e(f['why'])}</p>" for f in m.get('untested_facts', []))}
<h2>Effects (points, 95% CI; dashed: the gap)</h2>{_svg_effects(m)}
<h2>Ranked causes</h2>{cause_table}{groups}{other_table}{unexplained}
<h2>Checks</h2>{checks}
<h2>Prompt: yours vs reconciled</h2><pre>{diff}</pre>
<h2>Reproduce</h2><p>scoregap setup:</p><pre>{e(m['reproduce']['scoregap'])}</pre>
<p>{lmeval_intro(m, code=lambda t: f"<code>{e(t)}</code>", plain=e)}</p><pre>{e(shell_lines(m['reproduce']['lm_eval']))}</pre>
<p>The task YAML{e(' (' + _task_name(m) + ')') if _task_name(m) else ''}:</p><pre>{e(m['reproduce'].get('lm_eval_task_yaml', ''))}</pre>
{('<p>lm-eval cannot express: ' + e('; '.join(m['reproduce']['lm_eval_differs'])) + '</p>') if m['reproduce']['lm_eval_differs'] else ''}
<p>{lighteval_text(m, code=lambda t: f"<code>{e(t)}</code>", plain=e)}</p>
<h2>How this was computed</h2><p>{e(m['screening'])}</p>
<h2>Environment</h2><pre>{e(json.dumps(m['environment'], indent=2))}</pre>
</body></html>
"""
