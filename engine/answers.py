"""Answer extraction and normalization: the step between what a model wrote and what gets compared.

Two evaluators holding the same generations can report very different numbers only because they
pull the answer out of the text differently (lm-eval's GSM8K "strict-match" versus
"flexible-extract" differ by more than half the score for some instruct models) or normalize it
differently (an unstripped `<think>` block can halve a score). The `normalization` check re-scores
stored generations under each of these choices, so every function here is pure and cheap: no
model, no state, the same answer for the same text.

The names in `EXTRACTORS` and `NORMALIZERS` are the values a setup may give in `scoring.extract`
and `scoring.normalize`; `validate_extract` and `validate_normalize` let the setup validator
reject a bad value with a useful message before any model is loaded.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Sequence

from scoregap.engine.errors import did_you_mean

REGEX_PREFIX = "regex:"

EXTRACTORS: tuple[str, ...] = (
    "none",
    "first_letter",
    "last_number",
    "boxed",
    f"{REGEX_PREFIX}<pattern>",
    "math_verify",
    "gsm8k_strict",
    "gsm8k_flexible",
)

NORMALIZERS: tuple[str, ...] = (
    "strip",
    "lower",
    "punctuation",
    "articles",
    "whitespace",
    "numbers",
    "think",
    "gsm8k",
)

# lm-eval's RegexFilter answers this when nothing matches; keeping it means an extracted value
# stored by scoregap reads the same as one in lm-eval's samples file.
INVALID = "[invalid]"

# The GSM8K filters of lm-eval 0.4.13 (tasks/gsm8k/gsm8k.yaml): (pattern, group_select).
_LM_EVAL_PRESETS: dict[str, tuple[re.Pattern[str], int]] = {
    "gsm8k_strict": (re.compile(r"#### (\-?[0-9\.\,]+)"), 0),
    "gsm8k_flexible": (re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)"), -1),
}

# A number as people write it: an optional sign (not a hyphen inside "5-7"), an optional dollar
# sign, digits with or without thousands commas, an optional decimal part.
_NUMBER = re.compile(
    r"(?P<sign>(?<![\w)\]])-)?\$?"
    r"(?P<int>\d{1,3}(?:,\d{3})+(?!\d)|\d+)?"
    r"(?:\.(?P<frac>\d+))?"
)

_LETTER = re.compile(r"(?<![A-Za-z0-9])([A-Z])(?![A-Za-z0-9])")
_ANSWER_LETTER = re.compile(
    r"(?i:answer)\s*(?:(?i:is)\s*:?|:)\s*[(\[]?\s*([A-Z])(?![A-Za-z0-9])"
)
_BOX_OPENERS = ("\\boxed", "\\fbox")
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.IGNORECASE)
_HELM_ARTICLES = re.compile(r"\b(a|an|the)\b")
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)
_PUNCTUATION = frozenset(string.punctuation)
# lm-eval 0.4.13's GSM8K exact_match options (`regexes_to_ignore`, then `ignore_case`), applied
# to prediction and gold alike. Its flexible filter keeps "12." from "The answer is 12."; this
# step is what turns that into "12" there, so reproducing its numbers needs both halves.
_GSM8K_IGNORE = tuple(re.compile(p) for p in (",", r"\$", r"(?s).*#### ", r"\.$"))


class _QuietTimeoutNotice(logging.Filter):
    """Drops math-verify's notice that its timeouts are off: we turn them off on purpose.

    Its timeouts use `signal.alarm`, which only works in the main thread, and the TUI scores in
    worker threads. The notice would otherwise be written to stderr over the terminal app.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_QuietTimeoutNotice())


# ----------------------------------------------------------------------------------- extraction


def validate_extract(how: str) -> str | None:
    """Why `how` is not a usable `scoring.extract` value, as a message fragment; None when it is."""
    if how.startswith(REGEX_PREFIX):
        pattern = how[len(REGEX_PREFIX):]
        if not pattern:
            return f'"{how}" has an empty pattern; write it as "{REGEX_PREFIX}<pattern>"'
        try:
            re.compile(pattern)
        except re.error as exc:
            return f'the pattern in "{how}" does not compile: {exc}'
        return None
    if how in EXTRACTORS:
        return None
    known = [name for name in EXTRACTORS if not name.startswith(REGEX_PREFIX)]
    return (
        f'unknown extractor "{how}"; allowed: {", ".join(EXTRACTORS)}.'
        + did_you_mean(how, known)
    )


def extract(text: str, how: str) -> str:
    """The answer in `text` according to the extractor named `how`.

    No match gives "" — except for the lm-eval presets, which give "[invalid]" as lm-eval does.
    """
    if how == "none":
        return text
    if how == "first_letter":
        return _first_letter(text)
    if how == "last_number":
        return _last_number(text)
    if how == "boxed":
        return _last_boxed(text)
    if how == "math_verify":
        return _math_verify_answer(text)
    if how in _LM_EVAL_PRESETS:
        pattern, group_select = _LM_EVAL_PRESETS[how]
        return _lm_eval_regex(text, pattern, group_select)
    if how.startswith(REGEX_PREFIX):
        return _first_regex_match(text, how[len(REGEX_PREFIX):])
    raise ValueError(validate_extract(how))


def _first_letter(text: str) -> str:
    # A stated answer wins over a stray capital earlier in the text ("I think ... answer is C");
    # the last statement wins because models that reason first conclude last.
    stated = _ANSWER_LETTER.findall(text)
    if stated:
        return stated[-1]
    match = _LETTER.search(text)
    return match.group(1) if match else ""


def _number_matches(text: str) -> list[re.Match[str]]:
    return [m for m in _NUMBER.finditer(text) if m.group("int") or m.group("frac")]


def _last_number(text: str) -> str:
    matches = _number_matches(text)
    if not matches:
        return ""
    last = matches[-1]
    sign = "-" if last.group("sign") else ""
    integer = (last.group("int") or "").replace(",", "")
    frac = last.group("frac")
    return f"{sign}{integer}.{frac}" if frac is not None else f"{sign}{integer}"


def _last_boxed(text: str) -> str:
    start = max(text.rfind(opener) for opener in _BOX_OPENERS)
    if start < 0:
        return ""
    opener = next(o for o in _BOX_OPENERS if text.startswith(o, start))
    rest = text[start + len(opener):]
    if rest.startswith(" "):
        # "\boxed 5": the MATH solutions' unbraced form; the answer runs to the next space or "$".
        return re.split(r"[\s$]", rest.lstrip(" "), maxsplit=1)[0]
    if not rest.startswith("{"):
        return ""
    depth = 0
    for i, ch in enumerate(rest):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return rest[1:i]
    return ""  # never closed: a truncated generation has no answer


def _math_verify_answer(text: str) -> str:
    try:
        import math_verify  # sympy behind it takes seconds to import: only when asked for

        parsed = math_verify.parse(text, parsing_timeout=None)
    except Exception:  # math-verify is a heuristic parser; any failure means "no answer"
        return ""
    return str(parsed[0]) if parsed else ""


def _lm_eval_regex(text: str, pattern: re.Pattern[str], group_select: int) -> str:
    """lm-eval 0.4.13's RegexFilter, step for step (findall, select, first non-empty group)."""
    matches = pattern.findall(text)
    if not matches:
        return INVALID
    match = matches[group_select]
    if isinstance(match, tuple):
        groups = [g for g in match if g]
        if not groups:
            return INVALID
        match = groups[0]
    return match.strip()


def _first_regex_match(text: str, pattern: str) -> str:
    compiled = re.compile(pattern)
    match = compiled.search(text)
    if match is None:
        return ""
    found = match.group(1) if compiled.groups else match.group(0)
    # Stripped like lm-eval's regex filter, whose patterns are the ones users port here.
    return (found or "").strip()


# -------------------------------------------------------------------------------- normalization


def validate_normalize(steps: Sequence[str]) -> str | None:
    """Why `steps` is not a usable `scoring.normalize` list (a message fragment), else None."""
    if isinstance(steps, str):
        return f'normalize must be a list of step names, not the string "{steps}"'
    for step in steps:
        if step not in NORMALIZERS:
            return (
                f'unknown normalization step "{step}"; allowed: {", ".join(NORMALIZERS)}.'
                + did_you_mean(step, NORMALIZERS)
            )
    return None


def normalize(text: str, steps: Sequence[str]) -> str:
    """`text` after each named step, in the order given (order matters: "punctuation" before
    "numbers" turns "1,000.5" into "10005")."""
    problem = validate_normalize(steps)
    if problem:
        raise ValueError(problem)
    for step in steps:
        text = _STEPS[step](text)
    return text


def _remove_punctuation(text: str) -> str:
    return "".join(ch for ch in text if ch not in _PUNCTUATION)


def _fix_whitespace(text: str) -> str:
    return " ".join(text.split())


def _canonical_number(match: re.Match[str]) -> str:
    if not (match.group("int") or match.group("frac")):
        return match.group(0)
    integer = (match.group("int") or "").replace(",", "").lstrip("0") or "0"
    frac = (match.group("frac") or "").rstrip("0")
    number = f"{integer}.{frac}" if frac else integer
    return f"-{number}" if match.group("sign") and number != "0" else number


def _canonical_numbers(text: str) -> str:
    return _NUMBER.sub(_canonical_number, text)


def _remove_think(text: str) -> str:
    text = _THINK_BLOCK.sub("", text)
    # A closing tag left over means the opening one was in the prompt (chat templates that start
    # the assistant turn with "<think>"): everything before it is reasoning.
    closing = text.rfind("</think>")
    if closing >= 0:
        text = text[closing + len("</think>"):]
    # An opening tag that never closes: the model was cut off while still thinking.
    opening = text.find("<think>")
    if opening >= 0:
        text = text[:opening]
    return text


def _lm_eval_gsm8k(text: str) -> str:
    for pattern in _GSM8K_IGNORE:
        text = pattern.sub("", text)
    return text.lower()


_STEPS = {
    "strip": str.strip,
    "lower": str.lower,
    "punctuation": _remove_punctuation,
    "articles": lambda text: _ARTICLES.sub(" ", text),
    "whitespace": _fix_whitespace,
    "numbers": _canonical_numbers,
    "think": _remove_think,
    "gsm8k": _lm_eval_gsm8k,
}


def helm_normalize(text: str) -> str:
    """HELM's `normalize_text` (quasi-exact match): lower, punctuation, articles, whitespace.

    Kept separate from `normalize` so the quasi_exact_match metric stays HELM's definition
    whatever steps a setup lists.
    """
    text = _remove_punctuation(text.lower())
    return _fix_whitespace(_HELM_ARTICLES.sub(" ", text))
