"""The transformers backend's batch planning and kept few-shot blocks: token arithmetic, no model."""

from __future__ import annotations

from scoregap.engine.backends.batching import PrefixStore, blocks, cheaper_order, plan_cost, shared_prefix


def test_the_shared_prefix_leaves_each_context_a_token_of_its_own() -> None:
    assert shared_prefix([[1, 2, 3], [1, 2, 4]]) == 2
    assert shared_prefix([[1, 2], [1, 2, 3]]) == 1        # each context keeps a token of its own


def test_the_cheaper_order_keeps_length_order_when_every_context_shares_its_prefix() -> None:
    one = lambda item: 1   # noqa: E731 - one row, one-token continuations
    block = tuple(range(100, 140))
    fixed = [(block + tuple(range(n)), [n]) for n in (3, 9, 4, 8, 5, 7)]
    plan = cheaper_order(fixed, one, 2, one)
    assert [len(c) for b in plan for c, _ in b] == [49, 48, 47, 45, 44, 43]   # longest first
    two = [(blocks + tuple(range(n)), [n]) for n, blocks in
           ((5, block), (5, tuple(reversed(block))), (6, block), (6, tuple(reversed(block))))]
    plan = cheaper_order(two, one, 2, one)
    assert [[c[0] for c, _ in b] for b in plan] == [[100, 100], [139, 139]]   # each batch holds one block
    # each batch: 44 shared tokens once (each context keeps one of its own), then 2 rows of 2
    assert plan_cost(plan, one, one) == 2 * (44 + 2 * 2)
    assert [[c[0] for c, _ in b] for b in cheaper_order(two, one, 2, one, share=False)] == [[100, 139]] * 2
    # By tokens, a run ends where the block changes: no batch mixes two blocks.
    assert [[c[0] for c, _ in b] for b in blocks(sorted(two + two))] == [[100] * 4, [139] * 4]
    assert [[c[0] for c, _ in b] for b in cheaper_order(two + two, one, 3, one)] == [[100] * 3, [100], [139] * 3, [139]]


def test_the_store_finds_the_longest_kept_start_and_drops_the_least_recently_used() -> None:
    store = PrefixStore(size=len, budget=10)
    store.keep((1, 2, 3, 4), "abcd")
    store.keep((1, 2, 9), "abc")
    assert store.match((1, 2, 3, 7)) == ((1, 2, 3, 4), 3)     # the longer shared start wins
    assert store.match((5, 6)) == ((), 0)
    store.match((1, 2, 9, 9))                                 # (1, 2, 9) is now the most recent
    store.keep((7, 7, 7, 7, 7), "abcde")                      # 12 > 10: the oldest goes
    assert list(store.entries) == [(1, 2, 9), (7, 7, 7, 7, 7)] and store.used == 8
    store.keep((8,) * 11, "x" * 11)                           # over the whole budget: not kept
    assert (8,) * 11 not in store.entries and store.used == 8
    store.keep((1, 2, 9), "abcdef")                           # kept again: counted once, then 11 > 10
    assert list(store.entries) == [(1, 2, 9)] and store.used == 6


def test_two_orders_that_begin_with_the_same_shot_are_still_two_runs() -> None:
    """A shuffled repeat of three shots after a long description: orders sharing their first shot
    share over half their block, which used to keep them in one run (each batch then computed
    two shots per context); a block's worth of lost prefix now ends the run."""
    one = lambda item: 1   # noqa: E731
    desc, s1, s2, s3 = (tuple(range(start, start + n)) for start, n in ((1000, 100), (2000, 40), (3000, 40), (4000, 40)))
    orders = (desc + s1 + s2 + s3, desc + s1 + s3 + s2)
    groups = [(orders[i % 2] + (9000 + i, 9100 + i), [i]) for i in range(8)]
    runs = blocks(sorted(groups, key=lambda item: item[0]))
    assert [len(run) for run in runs] == [4, 4] and all(len({c[:220] for c, _ in run}) == 1 for run in runs)
    plan = cheaper_order(groups, one, 4, one)
    assert all(len({c[:220] for c, _ in b}) == 1 for b in plan)              # a batch holds one order
    assert plan_cost(plan, one, one) == 2 * (220 + 4 * 2)                    # each block once, 2-token tails
