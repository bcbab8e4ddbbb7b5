"""The noise floor: how far your score moves when nothing that matters changes.

Which parts of a setup are drawn at random is decided here, once, for both the seed check and
the floor: few-shot examples drawn at random or shuffled with a seed, and sampled generation.
Each of those gets two repeats with other seeds. Three more kinds of repeat keep the floor honest
when nothing is random:

- fixed shots (the first k of the pool) still embody an arbitrary choice: their order (k >= 2)
  or, for a single shot, which one; repeats shuffle the order or draw another shot;
- another batch size re-runs the docs whose decision margin could flip (numerics differ between
  batch shapes on real hardware);
- when no repeat moves a single doc (or none can run), the floor is the paired standard error of one flipped doc,
  ±1.96/n: the resolution of a paired comparison on n docs. A floor of 0 would let any effect
  that passes Holm count, however small.

The report says which repeats made the floor, and at which setup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scoregap.engine import stats
from scoregap.engine.checks_api import Variant
from scoregap.engine.setup import Setup

STEPS = (1, 2)


def shots_are_random(setup: Setup) -> bool:
    """Whether the few-shot seed changes the prompt: a random sample, or a shuffled order."""
    f = setup.fewshot
    return f.k > 0 and (f.sampler == "random" or (f.order == "shuffled" and f.k >= 2))


def sampling_is_random(setup: Setup) -> bool:
    return setup.scoring.method == "generate" and setup.generation.temperature > 0


def random_keys(setup: Setup) -> tuple[str, ...]:
    """The seeds that draw something in this setup (what another seed would change)."""
    return tuple(key for key, drawn in (("fewshot.seed", shots_are_random(setup)),
                                        ("generation.seed", sampling_is_random(setup))) if drawn)


def seed_name(key: str, value: int) -> str:
    return f"few-shot seed {value}" if key == "fewshot.seed" else f"sampling seed {value}"


def repeats(setup: Setup, pool: int) -> list[Variant]:
    """The identical-setting repeats of `setup`; `pool` = shots a doc can draw from."""
    out = []
    for key in random_keys(setup):
        for step in STEPS:
            value = setup.get(key) + step
            out.append(Variant("seed", seed_name(key, value), ((key, value),),
                               note="the same setup drawn again", repeat=True))
    f = setup.fewshot
    if f.k > 0 and not shots_are_random(setup):
        for step in STEPS:
            seed = f.seed + step
            if f.k >= 2:
                out.append(Variant("seed", f"shots shuffled (seed {seed})",
                                   (("fewshot.order", "shuffled"), ("fewshot.seed", seed)),
                                   note="the same shots in another order", repeat=True))
            elif pool > 1:
                out.append(Variant("seed", f"another shot (seed {seed})",
                                   (("fewshot.sampler", "random"), ("fewshot.seed", seed)),
                                   note="another example from the pool", repeat=True))
    other = 1 if setup.loading.batch_size != 1 else 8
    out.append(Variant("seed", f"batch size {other}", (("loading.batch_size", other),),
                       note="other batch shapes round differently", rerun="margin", repeat=True))
    return out


PARTS = {"fewshot.seed": "few-shot seed repeats", "generation.seed": "sampling seed repeats",
         "fewshot.order": "shot-order repeats", "fewshot.sampler": "another-shot repeats",
         "loading.batch_size": "batch-size repeat"}
"""What each kind of repeat is called where the floor's progress is shown (by the key it changes first)."""


def part(variant: Variant) -> str:
    """Which part of the noise floor a repeat measures ("few-shot seed repeats", "batch-size repeat")."""
    first = variant.changes[0][0] if variant.changes else ""
    return PARTS.get(first, "repeats")


@dataclass(frozen=True)
class Floor:
    """The noise floor and what it was measured from."""

    half_width: float                # an effect must be larger than this to count
    sd: float
    repeats: dict[str, float] = field(default_factory=dict)   # repeat name -> its score
    basis: str = ""                  # one sentence for the report: what made the floor
    setup: str = "your setup"        # where the repeats were run
    measured: bool = True            # False: no repeat moved a doc; the floor is one doc's resolution


def floor(base: list[float], runs: dict[str, list[float]], clusters: list[str] | None = None,
          setup: str = "your setup") -> Floor:
    """The floor from your per-doc values and each repeat's (same docs, same order).

    half_width = the largest of: 1.96 sd of the repeat means, the widest spread between two
    repeats (stats.noise_floor), and the widest 95% CI of a repeat's paired difference from
    yours; or, when no repeat moved a doc, the paired SE of one flipped doc."""
    scores = {"yours": sum(base) / len(base), **{k: sum(v) / len(v) for k, v in runs.items()}}
    one_doc = stats.Z_95 / len(base)
    if not runs:
        return Floor(one_doc, 0.0, scores, f"No identical-setting repeat could be run, so the floor is the paired "
                     f"standard error of one flipped doc (1.96/n with n = {len(base)}): the smallest "
                     f"difference these docs can show.", setup, measured=False)
    spread = stats.noise_floor([base, *runs.values()])
    widest = max(max(abs(lo), abs(hi)) for lo, hi in (stats.compare(base, r, clusters).ci for r in runs.values()))
    half = max(spread.half_width, widest)
    names = ", ".join(runs)
    if half > 0:
        return Floor(half, spread.sd, scores, f"Measured at {setup} from {len(runs)} identical-setting "
                     f"repeats: {names}.", setup)
    return Floor(one_doc, 0.0, scores, f"No repeat moved a single doc ({names}), so the floor is the "
                 f"paired standard error of one flipped doc (1.96/n with n = {len(base)}).", setup, measured=False)
