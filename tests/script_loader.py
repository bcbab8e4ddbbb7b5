"""Loading a script of `scripts/` as a module, for the tests (not a test module).

Why: `scripts/` is not a package and not on the tests' path; loading a script by its file keeps one
copy of a generator for the command line and the tests (`replicas.py`, `lighteval_fixtures.py`).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def load_script(stem: str) -> ModuleType:
    """`scripts/<stem>.py` as the module `stem`, loaded once per session."""
    if stem in sys.modules:
        return sys.modules[stem]
    spec = importlib.util.spec_from_file_location(stem, SCRIPTS / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[stem] = module   # dataclasses look their module up while the script runs
    spec.loader.exec_module(module)
    return module
