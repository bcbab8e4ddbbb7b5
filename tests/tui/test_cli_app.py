"""How the command line reaches the terminal app: `scoregap`, `scoregap app`, `scoregap demo NAME`
(the app) and `scoregap demo --headless NAME` (the old headless diagnosis). The app itself is
replaced by a recorder here; tests/tui/test_app.py drives the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoregap.profiles import scenarios
from scoregap.tui import cli


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    calls: list[tuple] = []
    monkeypatch.setattr(cli, "run_app", lambda session, limit, cache_dir: calls.append((session, limit)) or 0)
    return calls


@pytest.mark.skipif(not scenarios(), reason="the demo world (profiles/demo) is not generated")
def test_demo_name_opens_the_app_on_that_scenario(opened: list, monkeypatch: pytest.MonkeyPatch) -> None:
    called = []
    monkeypatch.setattr(cli, "run_diagnosis", lambda *a, **k: called.append(a) or 0)
    assert cli.main(["demo", "labels"]) == 0
    assert opened == [({s.name: s.path for s in scenarios()}["labels"], None)]
    assert not called
    assert cli.main(["demo"]) == 0                     # the default: the first scenario
    assert opened[-1][0] == scenarios()[0].path


@pytest.mark.skipif(not scenarios(), reason="the demo world (profiles/demo) is not generated")
def test_demo_headless_keeps_the_headless_diagnosis(opened: list, monkeypatch: pytest.MonkeyPatch) -> None:
    called = []
    monkeypatch.setattr(cli, "run_diagnosis", lambda session, limit, report, cache, quiet: called.append(session) or 0)
    assert cli.main(["demo", "--headless", "labels"]) == 0
    assert not opened and called and called[0].path.endswith("labels.toml")


def test_app_opens_a_session_and_refuses_a_missing_one(opened: list, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    session = tmp_path / "s.toml"
    session.write_text("")
    assert cli.main(["app", str(session), "--limit", "12"]) == 0
    assert opened == [(session, 12)]
    assert cli.main(["app", str(tmp_path / "missing.toml")]) == 2
    assert "file not found" in " ".join(capsys.readouterr().err.split())


def test_no_command_without_a_terminal_prints_help(opened: list, capsys) -> None:  # noqa: ANN001
    assert cli.main([]) == 0                           # pytest's stdout is not a terminal
    assert "demo" in capsys.readouterr().out and not opened
