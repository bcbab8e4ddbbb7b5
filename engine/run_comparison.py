"""Two runs compared side by side, with zero model calls.

`compare_runs` matches docs by content (the tool's document hash, else the question text), diffs
the prompts, counts the outcomes (both right / only yours / only reported / both wrong) and tests
them (exact McNemar on the flips), and names the setting keys whose difference the prompts show;
`doc_rows` lists the docs that differ one by one. That is the strongest evidence of why two
numbers differ: the two runs themselves, on the same documents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os.path import commonprefix  # of any strings, not only paths
from typing import Any

from scoregap.engine import stats
from scoregap.engine.runs import FACT_NAMES, LoggedDoc, LoggedRun, question_key

# ---------------------------------------------------------------------------------------------
# Matching


def match_docs(a: Sequence[LoggedDoc], b: Sequence[LoggedDoc]) -> list[tuple[LoggedDoc, LoggedDoc]]:
    """Pairs of the same doc in two runs, by content, never by position: the tool's doc hash when
    both log one, else the question text (exact, then contained in the other run's last prompt
    segment, among docs with the same number of requests). A doc matched twice is matched once."""
    pairs: list[tuple[LoggedDoc, LoggedDoc]] = []
    used: set[int] = set()
    by_hash: dict[str, list[int]] = {}
    by_question: dict[str, list[int]] = {}
    for j, doc in enumerate(b):
        if doc.doc_hash:
            by_hash.setdefault(doc.doc_hash, []).append(j)
        by_question.setdefault(question_key(doc.question), []).append(j)
    left: list[LoggedDoc] = []
    for doc in a:
        j = _first_unused(by_hash.get(doc.doc_hash, []) if doc.doc_hash else [], used)
        if j is None:
            j = _first_unused(by_question.get(question_key(doc.question), []), used)
        if j is None:
            left.append(doc)
            continue
        used.add(j)
        pairs.append((doc, b[j]))
    if left:   # one tool logs the raw question, the other only the prompt holding it
        rest = [j for j in range(len(b)) if j not in used]
        for doc in left:
            q = question_key(doc.question)
            if len(q) < 8:
                continue
            for j in rest:
                other = b[j]
                if j not in used and len(other.requests) == len(doc.requests) and (
                        q in question_key(_tail(other.context)) or
                        question_key(other.question) in question_key(_tail(doc.context))):
                    used.add(j)
                    pairs.append((doc, other))
                    break
    return pairs


def _first_unused(candidates: list[int], used: set[int]) -> int | None:
    return next((j for j in candidates if j not in used), None)


def _tail(context: str) -> str:
    """The last part of a prompt (after its last blank line): the doc itself, not its shots."""
    parts = [p for p in re.split(r"\n\s*\n", context) if p.strip()]
    return parts[-1] if parts else context


# ---------------------------------------------------------------------------------------------
# Comparison


@dataclass(frozen=True)
class SettingDifference:
    key: str          # a dotted setup key, or a recorded field no key holds ("chat template hash")
    yours: Any
    reported: Any
    evidence: str     # what the prompts show about it


@dataclass(frozen=True)
class RunComparison:
    yours: LoggedRun
    reported: LoggedRun
    matched: int
    only_yours: int                     # docs logged by your run and not by the reported one
    only_reported: int
    outcomes: dict[str, int]            # "both right", "only yours", "only reported", "both wrong"
    test: stats.Comparison | None       # reported vs yours on the matched docs (exact McNemar on 0/1)
    identical_prompts: int              # matched docs whose every request is the same string pair
    differences: tuple[SettingDifference, ...]
    first_pair: tuple[LoggedDoc, LoggedDoc] | None   # the first matched doc whose prompts differ
    prompt_evidence: tuple[str, ...]    # what all differing prompts have in common, in words
    pairs: tuple[tuple[LoggedDoc, LoggedDoc], ...] = field(default=(), repr=False)   # every matched doc

    @property
    def first_difference(self) -> tuple[int, str, str] | None:
        """(your doc id, your prompt, the reported prompt), each continuation shown as ⟨...⟩."""
        if self.first_pair is None:
            return None
        mine, theirs = self.first_pair
        return mine.doc_id, _shown_request(mine), _shown_request(theirs)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(d.key for d in self.differences if "." in d.key)

    def to_dict(self, tokenizer: Any = None) -> dict[str, Any]:
        """As data; with a tokenizer, the differing docs say where their prompts part in tokens."""
        t = self.test
        return {
            "yours": {"path": self.yours.path, "tool": self.yours.tool, "task": self.yours.task,
                      "score": self.yours.score, "metric": self.yours.metric, "filter": self.yours.filter},
            "reported": {"path": self.reported.path, "tool": self.reported.tool, "task": self.reported.task,
                         "score": self.reported.score, "metric": self.reported.metric,
                         "filter": self.reported.filter},
            "matched": self.matched, "only_yours": self.only_yours, "only_reported": self.only_reported,
            "outcomes": dict(self.outcomes),
            "test": None if t is None else {"delta": t.delta, "ci": list(t.ci), "p": t.p, "n": t.n,
                                            "method": t.method, "discordant": list(t.discordant)},
            "identical_prompts": self.identical_prompts,
            "differences": [{"key": d.key, "yours": d.yours, "reported": d.reported, "evidence": d.evidence}
                            for d in self.differences],
            "first_difference": None if self.first_difference is None else {
                "doc_id": self.first_difference[0], "yours": self.first_difference[1],
                "reported": self.first_difference[2]},
            "prompt_evidence": list(self.prompt_evidence),
            **doc_rows(self.pairs, tokenizer=tokenizer),
        }


def compare_runs(yours: LoggedRun, reported: LoggedRun) -> RunComparison:
    """The two runs side by side; no model is called."""
    pairs = match_docs(yours.docs, reported.docs)
    outcomes = {"both right": 0, "only yours": 0, "only reported": 0, "both wrong": 0}
    ours_scores: list[float] = []
    theirs_scores: list[float] = []
    identical = 0
    differing: list[tuple[LoggedDoc, LoggedDoc]] = []
    for mine, theirs in pairs:
        if mine.requests == theirs.requests:
            identical += 1
        else:
            differing.append((mine, theirs))
        if mine.correct is None or theirs.correct is None:
            continue
        ours_scores.append(float(mine.correct))
        theirs_scores.append(float(theirs.correct))
        outcomes[outcome(mine, theirs)] += 1
    test = stats.compare(ours_scores, theirs_scores) if ours_scores else None
    evidence = prompt_evidence(differing)
    return RunComparison(
        yours, reported, len(pairs), len(yours.docs) - len(pairs), len(reported.docs) - len(pairs),
        outcomes, test, identical, setting_differences(yours, reported, differing),
        differing[0] if differing else None, evidence, tuple(pairs))


def outcome(mine: LoggedDoc, theirs: LoggedDoc) -> str:
    """"both right", "only yours", "only reported", "both wrong"; "" when a run logged no outcome."""
    if mine.correct is None or theirs.correct is None:
        return ""
    return {(True, True): "both right", (True, False): "only yours", (False, True): "only reported",
            (False, False): "both wrong"}[(mine.correct >= 0.5, theirs.correct >= 0.5)]


DOC_ROWS = 200
"""Docs listed one by one (with both prompts) in a comparison: the flips first. The counts cover
every doc; the list stops here so a 14,000-doc run's report stays a few MB."""


def doc_rows(pairs: Sequence[tuple[LoggedDoc, LoggedDoc]], limit: int = DOC_ROWS,
             tokenizer: Any = None) -> dict[str, Any]:
    """The matched docs that differ, in outcome or in prompt, one row each (docs whose outcome
    flips first, then in your run's order): both prompts, where they part, both outcomes, and
    with a tokenizer each context's length in tokens and the token where they part."""
    differ = [(m, t) for m, t in pairs if m.requests != t.requests or outcome(m, t) in ("only yours", "only reported")]
    differ.sort(key=lambda pair: outcome(*pair) not in ("only yours", "only reported"))
    rows = []
    for mine, theirs in differ[:limit]:
        a, b = _shown_request(mine), _shown_request(theirs)
        rows.append({"doc_id": mine.doc_id, "reported_doc_id": theirs.doc_id, "subtask": mine.subtask,
                     "question": question_key(mine.question)[:120], "outcome": outcome(mine, theirs),
                     "identical": mine.requests == theirs.requests,
                     "parts_at": None if a == b else len(commonprefix([a, b])),
                     "yours": a, "reported": b})
        if tokenizer is not None and mine.context != theirs.context:
            t = token_difference(tokenizer, mine.context, theirs.context)
            rows[-1]["tokens"] = {"yours": t["yours"], "reported": t["reported"], "first": t["first"]}
    return {"docs": rows, "docs_differing": len(differ)}


def _shown_request(doc: LoggedDoc) -> str:
    context, continuation = doc.requests[0] if doc.requests else ("", "")
    return context + (f"⟨{continuation}⟩" if continuation else "")


def setting_differences(yours: LoggedRun, reported: LoggedRun,
                        differing: Sequence[tuple[LoggedDoc, LoggedDoc]]) -> tuple[SettingDifference, ...]:
    """Recorded settings that differ, each with what the prompts show about it."""
    out: list[SettingDifference] = []
    for key in sorted(set(yours.facts) & set(reported.facts)):
        a, b = yours.facts[key], reported.facts[key]
        if _same(a, b):
            continue
        out.append(SettingDifference(key, a, b, _evidence(key, a, b, differing)))
    if yours.chat_template_sha and reported.chat_template_sha and yours.chat_template_sha != reported.chat_template_sha:
        out.append(SettingDifference("chat template hash", yours.chat_template_sha[:12], reported.chat_template_sha[:12],
                                     "the two runs rendered different chat templates"))
    if (yours.tool == reported.tool and yours.version and reported.version and yours.version not in ("Yaml", "None")
            and reported.version not in ("Yaml", "None") and yours.version != reported.version):
        out.append(SettingDifference("task version", yours.version, reported.version,
                                     f"{yours.tool} changed the task between the two runs (its prompt, data or metric "
                                     f"may differ; the prompts show what changed)"))
    return tuple(out)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def _evidence(key: str, a: Any, b: Any, differing: Sequence[tuple[LoggedDoc, LoggedDoc]]) -> str:
    """What the logged prompts say about one differing setting."""
    if not differing:
        return "yet every matched prompt is identical: it changed no prompt" if key.split(".")[0] in (
            "fewshot", "chat", "prompt") else "prompts are not where it shows"
    n = len(differing)
    if key == "fewshot.k":
        longer = sum(len(t.context) > len(m.context) for m, t in differing)
        side = "reported" if b > a else "your"
        share = longer if b > a else n - longer
        return f"every reported prompt has {b} shots and yours {a}: the {side} prompt is longer on {share}/{n} differing docs"
    if key == "chat.apply_template":
        return ("reported prompts are rendered by a chat template and yours are plain text" if b else
                "your prompts are rendered by a chat template and the reported ones are plain text")
    if key == "chat.system_prompt":
        holder = "reported" if b else "your"
        text = b or a
        shown = sum(text in (t.context if b else m.context) for m, t in differing)
        return f"the {holder} prompts carry the system instruction ({shown}/{n} differing docs contain it)"
    return f"{n} matched docs have different prompts"


def prompt_evidence(differing: Sequence[tuple[LoggedDoc, LoggedDoc]]) -> tuple[str, ...]:
    """What the differing prompts have in common, computed from the strings alone: a start or an
    end one side always has and the other never does, continuations that alone differ, lengths."""
    if not differing:
        return ()
    lines: list[str] = []
    n = len(differing)
    same_context = sum(m.context == t.context for m, t in differing)
    if same_context == n:
        lines.append(f"on all {n} differing docs the context is the same and only the answers scored differ "
                     f"(e.g. yours {differing[0][0].requests[0][1]!r}, reported {differing[0][1].requests[0][1]!r})")
        return tuple(lines)
    for side, index in (("reported", 1), ("your", 0)):
        other = 1 - index
        starts = commonprefix([pair[index].context for pair in differing])
        own = commonprefix([pair[other].context for pair in differing])
        if len(starts) > len(own) + 3:
            # what one run adds: after a start both share (a BOS), or before the other's whole
            # start (shots before "Question: "); never from a shared first letter ("Q: 1+1?" and
            # "Question:" share a "Q", and "starts with ': 1+1?'" would be a fragment)
            if starts.startswith(own):
                extra = starts[len(own):]
            elif own and starts.endswith(own):
                extra = starts[:-len(own)]
            else:
                extra = starts
            lines.append(f"every {side} prompt starts with {_visible(extra[:60])!r}, which the other run's do not")
    longer = sum(len(t.context) > len(m.context) for m, t in differing)
    if longer in (0, n):
        which = "reported" if longer == n else "your"
        mean = sum(abs(len(t.context) - len(m.context)) for m, t in differing) / n
        lines.append(f"every {which} prompt is longer ({mean:.0f} characters on average)")
    return tuple(lines)


def _visible(text: str) -> str:
    return text.replace("\n", "↵")


# ---------------------------------------------------------------------------------------------
# In words


def comparison_lines(c: Mapping[str, Any]) -> list[str]:
    """What the two runs show (`RunComparison.to_dict()`), as sentences for every front end."""
    o = c["outcomes"]
    lines = [f"{c['matched']} docs are in both runs (matched by content); no model was called to compare them."]
    if c["only_yours"] or c["only_reported"]:
        lines.append(f"{c['only_yours']} docs are only in yours and {c['only_reported']} only in the reported run.")
    lines.append(f"Outcomes: both right {o['both right']}, only yours {o['only yours']}, only reported "
                 f"{o['only reported']}, both wrong {o['both wrong']}.")
    t = c.get("test")
    if t:
        p = "p<0.001" if t["p"] < 0.001 else f"p={t['p']:.3f}"
        lines.append(f"Reported minus yours on these docs: {100 * t['delta']:+.1f} points "
                     f"(95% CI {100 * t['ci'][0]:+.1f} to {100 * t['ci'][1]:+.1f}), {p} ({t['method']}, "
                     f"{t['discordant'][0]} docs only yours got right, {t['discordant'][1]} only the reported run).")
    lines.append(f"Prompts identical on {c['identical_prompts']} of {c['matched']} docs.")
    for d in c["differences"]:
        name = FACT_NAMES.get(d["key"], d["key"])
        lines.append(f"{name} ({d['key']}): yours {d['yours']!r}, reported {d['reported']!r}: {d['evidence']}.")
    lines += [f"The prompts: {e}." for e in c["prompt_evidence"]]
    tokens = c.get("first_difference_tokens")
    if tokens:
        lines.append(f"In tokens, the first differing prompt is {tokens['yours']} (yours) against {tokens['reported']} "
                     f"(reported) long and parts at token {tokens['first']}: yours {tokens['yours_from']}, "
                     f"reported {tokens['reported_from']}.")
    if c.get("implicated"):
        lines.append(f"Checks these differences implicate: {', '.join(c['implicated'])}.")
    return lines


def token_difference(tokenizer: Any, yours: str, reported: str) -> dict[str, Any]:
    """The first differing prompt in tokens: each side's length and the first token where they
    part, with a few tokens of each from there (as the tokenizer writes them)."""
    from scoregap.engine.tokenization import encode

    a, b = encode(tokenizer, yours), encode(tokenizer, reported)
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    shown = lambda ids: [tokenizer.decode([i]) for i in ids[at:at + 6]]
    return {"yours": len(a), "reported": len(b), "first": at, "yours_from": shown(a), "reported_from": shown(b)}
