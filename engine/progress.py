"""The engine's progress protocol.

The engine never draws anything: it tells a `Progress` how far it got, and asks it whether the
user cancelled. The command line (a stderr bar), the Textual app (messages to widgets) and the
tests (recorders) each implement it. `stage` says what happens while no request is being computed
(reading the cache, loading the tokenizer or the model), so nothing looks stuck at 0/0.
"""

from __future__ import annotations

from typing import Protocol


class Cancelled(Exception):
    """The user cancelled; every result finished before this is already in the cache."""


class Progress(Protocol):
    def stage(self, text: str) -> None: ...

    def start(self, label: str, total: int) -> None: ...

    def advance(self, n: int) -> None: ...

    def finish(self) -> None: ...

    def cancelled(self) -> bool: ...


class NullProgress:
    """Reports nothing, never cancels."""

    def stage(self, text: str) -> None:
        pass

    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass

    def cancelled(self) -> bool:
        return False
