"""Errors the user can act on.

Every problem with the user's input (a setup, a task, a session, a model path) is raised as an
`InputError` whose message is one self-contained paragraph: which file, which key or line, what
is allowed. The command line prints it and exits with code 2; nothing else is caught that way,
so a bug still shows its traceback.
"""

from __future__ import annotations

import difflib


class InputError(Exception):
    """Bad input: the message is shown to the user as it is."""

    exit_code = 2


def did_you_mean(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    """A ' Did you mean "x"?' suffix for a near-miss name, or ''."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f' Did you mean "{close[0]}"?' if close else ""
