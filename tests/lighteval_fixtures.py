"""The lighteval fixture writer, `scripts/make_lighteval_fixtures.py`, importable by tests.

Why a loader: `scripts/` is not a package and not on the tests' path; loading the script by its
file keeps one copy of the writer for the command line and the tests. Not a test module.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_lighteval_fixtures.py"


def _load() -> ModuleType:
    if "make_lighteval_fixtures" in sys.modules:
        return sys.modules["make_lighteval_fixtures"]
    spec = importlib.util.spec_from_file_location("make_lighteval_fixtures", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_lighteval_fixtures"] = module
    spec.loader.exec_module(module)
    return module


_module = _load()
write_fixtures = _module.write_fixtures
NEW_TASK = _module.NEW_TASK
OLD_TASK = _module.OLD_TASK
NORM = _module.NORM
DOCS = _module.DOCS

__all__ = ["DOCS", "NEW_TASK", "NORM", "OLD_TASK", "write_fixtures"]
