"""How the transformers backend lays out its loglikelihood work: pure token arithmetic, no torch.

- `shared_prefix`: the tokens every context of a batch starts with (MMLU's description and fixed
  shots), computed once per batch and copied to each context;
- `cheaper_order`: which contexts share a batch, of two plans (longest first, or by tokens so that
  contexts starting alike sit together), whichever computes fewer positions;
- `PrefixStore`: few-shot blocks kept across calls, so variants that start alike (your run, a
  repeat with the same shots, another shot count over the same first shots) compute a block once
  per model, not once per batch.

Every plan computes each request exactly; only the cost differs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

MIN_SHARED_PREFIX = 32
"""Tokens every context of a batch must share before they are computed once (MMLU's description
and fixed shots, say); below that the extra forward pass is not worth it."""


def shared_prefix(contexts: list[list[int]]) -> int:
    """Tokens all `contexts` start with, leaving each at least one token of its own (its last
    position's logits score its continuations)."""
    # the common prefix of all is that of the least and the greatest
    return max(0, min(common_prefix(min(contexts), max(contexts)), min(len(c) for c in contexts) - 1))


Group = tuple[tuple[int, ...], list[int]]   # a context's tokens and the requests that share it


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n, limit = 0, min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n


def batches(ordered: list[Group], rows: Callable[[Group], int], size: int) -> list[list[Group]]:
    """`ordered` cut into batches of at most `size` rows (a context too big for one gets its own)."""
    out: list[list[Group]] = []
    count = 0
    for item in ordered:
        if not out or count + rows(item) > size:
            out.append([])
            count = 0
        out[-1].append(item)
        count += rows(item)
    return out


def blocks(ordered: list[Group]) -> list[list[Group]]:
    """Contexts sorted by tokens, split where the next one would cut the prefix the run so far
    shares by a block's worth of tokens (`MIN_SHARED_PREFIX`, when that prefix is worth sharing):
    per-doc shots in a few orders fall into one run per order, each starting with its whole
    few-shot block, even where two orders begin with the same shot."""
    out: list[list[Group]] = []
    shared = 0
    for item in ordered:
        if out:
            now = common_prefix(out[-1][-1][0], item[0])   # sorted: the run's prefix is the least of these
            if len(out[-1]) == 1 or not (shared >= MIN_SHARED_PREFIX and now <= shared - MIN_SHARED_PREFIX):
                shared = now if len(out[-1]) == 1 else min(shared, now)
                out[-1].append(item)
                continue
        out.append([item])
        shared = 0
    return out


def batch_cost(batch: list[Group], rows: Callable[[Group], int], cont: Callable[[Group], int]
               ) -> tuple[tuple[int, ...], int]:
    """What `_score_groups` computes for `batch`: the shared prefix (computed once, and once per
    model while it is kept), and the positions of the rest: each context's tail padded to the
    longest, each continuation row padded to the longest continuation."""
    contexts = [list(ctx) for ctx, _ in batch]
    shared = shared_prefix(contexts) if len(contexts) > 1 else 0
    shared = shared if shared >= MIN_SHARED_PREFIX else 0
    longest = max(cont(item) for item in batch)
    tails = len(batch) * (max(len(c) for c in contexts) - shared)
    return tuple(contexts[0][:shared]), tails + (sum(rows(item) for item in batch) * (longest - 1) if longest > 1 else 0)


def plan_cost(plan: list[list[Group]], rows: Callable[[Group], int], cont: Callable[[Group], int]) -> int:
    """Positions a plan computes: each batch's rest, and each distinct shared prefix once."""
    costs = [batch_cost(b, rows, cont) for b in plan]
    return sum(rest for _, rest in costs) + sum(len(prefix) for prefix in {prefix for prefix, _ in costs})


def cheaper_order(groups: list[Group], rows: Callable[[Group], int], size: int,
                  cont: Callable[[Group], int], share: bool = True) -> list[list[Group]]:
    """The batches to compute `groups` in, of two plans, whichever computes fewer positions:

    - longest first (the usual: little padding), ties by tokens;
    - by block: contexts sorted by tokens and cut into runs that share a few-shot block
      (`blocks`), each run longest first: per-doc shots in a few orders (a shuffled repeat, random
      shots from a small pool) compute each order's block once, where length order scatters them.

    Either plan gives the same results (each request is computed exactly); only the cost differs.
    Without prefix sharing (`share` False: left padding) length order always wins."""
    def longest_first(items: list[Group]) -> list[Group]:
        return sorted(items, key=lambda item: (-(len(item[0]) + cont(item)), item[0]))

    by_length = batches(longest_first(groups), rows, size)
    if not share:
        return by_length
    by_block = [b for run in blocks(sorted(groups, key=lambda item: item[0]))
                for b in batches(longest_first(run), rows, size)]
    return by_block if plan_cost(by_block, rows, cont) < plan_cost(by_length, rows, cont) else by_length


PREFIX_BYTES = 512 * 2**20
"""Memory the kept few-shot blocks may hold (their key/value caches, on the model's device): a
5-shot MMLU block of a 7B model is ~200 MB in bfloat16, so a few blocks stay while the next
variant runs; the least recently used goes first."""


class PrefixStore:
    """Key/value caches of token prefixes, kept across calls, least recently used dropped first.

    `match` finds the kept prefix that starts like a new one for the most tokens; the caller
    reuses that many of its positions (cropping a longer one) and computes only the rest. A
    prefix longer than the budget is not kept."""

    def __init__(self, size: Callable[[Any], int], budget: int = PREFIX_BYTES) -> None:
        self.size = size                 # bytes of one kept value
        self.budget = budget
        self.entries: OrderedDict[tuple[int, ...], tuple[Any, int]] = OrderedDict()
        self.used = 0

    def match(self, tokens: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
        """The kept prefix sharing the most leading tokens with `tokens`, and how many (0: none)."""
        best: tuple[int, ...] = ()
        shared = 0
        for key in self.entries:
            n = common_prefix(key, tokens)
            if n > shared:
                best, shared = key, n
        if shared:
            self.entries.move_to_end(best)
        return best, shared

    def get(self, key: tuple[int, ...]) -> Any:
        return self.entries[key][0]

    def keep(self, key: tuple[int, ...], value: Any) -> None:
        size = self.size(value)
        if size > self.budget:
            return
        if key in self.entries:
            self.used -= self.entries.pop(key)[1]
        self.entries[key] = (value, size)
        self.used += size
        while self.used > self.budget:
            self.used -= self.entries.popitem(last=False)[1][1]

    def clear(self) -> None:
        self.entries.clear()
        self.used = 0
