"""The bundled presets and demos (package data), and what lists them.

- codebase presets: `<codebase>/<name>.toml` (lm-eval/, lighteval/, helm/, ...), setups a user
  may extend or name wherever a setup file is accepted;
- bundled tasks: `tasks/` and the sample setups in `samples/`;
- the demo world: `demo/` (a small trained model, its tasks, reference setups and scenario
  sessions, written by scripts/demo_world.py) and the sample demos on a random tiny model
  (`tinymodel.py` builds it, and the models the tests use).

This module imports nothing heavy: listing the demos reads TOML only.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROFILES_DIR = Path(__file__).resolve().parent
SESSIONS = PROFILES_DIR / "demo" / "sessions"


@dataclass(frozen=True)
class Scenario:
    """A demo-world session: a planted departure from the demo model's "model card"."""

    name: str
    path: Path
    story: str


@dataclass(frozen=True)
class SampleDemo:
    """One evaluation of a bundled sample setup on a random tiny model."""

    name: str
    setup: str
    story: str
    limit: int


SAMPLES = (
    SampleDemo("arith", "samples/arith", "multiple-choice arithmetic in lm-eval's MMLU layout, 0-shot (random tiny model)", 60),
    SampleDemo("facts", "samples/facts", "short answers, generated greedily, exact match (random tiny model)", 20),
)


def scenarios() -> list[Scenario]:
    """The demo world's sessions in their intended order (the first is the default demo);
    empty when the trained model or the sessions are missing."""
    index = SESSIONS / "index.toml"
    if not index.is_file() or not (PROFILES_DIR / "demo" / "model" / "config.json").is_file():
        return []
    order = tomllib.loads(index.read_text(encoding="utf-8"))["order"]
    out = []
    for name in order:
        path = SESSIONS / f"{name}.toml"
        try:
            story = str(tomllib.loads(path.read_text(encoding="utf-8")).get("truth", {}).get("story", ""))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        out.append(Scenario(name, path, story))
    return out
