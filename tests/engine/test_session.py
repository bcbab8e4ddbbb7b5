"""Session files: strict like setups; the reported score's scale; known facts validated."""

from __future__ import annotations

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
    from scoregap.tui.demo import scenarios

    if not scenarios():
        pytest.skip("the demo world's sessions are not generated yet (issue 3)")
    for name, path in scenarios():
        session = load_session(path)
        assert session.story and session.reported_score > 0, name
