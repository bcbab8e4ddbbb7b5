"""The hub replica generator, `scripts/make_replicas.py`, importable by tests as `replicas`.

Loaded by file (tests/script_loader.py): one copy of the generator for the command line and the tests.
Not a test module.
"""

from __future__ import annotations

from script_loader import load_script

_make_replicas = load_script("make_replicas")
MMLU_SUBJECTS = _make_replicas.MMLU_SUBJECTS
REPLICAS = _make_replicas.REPLICAS
Replica = _make_replicas.Replica
write_replicas = _make_replicas.write_replicas

__all__ = ["MMLU_SUBJECTS", "REPLICAS", "Replica", "write_replicas"]
