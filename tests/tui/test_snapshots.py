"""Snapshots of the app's looks at 80x24 and 120x40: the start screen, the checklist mid-run
(frozen progress), a check with its prompt diff (text and tokens) and the ranking.

No worker runs here: the screens are fed fixed numbers through the same methods the engine's
messages call, so the snapshots depend on neither the demo model's weights nor the clock.
Regenerate with `pytest tests/tui/test_snapshots.py --snapshot-update` after a deliberate change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scoregap.engine.checks_api import CHECK_IDS, CheckResult, Finding, Variant
from scoregap.profiles import PROFILES_DIR, scenarios

pytestmark = pytest.mark.skipif(not scenarios(), reason="the demo world (profiles/demo) is not generated")

SCENARIO = PROFILES_DIR / "demo" / "sessions" / "chat-template.toml"
SIZES = [(80, 24), (120, 40)]


def finding(check: str, name: str, delta: float, ci: tuple[float, float], closes: float, significant: bool,
            changes: tuple = (), known: bool = False) -> Finding:
    return Finding(Variant(check, name, changes, known=known), 0.30 + delta, delta, ci, 0.001 if significant else 0.4,
                   closes, (closes - 0.1, closes + 0.1), 40, "mcnemar", significant)


TEMPLATE = [
    finding("template", "chat template off", 0.625, (0.47, 0.78), 0.94, True, (("chat.apply_template", False),), True),
    finding("template", "system prompt added", 0.025, (-0.05, 0.10), 0.04, False, (("chat.system_prompt", "x"),)),
    finding("template", "BOS left out", -0.10, (-0.21, 0.01), -0.15, False, (("loading.add_bos_token", "false"),)),
]
PROMPT_LIVE = [
    finding("prompt", "choices as (A)", 0.05, (-0.03, 0.13), 0.08, False),
    finding("prompt", "labels (a)", -0.025, (-0.09, 0.04), -0.04, False),
]

YOURS = "<s><|user|>\nA. 42 plums\nB. 43 plums\nHow many plums are in a crate?<|end|>\n<|assistant|>\n"
REFERENCE = "A. 42 plums\nB. 43 plums\nHow many plums are in a crate? B. 43 plums"
YOURS_TOKENS = ((1, "<s>"), (32010, "<|user|>"), (13, "\n"), (319, "A"), (29889, "."), (29871, " 42"))
REFERENCE_TOKENS = ((1, "<s>"), (319, "A"), (29889, "."), (29871, " 42"), (350, " B"))


def summary():  # noqa: ANN201
    from scoregap.engine.events import Summary

    return Summary(yours=0.30, stated=None, reported=0.9625, reported_source="census model card, table 1",
                   gap=0.6625, noise=0.027, noise_basis="", verdict="gap", n=40,
                   top="template: chat template off (+62.5)")


def app_on_scenario(tmp_path: Path):  # noqa: ANN201
    from scoregap.tui.app import make_app

    return make_app(SCENARIO, cache_dir=tmp_path / "cache", autostart=False)


async def frozen_checklist(pilot, current: str) -> None:  # noqa: ANN001
    """The checklist mid-run: template done, prompt running with two variants in, progress frozen."""
    from scoregap.engine.events import Outlook, ProgressInfo, Step
    from scoregap.tui.widgets.check_sidebar import CheckSidebar
    from scoregap.tui.widgets.prompt_diff import PromptPair

    app = pilot.app
    screen = app.checklist
    screen.show_summary(summary())
    screen.check_started("template")
    screen.check_finished(CheckResult("template", "done", TEMPLATE), {"template": TEMPLATE})
    screen.check_started("prompt")
    for f in PROMPT_LIVE:
        screen.variant_done("prompt", f)
    screen.check_queued("fewshot")
    screen.show_progress(ProgressInfo(Step("prompt", "labels (1)", 3, 12), "census_mc: 40 docs", 72, 160, 12.0,
                                      outlook=Outlook(5, 9, (2 + 72 / 160) / 12, 130.0, 845.0)))
    pair = PromptPair("yours", "chat template off", YOURS, REFERENCE, YOURS_TOKENS, REFERENCE_TOKENS,
                      "Reference: this check's best variant (chat template off).")
    screen.show_pair("template", pair)
    screen.show_pair("prompt", PromptPair("yours", "reported", REFERENCE, REFERENCE, (), (),
                                          "Reference: the reported setup (demo/reference_mc)."))
    screen.query_one(CheckSidebar).highlighted = CHECK_IDS.index(current)
    await pilot.pause()


def report() -> dict:
    rows = [
        {"check": "template", "variant": "chat template off", "score": 0.925, "delta": 0.625, "ci": [0.47, 0.78],
         "closes": 0.94, "significant": True, "cause": True, "n": 40, "round": 1},
        {"check": "fewshot", "variant": "k = 3", "score": 0.96, "delta": 0.035, "ci": [0.01, 0.06], "closes": 0.93,
         "significant": True, "cause": True, "n": 40, "round": 2, "after": ["chat template off"]},  # round 2
        {"check": "prompt", "variant": "choices as (A)", "score": 0.35, "delta": 0.05, "ci": [-0.03, 0.13],
         "closes": 0.08, "significant": False, "cause": False, "n": 10, "round": 1},        # screened
        {"check": "metric", "variant": "acc", "score": 0.275, "delta": -0.025, "ci": [-0.06, 0.01],
         "closes": -0.04, "significant": False, "cause": False, "n": 40, "round": 1},
    ]
    return {
        "gap": 0.6625, "verdict": "gap", "noise_floor": {"half_width": 0.027},
        "yours": {"score": 0.30, "n": 40}, "reported": {"score": 0.9625},
        "ranking": rows,
        "reconciliation": {"score": 0.925, "residual": 0.0375, "within_noise": False,
                           "applied": [{"check": "template", "variant": "chat template off"}],
                           "shapley": {"template": 0.625}, "noise_floor": {"half_width": 0.012}},
        "reproduce": {"lm_eval": "lm_eval --model hf --model_args pretrained=profiles/demo/model "
                                 "--tasks census_mc --include_path TASK_DIR --num_fewshot 3 --limit 40",
                      "lm_eval_differs": [], "scoregap": '[chat]\napply_template = false\n'},
    }


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_start_screen(snap_compare, tmp_path: Path, size) -> None:  # noqa: ANN001
    from scoregap.tui.app import make_app

    assert snap_compare(make_app(cache_dir=tmp_path / "cache"), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_checklist_mid_run(snap_compare, tmp_path: Path, size) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await frozen_checklist(pilot, "prompt")

    assert snap_compare(app_on_scenario(tmp_path), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("view", ["text", "tokens"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_check_with_prompt_diff(snap_compare, tmp_path: Path, size, view: str) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await frozen_checklist(pilot, "template")
        # The pane scrolled to the diff, the focus staying on the list (as PgDn leaves it).
        pilot.app.screen.query_one("#diff").scroll_visible(top=True, animate=False)
        if view == "tokens":
            await pilot.press("t")
        await pilot.pause()

    assert snap_compare(app_on_scenario(tmp_path), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_ranking(snap_compare, tmp_path: Path, size) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        from scoregap.tui.screens.ranking import RankingScreen

        app = pilot.app
        app.ranking = RankingScreen()
        await app.push_screen(app.ranking)
        app.ranking.show(report())
        await pilot.pause()

    assert snap_compare(app_on_scenario(tmp_path), terminal_size=size, run_before=run_before)
