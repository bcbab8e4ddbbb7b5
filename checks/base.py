"""What every check shares: registration, and the rules a list of variants obeys.

A check only says what to vary; these rules keep what it says worth evaluating:

- a fact the report states (`[reported.known]`) that differs from your setup is tested first and
  marked `known=True`; a factor the report settles is not explored further (except by the seed
  check, whose repeats are the noise floor whatever the report says);
- a variant is a setup a user could have written: `Setup.with_values` validates it, and a change
  to the prompt, few-shot or chat keys must also render (a template that names a missing field,
  more shots than the pool holds, Roman labels past XII are dropped here, not at evaluation);
- a variant that changes nothing is never emitted: neither an equal setup nor a prompt change
  that renders to the very same model input (a choice wrapper when the choices carry no label,
  the space before an answer that a chat turn never shows); each name and each effect appears once.

Why here rather than in the engine: a dropped variant costs nothing, while a no-op one costs model
calls and shows up in the report as a finding about nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from scoregap.engine.checks_api import (
    CHECK_IDS,
    TRANSFORMS,
    Check,
    CheckContext,
    Question,
    Variant,
)
from scoregap.engine.errors import InputError
from scoregap.engine.prompts import PromptBuilder, probe_chat
from scoregap.engine.setup import Setup

_REGISTERED: dict[str, Check] = {}
C = TypeVar("C", bound=type)

# Setup sections whose keys change the model's input text, and therefore must render.
RENDERED_SECTIONS = ("prompt", "fewshot", "chat")
# Docs rendered to tell a real prompt change from one that renders the same input.
PROBE_DOCS = 5


def register(cls: C) -> C:
    """Class decorator: instantiate the check and record it under its id (inspect_ai style)."""
    check = cls()
    if check.id not in CHECK_IDS:
        raise ValueError(f'check id "{check.id}" is not one of {", ".join(CHECK_IDS)}')
    if check.id in _REGISTERED:
        raise ValueError(f'check "{check.id}" is registered twice')
    _REGISTERED[check.id] = check
    return cls


def registered() -> dict[str, Check]:
    return dict(_REGISTERED)


def pool_size(context: CheckContext) -> int:
    """How many shots a doc can draw (a pool that is the eval split loses the doc itself)."""
    task = context.task
    return max(len(task.fewshot) - (1 if task.fewshot_is_docs else 0), 0)


class VariantSet:
    """One check's variants, collected under the rules in this module's docstring."""

    def __init__(
        self,
        check: str,
        yours: Setup,
        context: CheckContext,
        keys: tuple[str, ...] = (),
        *,
        explore_known: bool = False,
        repeats: bool = False,
    ) -> None:
        self.check = check
        self.repeats = repeats                # every variant is an identical-setting repeat
        self.yours = yours
        self.context = context
        self.keys = keys                      # the setup keys this check owns
        self.explore_known = explore_known
        self._variants: list[Variant] = []
        self._names: set[str] = set()
        self._effects: set[tuple[str, str]] = set()
        self._your_input: tuple[Any, ...] | None = None
        self._rendered_yours = False

    # -- known facts -----------------------------------------------------------------------------

    def known_differences(self) -> Iterator[tuple[str, Any]]:
        """(key, value) for each owned key the report states with a value other than yours."""
        for key in self.keys:
            if key not in self.context.known:
                continue
            value = self.context.known[key]
            try:
                stated = self.yours.with_values({key: value}, origin="reported fact").get(key)
            except InputError:
                continue   # not a value this setup can take; the session reports bad facts
            if stated != self.yours.get(key):
                yield key, value

    def add_known(self, name_for: Callable[[str, Any], str],
                  rerun_for: Callable[[str], str] = lambda key: "all") -> None:
        for key, value in self.known_differences():
            self.add(name_for(key, value), {key: value}, known=True, note="the report states it",
                     rerun=rerun_for(key))

    def settled(self, key: str) -> bool:
        """True when the report states this key: it is tested directly, not explored."""
        return key in self.context.known and not self.explore_known

    # -- adding ----------------------------------------------------------------------------------

    def add(
        self,
        name: str,
        changes: Mapping[str, Any] | None = None,
        *,
        transform: str = "",
        known: bool = False,
        note: str = "",
        rerun: str = "all",
    ) -> bool:
        """Add a variant if it obeys the rules; True when it was added."""
        changes = dict(changes or {})
        if not changes and not transform:
            return False
        if transform and transform not in TRANSFORMS:
            raise ValueError(f'unknown transform "{transform}"; allowed: {", ".join(TRANSFORMS)}')
        if name in self._names:
            return False
        if not known and any(self.settled(key) for key in changes):
            return False
        setup = self.yours
        if changes:
            try:
                setup = self.yours.with_values(changes, origin=f"variant {self.check}: {name}")
            except InputError:
                return False
            if setup == self.yours:
                return False
            if not self._renders_differently(setup, changes):
                return False
        effect = (setup.digest, transform)
        if effect in self._effects:
            return False
        self._names.add(name)
        self._effects.add(effect)
        self._variants.append(
            Variant(self.check, name, tuple(changes.items()), transform, known, note, rerun, self.repeats)
        )
        return True

    def result(self) -> list[Variant]:
        """Known facts first (in the order they were added), then the explored variants."""
        return [v for v in self._variants if v.known] + [v for v in self._variants if not v.known]

    # -- rendering -------------------------------------------------------------------------------

    def _render(self, setup: Setup) -> tuple[Any, ...]:
        builder = PromptBuilder(setup, self.context.task, chat=probe_chat)
        docs = self.context.task.docs[:PROBE_DOCS]
        return tuple((p.context, p.continuations) for p in map(builder.render, docs))

    def _renders_differently(self, setup: Setup, changes: Mapping[str, Any]) -> bool:
        """False when a prompt change cannot render, or renders your very input again."""
        if not any(key.partition(".")[0] in RENDERED_SECTIONS for key in changes):
            return True
        if not self._rendered_yours:
            self._rendered_yours = True
            try:
                self._your_input = self._render(self.yours)
            except InputError:
                pass   # your own setup does not render: the engine says why; judge nothing here
        if self._your_input is None:
            return True
        try:
            rendered = self._render(setup)
        except InputError:
            return False
        only_input = all(key.partition(".")[0] in RENDERED_SECTIONS for key in changes)
        return not (only_input and rendered == self._your_input)


class BaseCheck:
    """Defaults shared by the checks: `applies` = a check-specific reason, or no variants at all."""

    id: str = ""
    title: str = ""
    explanation: str = ""
    reading: str = ""
    questions: tuple[Question, ...] = ()
    keys: tuple[str, ...] = ()            # setup keys this check varies (and tests when known)
    nothing_to_vary: str = "Nothing in your setup gives this check a variant to try."

    def skip_reason(self, yours: Setup, context: CheckContext) -> str:
        return ""

    def applies(self, yours: Setup, context: CheckContext) -> str:
        reason = self.skip_reason(yours, context)
        if reason:
            return reason
        if not self.variants(yours, context):
            return self.nothing_to_vary
        return ""

    def variants(self, yours: Setup, context: CheckContext) -> list[Variant]:
        raise NotImplementedError

    def name_for(self, key: str, value: Any) -> str:
        """The name of a variant that sets `key` to a reported `value`."""
        return f"{key} = {value!r}"

    def rerun_for(self, key: str) -> str:
        """How a variant changing `key` may be re-run (see RERUNS in engine/checks_api.py)."""
        return "all"

    def collect(self, yours: Setup, context: CheckContext, *, explore_known: bool = False) -> VariantSet:
        """A VariantSet with the reported facts for this check's keys already in it."""
        found = VariantSet(self.id, yours, context, self.keys, explore_known=explore_known)
        found.add_known(self.name_for, self.rerun_for)
        return found
