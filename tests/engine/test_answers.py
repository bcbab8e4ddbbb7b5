"""Answer extraction and normalization: the differences an evaluator would notice in a score."""

from __future__ import annotations

import pytest

from scoregap.engine.answers import (
    EXTRACTORS,
    NORMALIZERS,
    extract,
    helm_normalize,
    normalize,
    validate_extract,
    validate_normalize,
)

GSM8K_WITH_MARKER = "so 5+7 = 12.\n#### 12"
GSM8K_PLAIN = "The answer is 12."


def test_gsm8k_strict_needs_the_marker_flexible_does_not() -> None:
    assert extract(GSM8K_WITH_MARKER, "gsm8k_strict") == "12"
    assert extract(GSM8K_PLAIN, "gsm8k_strict") == "[invalid]"
    # As in lm-eval, the flexible filter keeps the sentence's full stop ...
    assert extract(GSM8K_PLAIN, "gsm8k_flexible") == "12."
    # ... and lm-eval's GSM8K exact_match options remove it (and the gold's reasoning).
    assert normalize(extract(GSM8K_PLAIN, "gsm8k_flexible"), ["gsm8k"]) == "12"
    assert normalize("Half of 24 is <<24/2=12>>12.\n#### 12", ["gsm8k"]) == "12"


def test_gsm8k_flexible_takes_the_last_number() -> None:
    assert extract("3 apples and 4 pears make 7", "gsm8k_flexible") == "7"
    assert extract("It costs $18 in total, then 20", "gsm8k_flexible") == "20"
    assert extract("no digits", "gsm8k_flexible") == "[invalid]"


@pytest.mark.parametrize(
    "text",
    [GSM8K_WITH_MARKER, GSM8K_PLAIN, "-5", "x is -3, then 1,234.5 and $7", "#### 9\n#### 10", ""],
)
def test_gsm8k_presets_match_lm_eval_regex_filter(text: str) -> None:
    extraction = pytest.importorskip("lm_eval.filters.extraction")
    strict = extraction.RegexFilter(regex_pattern=r"#### (\-?[0-9\.\,]+)")
    flexible = extraction.RegexFilter(
        regex_pattern=r"(-?[$0-9.,]{2,})|(-?[0-9]+)", group_select=-1
    )
    assert extract(text, "gsm8k_strict") == strict.apply([[text]], [{}])[0][0]
    assert extract(text, "gsm8k_flexible") == flexible.apply([[text]], [{}])[0][0]


@pytest.mark.parametrize(
    ("text", "letter"),
    [("(B)", "B"), ("B. Paris", "B"), ("Answer: C", "C"), ("I think the answer is (D).", "D")],
)
def test_first_letter(text: str, letter: str) -> None:
    assert extract(text, "first_letter") == letter


def test_first_letter_without_a_letter_is_empty() -> None:
    assert extract("paris", "first_letter") == ""


@pytest.mark.parametrize(
    ("text", "number"),
    [("so -3", "-3"), ("It cost $12.", "12"), ("1,234 people", "1234"), ("3.5 then 2", "2"),
     ("pages 5-7", "7"), ("none", "")],
)
def test_last_number(text: str, number: str) -> None:
    assert extract(text, "last_number") == number


def test_boxed_keeps_nested_braces_and_takes_the_last() -> None:
    assert extract(r"first \boxed{3}, finally \boxed{\frac{1}{2}}.", "boxed") == r"\frac{1}{2}"
    assert extract(r"\fbox{x^{2}}", "boxed") == "x^{2}"
    assert extract(r"cut off \boxed{\frac{1", "boxed") == ""


def test_regex_extractor_uses_group_one_when_there_is_one() -> None:
    assert extract("Final: 42 units", r"regex:Final: (\d+)") == "42"
    assert extract("Final: 42 units", r"regex:\d+ units") == "42 units"
    assert extract("nothing", r"regex:Final: (\d+)") == ""


def test_math_verify_extractor() -> None:
    assert extract(r"so the result is $\frac{1}{2}$", "math_verify") == "1/2"
    assert extract("no math here", "math_verify") == ""


def test_validate_extract() -> None:
    named = [name for name in EXTRACTORS if not name.startswith("regex:")]
    assert all(validate_extract(name) is None for name in named)
    assert validate_extract(r"regex:#### (\d+)") is None
    assert "boxed" in (validate_extract("boxd") or "")
    assert "compile" in (validate_extract("regex:([") or "")


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("<think>Let me see... 4</think>\n42", "\n42"),
        ("reasoning whose tag was in the prompt</think>42", "42"),
        ("42<think>cut off while thinking", "42"),
        ("<think>a</think>4<think>b</think>2", "42"),
    ],
)
def test_think_removal(text: str, clean: str) -> None:
    assert normalize(text, ["think"]) == clean


def test_numbers_normalizer() -> None:
    assert normalize("1,000 or 12.0 or 0.50 or $5", ["numbers"]) == "1000 or 12 or 0.5 or 5"


def test_steps_apply_in_order() -> None:
    assert normalize("  The  Cat. ", ["lower", "punctuation", "articles", "whitespace"]) == "cat"
    # Punctuation first destroys the decimal point the numbers step would have kept.
    assert normalize("1,000.5", ["numbers"]) == "1000.5"
    assert normalize("1,000.5", ["punctuation", "numbers"]) == "10005"


def test_validate_normalize() -> None:
    assert validate_normalize(list(NORMALIZERS)) is None
    assert "lower" in (validate_normalize(["lowr"]) or "")
    with pytest.raises(ValueError):
        normalize("x", ["lowr"])


def test_helm_normalize() -> None:
    assert helm_normalize("The Paris.") == "paris"
    assert helm_normalize("  An apple,  a day ") == "apple day"
