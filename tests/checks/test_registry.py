"""The registry and the onboarding text every check carries."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest

import scoregap.checks as checks
from scoregap.engine.checks_api import CHECK_IDS, Check
from scoregap.engine.setup import _split_dotted

# The published magnitudes of DESIGN.md, as they appear in the explanations.
PUBLISHED = (
    ".637", ".488", ".636", "22.9", "51.2", "76 points", "65.3", "47.7", "3 points", "57.2",
    "76.0", "0.3297", "9.28", ".2017", ".7847", "4.66", ".284", ".588", ".0037", ".6707", ".6",
    "12.25", ".690", ".0015", ".7797", ".8018", "13.12", "5.69", ".874", ".647", ".914", ".672",
    "80 different", "61.97", "60.43",
)
MODULES = ("codebase", "seed", "metric", "normalization", "prompt", "template", "fewshot",
           "generation", "loading")


def test_checks_are_registered_in_design_order() -> None:
    assert checks.ids() == CHECK_IDS
    assert tuple(c.id for c in checks.CHECKS) == CHECK_IDS
    for check in checks.CHECKS:
        assert checks.get(check.id) is check
        for member in ("id", "title", "explanation", "reading", "questions", "applies", "variants"):
            assert hasattr(check, member), f"{check.id} lacks {member} of the Check protocol"


def test_get_names_the_checks_for_an_unknown_id() -> None:
    with pytest.raises(KeyError, match="checks: codebase, seed"):
        checks.get("seeds")


@pytest.mark.parametrize("check", checks.CHECKS, ids=lambda c: c.id)
def test_onboarding_text(check: Check) -> None:
    assert check.title and check.title[0].isupper()
    words = len(check.explanation.split())
    assert 60 <= words <= 190, f"{check.id}: explanation has {words} words"
    assert any(number in check.explanation for number in PUBLISHED), check.id
    assert "no measurable effect" in check.reading.lower() and "within noise" in check.reading
    assert len(check.reading.split()) <= 190
    assert check.questions
    for question in check.questions:
        _split_dotted(question.key)                   # a real setup key
        assert question.text.endswith("?")


@pytest.mark.parametrize("module", MODULES)
def test_each_module_says_what_it_varies_and_why(module: str) -> None:
    doc = importlib.import_module(f"scoregap.checks.{module}").__doc__ or ""
    assert "What it varies" in doc and "Why:" in doc


def test_explanations_cite_their_sources() -> None:
    cited = {c.id: re.findall(r"#\d{3,4}|arXiv \d{4}\.\d{4,5}|blog|Thinking Machines", c.explanation)
             for c in checks.CHECKS}
    missing = [cid for cid, found in cited.items() if not found and cid != "fewshot"]
    assert not missing, missing


def test_importing_the_checks_pulls_in_neither_textual_nor_torch() -> None:
    code = (
        "import sys, scoregap.checks as c; assert len(c.CHECKS) == 9; "
        "bad = [m for m in ('textual', 'torch') if m in sys.modules]; "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"imported: {done.stdout.strip()} {done.stderr[-2000:]}"
