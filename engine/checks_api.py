"""What a check is, as the engine sees it: the `Check` protocol and the values it trades in.

A check knows *what* to vary for one item of the checklist and how to read the result; the engine
knows how to evaluate. A check never calls a backend: it returns `Variant`s — named setups derived
from your setup by changing one factor (dotted setup keys), or a re-reading of your own outputs
(`transform`: a scale or an average that changes no per-doc output). The engine evaluates them,
compares each with your run on the same docs, and hands back `Finding`s.

Checks are registered in order in `scoregap.checks`; the front ends pass them to the diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol

from scoregap.engine.errors import InputError, did_you_mean
from scoregap.engine.scoring import OutputStats
from scoregap.engine.setup import Setup
from scoregap.engine.tasks import Task

CHECK_IDS = ("codebase", "seed", "metric", "normalization", "prompt", "template", "fewshot",
             "generation", "loading")

TRANSFORMS = ("percent", "rescaled", "macro", "micro")

RERUNS = ("all", "margin")
"""How a variant may be re-run: on every doc, or only on the docs whose decision margin is small
enough for a numeric change (dtype, batch size, kernels) to flip; the others keep your outputs."""


def parse_check_ids(names: Iterable[str], where: str) -> tuple[str, ...]:
    """Check ids as given (a session's list, --checks, the wizard), validated, in checklist
    order; `where` starts the message ("session.toml: diagnosis.checks", "--checks")."""
    wanted = [str(n).strip() for n in names if str(n).strip()]
    for name in wanted:
        if name not in CHECK_IDS:
            raise InputError(f'{where} names "{name}", which is not a check.{did_you_mean(name, CHECK_IDS)} '
                             f"Checks: {', '.join(CHECK_IDS)}.")
    return tuple(c for c in CHECK_IDS if c in wanted)


@dataclass(frozen=True)
class Question:
    """Something to find out about the reported setup; answered by a `[reported.known]` fact."""

    key: str          # a dotted setup key ("fewshot.k") whose reported value would settle it
    text: str         # "Does the report say how many shots it used?"


@dataclass(frozen=True)
class Variant:
    check: str
    name: str                                    # short and readable: "k = 5", "labels (a)"
    changes: tuple[tuple[str, Any], ...] = ()    # dotted setup keys -> values, applied to yours
    transform: str = ""                          # one of TRANSFORMS: re-reads your outputs
    known: bool = False                          # tests a fact the report states
    note: str = ""                               # why this variant is plausible
    rerun: str = "all"                           # one of RERUNS
    repeat: bool = False                         # an identical-setting repeat: it measures noise,
                                                 # it is never a candidate cause

    def apply(self, yours: Setup) -> Setup:
        return yours.with_values(dict(self.changes), origin=f"variant {self.check}: {self.name}") if self.changes else yours


@dataclass(frozen=True)
class CheckContext:
    """What a check may look at besides your setup."""

    task: Task
    known: Mapping[str, Any]                     # [reported.known]: dotted key -> value
    reported_score: float                        # as a fraction
    presets: tuple[str, ...] = ()                # codebase presets that fit this task kind
    backends: tuple[str, ...] = ("transformers",)

    @property
    def n_choices(self) -> int:
        return max((len(d.choices) for d in self.task.docs), default=0)


class Check(Protocol):
    id: str
    title: str
    explanation: str        # why this factor moves scores, with published magnitudes
    reading: str            # how to read this check's findings
    questions: tuple[Question, ...]
    keys: tuple[str, ...]   # the setup keys it varies, and tests first when the report states them

    def applies(self, yours: Setup, context: CheckContext) -> str:
        """'' if the check applies, else the reason it is skipped."""

    def variants(self, yours: Setup, context: CheckContext) -> list[Variant]: ...


@dataclass(frozen=True)
class Finding:
    """One variant, evaluated and compared with your run on the same docs."""

    variant: Variant
    score: float                     # the variant's score (fraction)
    delta: float                     # variant - yours
    ci: tuple[float, float]
    p: float
    closes: float                    # fraction of the gap removed (1 = all of it)
    closes_ci: tuple[float, float]
    n: int
    method: str                      # the paired test used
    significant: bool = False        # after Holm across checks and beyond the noise floor
    calls: int = 0                   # model calls it needed (cache hits excluded)
    screened: str = ""               # why it stopped on the screening subset ('' : every doc)
    round: int = 1                   # 2, 3: found on top of the fixes of earlier rounds
    after: tuple[str, ...] = ()      # those fixes (variant names), for a later round's finding
    outputs: OutputStats | None = None   # what its outputs show (stops, truncation, doubled BOS)
    group: int = 0                   # causes of several checks that explain the gap alike share a group
    alike: tuple[tuple[str, float], ...] = ()   # other variants of this check that explain it alike:
                                                # (name, share of docs scored the same)
    per_doc: tuple[float, ...] = field(default=(), repr=False, compare=False)   # the variant's values


@dataclass
class CheckResult:
    check: str
    status: str                      # "done" | "skipped" | "failed" | "cancelled"
    findings: list[Finding] = field(default_factory=list)
    message: str = ""                # why skipped / failed, or the reading of the result
    mde: float = 0.0                 # the smallest effect it could have detected
    calls: int = 0

    @property
    def best(self) -> Finding | None:
        """The finding that closes most of the gap; a noise-floor repeat is never one (None when the
        check holds only repeats, as the seed check does)."""
        return max((f for f in self.findings if not f.variant.repeat), key=lambda f: f.closes, default=None)
