"""What every backend provides. The engine talks to backends only through this protocol."""

from __future__ import annotations

from typing import Any, Callable, Protocol

from scoregap.engine.progress import Progress
from scoregap.engine.requests import Generate, GenerationResult, Loglikelihood, LoglikelihoodResult


class Backend(Protocol):
    name: str
    tokenizer: Any

    def chat_renderer(self) -> Callable[[list[dict[str, str]]], str] | None:
        """Renders a conversation with the model's chat template, or None if it has none."""

    def loglikelihood(
        self, requests: list[Loglikelihood], batch_size: int | str, progress: Progress
    ) -> list[LoglikelihoodResult]: ...

    def generate(
        self, requests: list[Generate], batch_size: int | str, progress: Progress
    ) -> list[GenerationResult]: ...
