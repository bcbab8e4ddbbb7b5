"""The lighteval fixture writer, `scripts/make_lighteval_fixtures.py`, importable by tests (not a
test module)."""

from __future__ import annotations

from script_loader import load_script

_module = load_script("make_lighteval_fixtures")
write_fixtures = _module.write_fixtures
NEW_TASK = _module.NEW_TASK
OLD_TASK = _module.OLD_TASK
NORM = _module.NORM
DOCS = _module.DOCS

__all__ = ["DOCS", "NEW_TASK", "NORM", "OLD_TASK", "write_fixtures"]
