"""The hub replica generator, `scripts/make_replicas.py`, importable by tests as `replicas`.

Why a loader: `scripts/` is not a package and not on the tests' path; loading the script by its
file keeps one copy of the generator for the command line and the tests. Not a test module.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_replicas.py"


def _load() -> ModuleType:
    if "make_replicas" in sys.modules:
        return sys.modules["make_replicas"]
    spec = importlib.util.spec_from_file_location("make_replicas", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_replicas"] = module  # dataclasses look their module up while the script runs
    spec.loader.exec_module(module)
    return module


_make_replicas = _load()
MMLU_SUBJECTS = _make_replicas.MMLU_SUBJECTS
REPLICAS = _make_replicas.REPLICAS
Replica = _make_replicas.Replica
write_replicas = _make_replicas.write_replicas

__all__ = ["MMLU_SUBJECTS", "REPLICAS", "Replica", "write_replicas"]
