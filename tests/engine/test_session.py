"""Session files: strict like setups; the reported score's scale; known facts validated."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scoregap.engine.errors import InputError
from scoregap.engine.session import load_session

SETUP = 'extends = "samples/arith"\n'


def write(tmp_path, text):
    (tmp_path / "mine.toml").write_text(SETUP)
    path = tmp_path / "session.toml"
    path.write_text(text)
    return path


BASE = '[model]\npath = "org/model"\n[yours]\nsetup = "mine.toml"\n'


def test_a_percentage_is_read_as_a_fraction_and_facts_are_kept(tmp_path):
    s = load_session(write(tmp_path, BASE + '[reported]\nscore = 61.9\n[reported.known]\n"fewshot.k" = 5\n'))
    assert s.reported_score == pytest.approx(0.619) and s.reported_scale == "percent"
    assert s.known == {"fewshot.k": 5}
    assert s.yours.task.path.endswith("arith.toml") and s.model == "org/model"
    assert s.checks[0] == "codebase" and len(s.checks) == 9


def test_a_fraction_stays_a_fraction(tmp_path):
    s = load_session(write(tmp_path, BASE + "[reported]\nscore = 0.619\n"))
    assert s.reported_score == pytest.approx(0.619) and s.reported_scale == "fraction"


@pytest.mark.parametrize("extra, message", [
    ('[reported]\nscore = 61.9\n[reported.known]\n"fewshot.kk" = 5\n', "Did you mean"),
    ('[reported]\nscore = 61.9\n[reported.known]\n"fewshot.k" = "five"\n', "fewshot.k"),
    ('[reported]\nscore = 61.9\n[diagnosis]\nchecks = ["promt"]\n', 'Did you mean "prompt"'),
    ('[reported]\nscore = 61.9\nsorce = "x"\n', 'Did you mean "source"'),
    ('[reported]\nsource = "x"\n', "score is required"),
    ('[reported]\nscore = 61.9\nscale = "permille"\n', "Allowed"),
])
def test_bad_sessions_say_what_to_fix(tmp_path, extra, message):
    with pytest.raises(InputError, match=message):
        load_session(write(tmp_path, BASE + extra))


def test_the_demo_sessions_load():
    from scoregap.profiles import scenarios

    if not scenarios():
        pytest.skip("the demo world's sessions are not generated yet (issue 3)")
    for scenario in scenarios():
        session = load_session(scenario.path)
        assert session.story and session.reported_score > 0, scenario.name


@pytest.mark.parametrize("extra", [
    '[reported]\nscore = 61.9\nsource = "card"\nsetup = "lm-eval/mmlu"\n[reported.known]\n"fewshot.k" = 5\n'
    '"chat.apply_template" = false\n[diagnosis]\nchecks = ["prompt", "metric"]\nlimit = 40\n',
    '[yours]\nscore = 0.553\n[reported]\nscore = 0.619\nscale = "fraction"\n',
    '[reported]\nscore = 30\n[truth]\ncauses = ["metric"]\nstory = "a leaderboard number"\n',
])
def test_a_session_written_by_to_toml_loads_back_equal(tmp_path, extra):
    base = BASE if "[yours]" not in extra else BASE.replace('[yours]\nsetup = "mine.toml"\n', "")
    text = base + extra if "[yours]" not in extra else base + extra.replace("[yours]\n", '[yours]\nsetup = "mine.toml"\n')
    original = load_session(write(tmp_path, text))
    elsewhere = tmp_path / "moved" / "copy.toml"          # absolute paths: the copy may live anywhere
    elsewhere.parent.mkdir()
    elsewhere.write_text(original.to_toml())
    again = load_session(elsewhere)
    assert again == replace(original, path=str(elsewhere))


def test_check_ids_are_validated_in_one_place():
    from scoregap.engine.checks_api import parse_check_ids

    assert parse_check_ids(["prompt", " metric", ""], "--checks") == ("metric", "prompt")   # checklist order
    with pytest.raises(InputError, match='--checks names "promt".*Did you mean "prompt"'):
        parse_check_ids(["promt"], "--checks")
