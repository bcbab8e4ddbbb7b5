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
from typing import TYPE_CHECKING, Callable, TypeVar

from scoregap.engine.errors import InputError

if TYPE_CHECKING:
    from scoregap.engine.backends.base import BackendType
    from scoregap.engine.model import ModelRef

MODULES: dict[str, str] = {
    "transformers": "scoregap.engine.backends.transformers",
    "fake": "scoregap.engine.backends.fake",
}
"""Backend name -> the module whose `@backend(name)` registers it."""

MARKERS: dict[str, str] = {
    "transformers": "config.json",
    "fake": "fake-model.toml",
}
"""Backend name -> the file a model directory must hold for it (checked before any import)."""

NOT_YET: dict[str, str] = {
    "vllm": 'loading.backend = "vllm" is part of the setup format, but this version of scoregap '
            'evaluates with transformers only. Set loading.backend = "transformers".',
}
"""Names the setup format reserves for backends this version cannot run yet."""

NAMES: tuple[str, ...] = tuple(MODULES) + tuple(NOT_YET)

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
    if name in NOT_YET:
        raise InputError(NOT_YET[name])
    if name not in MODULES:
        raise InputError(f'loading.backend = "{name}" is not a backend. Backends: {", ".join(NAMES)}.')
    if name not in _REGISTERED:
        try:
            importlib.import_module(MODULES[name])
        except ImportError as err:
            raise InputError(
                f'loading.backend = "{name}" needs the package "{err.name or name}", which is not '
                f"installed here ({err}). Install it, or choose another backend."
            ) from None
    return _REGISTERED[name]  # type: ignore[return-value]


def backends_for(model: ModelRef) -> tuple[str, ...]:
    """The backends installed here that can run `model` (the loading check compares them)."""
    from pathlib import Path

    names = []
    for name in MODULES:
        if not (Path(model.directory) / MARKERS[name]).is_file():
            continue
        try:
            cls = get_backend(name)
        except InputError:
            continue
        if not cls.accepts(model):
            names.append(name)
    return tuple(names)
