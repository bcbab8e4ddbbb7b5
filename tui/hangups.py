"""SIGHUP (an SSH connection dropped) and SIGTERM (asked to stop), routed to the app while it runs.

Only the main thread's event loop can take them; elsewhere (a test's thread, Windows) they keep
their default. When the app ends, the handlers from before it are given back.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

SIGNALS = (signal.SIGHUP, signal.SIGTERM)   # the terminal went away; asked to stop


class HangupSignals:
    def __init__(self) -> None:
        self.saved: dict[int, Any] = {}

    def route(self, handler: Callable[[int], None]) -> None:
        """Call `handler(signum)` on SIGHUP and SIGTERM (from the running loop)."""
        loop = asyncio.get_running_loop()
        for signum in SIGNALS:
            previous = signal.getsignal(signum)
            try:
                loop.add_signal_handler(signum, handler, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            self.saved[signum] = previous

    def release(self) -> None:
        """Give SIGHUP and SIGTERM back their handlers from before."""
        loop = asyncio.get_running_loop()
        for signum, previous in self.saved.items():
            loop.remove_signal_handler(signum)
            if previous is not None:
                signal.signal(signum, previous)
        self.saved.clear()
