"""The app at 80x24 (issue 15, findings 4 and 7): every key of the checklist in its footer, the
essential columns of the ablation table and the ranking (variant, Δ, n, closes, sig) whole, the
score and CI only where there is room, the prompt diff's names never broken mid-word, and no
noise-floor repeat named as a check's effect."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakeworld import write_fake_model, write_mc_task, write_session, write_setup
from pilot import screen_text, settle

from scoregap.engine.checks_api import CheckResult, Finding, Variant


def session(tmp_path: Path) -> Path:
    task = write_mc_task(tmp_path / "task", n_docs=40)
    model = write_fake_model(tmp_path / "model", task)
    yours = write_setup(tmp_path / "yours.toml", task)
    return write_session(tmp_path / "session.toml", model, yours, reported_score=0.9, checks=("prompt",),
                         cache_dir=tmp_path / "cache")


def finding(name: str, delta: float, n: int = 40, screened: str = "", repeat: bool = False,
            check: str = "prompt") -> Finding:
    return Finding(Variant(check, name, (), repeat=repeat), 0.3 + delta, delta, (delta - 0.08, delta + 0.08),
                   0.0004, delta / 0.6, (0.0, 0.2), n, "mcnemar", not screened, screened=screened)


FINDINGS = [finding("blank line between question and choices", 0.125),
            finding("choices as (A)", 0.05, n=60, screened="widens the gap")]


def report() -> dict:
    row = {"check": "prompt", "variant": "blank line between question and choices", "score": 0.425, "delta": 0.125,
           "ci": [0.05, 0.2], "closes": 0.2, "significant": True, "cause": True, "n": 240, "round": 1}
    screened = {**row, "variant": "choices as (A)", "n": 60, "significant": False, "cause": False, "closes": -0.1,
                "screened": "widens the gap"}
    return {"gap": 0.6, "verdict": "gap", "noise_floor": {"half_width": 0.03}, "yours": {"score": 0.3, "n": 240},
            "reported": {"score": 0.9}, "ranking": [row, screened], "reconciliation": None,
            "reproduce": {"lm_eval": "lm_eval --model hf", "lm_eval_differs": [], "scoregap": ""}}


async def _test_the_checklist_at_80_columns(tmp_path: Path) -> None:
    from scoregap.tui.app import make_app
    from scoregap.tui.widgets.prompt_diff import PromptPair

    app = make_app(session(tmp_path), cache_dir=tmp_path / "cache")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.checklist
        screen.check_started("prompt")
        screen.check_finished(CheckResult("prompt", "done", FINDINGS), {"prompt": FINDINGS})
        screen.show_pair("prompt", PromptPair("yours", "reported", "Question: x\nAnswer:", "Question: x\nA:"))
        screen.query_one("#sidebar").highlighted = 4   # prompt
        await pilot.pause()
        text = screen_text(app)
        assert "reported" in text and "reporte\n" not in text   # the diff's names whole
        screen.query_one("#ablations").scroll_visible(top=True, animate=False)
        await pilot.pause()
        text = screen_text(app)
        print(text)
        footer = text.splitlines()[-1]
        for key in ("r Run", "a Run all", "c Cancel", "g Ranking", "s Save", "q Quit"):
            assert key in footer, (key, footer)
        header = next(line for line in text.splitlines() if "closes" in line)
        for column in ("variant", "Δ", " n ", "closes", "sig"):
            assert column in header, (column, header)
        assert "95% CI" not in header                       # no room at 80 columns
        assert "away" in text and " 60 " in text            # the screened variant says so, with its n


async def _test_the_ranking_at_80_and_120_columns(tmp_path: Path) -> None:
    from scoregap.tui.app import make_app
    from scoregap.tui.screens.ranking import RankingScreen

    for size, wide in (((80, 24), False), ((120, 40), True)):
        app = make_app(session(tmp_path), cache_dir=tmp_path / f"cache{size[0]}", autostart=False)
        async with app.run_test(size=size) as pilot:
            app.ranking = RankingScreen()
            await app.push_screen(app.ranking)
            app.ranking.show(report())
            await pilot.pause()
            text = screen_text(app)
            header = next(line for line in text.splitlines() if "closes" in line)
            for column in ("check", "variant", "Δ", " n ", "closes", "sig"):
                assert column in header, (size, column, header)
            assert ("95% CI" in header) is wide, (size, header)
            assert "away" in text                         # the 60-doc row says it was screened
            assert "s Save" in text.splitlines()[-1] and "q Quit" in text.splitlines()[-1]


def test_the_checklist_at_80_columns(tmp_path: Path) -> None:
    asyncio.run(_test_the_checklist_at_80_columns(tmp_path))


def test_the_ranking_at_80_and_120_columns(tmp_path: Path) -> None:
    asyncio.run(_test_the_ranking_at_80_and_120_columns(tmp_path))


def test_a_noise_floor_repeat_is_never_a_checks_effect() -> None:
    from scoregap.tui.screens.checklist import _done_state

    repeats = [finding("few-shot seed 1236", 0.2, repeat=True, check="seed"),
               finding("few-shot seed 1235", 0.1, repeat=True, check="seed")]
    assert CheckResult("seed", "done", repeats).best is None
    assert _done_state(repeats).effect is None
    mixed = [*repeats, finding("few-shot seed 42 (stated)", 0.05, check="seed")]
    assert CheckResult("seed", "done", mixed).best.variant.name == "few-shot seed 42 (stated)"


def test_a_floor_that_no_repeat_moved_says_why() -> None:
    from scoregap.engine import noise
    from scoregap.engine.events import Summary
    from scoregap.engine.session import Session
    from scoregap.tui.screens.checklist import summary_text

    base = [1.0, 0.0] * 50
    for runs in ({}, {"shots shuffled (seed 1235)": list(base)}):
        f = noise.floor(base, runs)
        assert not f.measured and abs(f.half_width - 1.96 / 100) < 1e-4, runs   # never 0
        assert "one flipped doc" in f.basis
    s = Summary(0.5, None, 0.9, "", 0.4, 0.0196, f.basis, "gap", 100, noise_measured=False)
    text = summary_text(s, Session.__new__(Session)).plain
    assert "noise ±2.0 (no repeat moved a doc: one doc's worth)" in text


async def _test_a_narrow_prompt_diff_stacks_its_sides() -> None:
    from textual.app import App

    from scoregap.tui.widgets.prompt_diff import PromptDiff, PromptPair

    class One(App[None]):
        def compose(self):  # noqa: ANN202
            yield PromptDiff()

    for width, stacked in ((40, True), (100, False)):
        app = One()
        async with app.run_test(size=(width, 20)) as pilot:
            app.query_one(PromptDiff).show(PromptPair("yours", "reported", "Question: x\nAnswer:", "Question: x\nA:"))
            await pilot.pause()
            await pilot.pause()
            text = screen_text(app)
            assert ("- yours, + reported" in text) is stacked, text
            assert ("reported" in text.replace("- yours, + reported", "")) is not stacked, text
            if stacked:
                lines = [line.strip() for line in text.splitlines()]
                assert "-  Answer:" in lines and "+  A:" in lines, text


def test_a_narrow_prompt_diff_stacks_its_sides() -> None:
    asyncio.run(_test_a_narrow_prompt_diff_stacks_its_sides())


def two_runs_comparison() -> dict:
    """Two logged runs of three docs, compared by the engine: yours 0-shot, the reported 1-shot;
    doc 1 flips (only the reported run got it right)."""
    from scoregap.engine.run_comparison import compare_runs
    from scoregap.engine.runs import LoggedDoc, LoggedRun

    def run(shot: str, correct: list[float]) -> LoggedRun:
        docs = tuple(LoggedDoc(i, {}, f"What is {i} plus {i}?", ((f"{shot}Q: What is {i} plus {i}?\nA:", f" {2 * i}"),),
                               correct[i]) for i in range(3))
        return LoggedRun("lm-eval", "r.json", "t", "acc", "none", sum(correct) / 3,
                         facts={"fewshot.k": 1 if shot else 0}, docs=docs)

    c = compare_runs(run("", [1.0, 0.0, 1.0]), run("Q: What is 9 plus 9?\nA: 18\n\n", [1.0, 1.0, 1.0]))
    return c.to_dict()


async def _test_the_two_runs_doc_by_doc_at_80_columns(tmp_path: Path) -> None:
    from textual.widgets import Static

    from scoregap.tui.app import make_app
    from scoregap.tui.screens.ranking import RankingScreen
    from scoregap.tui.screens.run_docs import RunDocsScreen

    app = make_app(session(tmp_path), cache_dir=tmp_path / "cache", autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.ranking = RankingScreen()
        await app.push_screen(app.ranking)
        bare = report()
        app.ranking.show(bare)
        await pilot.press("d")                       # no runs: said, nothing pushed
        await pilot.pause()
        assert isinstance(app.screen, RankingScreen)
        shown = {**bare, "runs": {"comparison": two_runs_comparison()}}
        shown["ranking"] = [{**bare["ranking"][0], "runs_show": 1}, bare["ranking"][1]]
        app.ranking.show(shown)
        await pilot.pause()
        assert "(runs show it)" in screen_text(app)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, RunDocsScreen)
        text = screen_text(app)
        print(text)
        assert "3 of the 3 matched docs differ in outcome or prompt (flips first)" in " ".join(text.split())
        lines = [line for line in text.splitlines() if line.rstrip().endswith("plus 0?") or "part at character 11  " in line]
        assert [line.split()[:2] for line in lines] == [["1", "only"], ["0", "both"], ["2", "both"]]   # the flip first
        diff = str(app.screen.query_one("#docs-diff", Static).render())
        assert diff.startswith("Doc 1: only reported") and "+Q:␣What␣is␣9␣plus␣9?↵\n+A:␣18↵" in diff
        await pilot.press("down")
        await pilot.pause()
        assert str(app.screen.query_one("#docs-diff", Static).render()).startswith("Doc 0: both right")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RankingScreen)


def test_the_two_runs_doc_by_doc_at_80_columns(tmp_path: Path) -> None:
    asyncio.run(_test_the_two_runs_doc_by_doc_at_80_columns(tmp_path))
