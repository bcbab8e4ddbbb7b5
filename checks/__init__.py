"""The checklist: nine checks, one module each, registered in the order of DESIGN.md.

Each module defines one check class decorated with `@register` (scoregap.checks.base), which
keeps the check's id, onboarding text and variant rules next to its code. This package gathers
them in the contract order of `CHECK_IDS`:

    from scoregap.checks import CHECKS, get, ids
    for check in CHECKS: ...            # codebase, seed, metric, normalization, prompt, ...
    get("fewshot").variants(yours, context)

Never imports Textual, nor torch: the engine's pure modules (setups, tasks, prompts) are enough.
"""

from __future__ import annotations

from scoregap.checks import (  # noqa: F401  (imported to register, in DESIGN order)
    codebase,
    fewshot,
    generation,
    loading,
    metric,
    normalization,
    prompt,
    seed,
    template,
)
from scoregap.checks.base import registered
from scoregap.engine.checks_api import CHECK_IDS, Check

_BY_ID: dict[str, Check] = registered()
missing = [i for i in CHECK_IDS if i not in _BY_ID]
if missing:  # pragma: no cover - a module lost its @register
    raise ImportError(f"checks not registered: {', '.join(missing)}")
del missing

CHECKS: tuple[Check, ...] = tuple(_BY_ID[i] for i in CHECK_IDS)


def ids() -> tuple[str, ...]:
    """The check ids, in checklist order."""
    return CHECK_IDS


def get(check_id: str) -> Check:
    """The registered check with this id; KeyError naming the ids when there is none."""
    try:
        return _BY_ID[check_id]
    except KeyError:
        raise KeyError(f'no check "{check_id}"; checks: {", ".join(CHECK_IDS)}') from None


__all__ = ["CHECKS", "get", "ids"]
