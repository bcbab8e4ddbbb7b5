"""Shared fixtures: an offline, sandboxed environment and the tiny local model.

The environment variables are set when this file is imported, before any test module imports
transformers or huggingface_hub (both read them at import time), so no test can reach a hub or
write into the user's home: every cache lives in one temporary folder for the session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="scoregap-tests-"))
_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HOME": str(_SESSION_DIR / "hf"),
    "SCOREGAP_CACHE_DIR": str(_SESSION_DIR / "scoregap"),
    "XDG_CACHE_HOME": str(_SESSION_DIR / "xdg"),
    # The loading check compares only transformers here: starting vLLM in every diagnosis would
    # cost seconds each and bind this process's threads. tests/engine/backends/test_vllm_backend.py
    # runs vLLM, in a process of its own.
    "SCOREGAP_BACKENDS": "transformers,fake",
}
os.environ.update(_ENVIRONMENT)


@pytest.fixture(scope="session", autouse=True)
def _sandboxed_environment() -> Iterator[Path]:
    """Keep the offline, home-free environment for the whole session, then remove its folder."""
    saved = {name: os.environ.get(name) for name in _ENVIRONMENT}
    os.environ.update(_ENVIRONMENT)
    yield _SESSION_DIR
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny Llama model directory, built once per session (a few seconds)."""
    from scoregap.profiles.tinymodel import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model: Path):  # noqa: ANN201 - a transformers tokenizer
    """The tiny model's tokenizer as every consumer sees it: loaded back from disk."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture
def cache(tmp_path: Path):  # noqa: ANN201 - scoregap.engine.cache.Cache
    """A fresh, empty result cache in the test's own folder."""
    from scoregap.engine.cache import Cache

    return Cache(tmp_path / "cache")


@pytest.fixture
def write_setup(tmp_path: Path) -> Callable[..., Path]:
    """write_setup(text, name="setup.toml") -> the path of a setup file holding `text`."""

    def write(text: str, name: str = "setup.toml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write
