"""Pair tokenization and the BOS rule, on the tiny tokenizer built to expose the traps."""

from __future__ import annotations

from typing import Any

import pytest

from scoregap.engine.tokenization import (
    encode,
    encode_pair,
    has_doubled_bos,
    prefix_token_id,
)

PAIRS = [
    ("Answer:", " 12"),
    ("Question: What is 5 plus 7?\nAnswer:", " twelve"),
    ("What day comes after Monday? The answer is", " Tuesday"),
    ("What is 39 plus 60?\nA. eighty-nine\nB. ninety-nine\nAnswer:", " B"),
]


def _plain(tok: Any, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False)


def test_the_tokenizer_really_has_the_trap(tiny_tokenizer: Any) -> None:
    """Guard: if pieces concatenated, the pair tests below would prove nothing."""
    context, continuation = PAIRS[0]
    assert encode(tiny_tokenizer, context + continuation) != (
        encode(tiny_tokenizer, context) + _plain(tiny_tokenizer, continuation)
    )


@pytest.mark.parametrize(("context", "continuation"), PAIRS)
def test_continuation_is_the_tail_of_the_whole(tiny_tokenizer: Any, context: str, continuation: str) -> None:
    tok = tiny_tokenizer
    ctx, cont = encode_pair(tok, context, continuation)
    whole = encode(tok, context + continuation)
    assert ctx == encode(tok, context)
    assert ctx + cont == whole
    assert cont == whole[len(ctx):]
    assert cont
    assert tok.decode(ctx + cont, skip_special_tokens=True) == context + continuation
    assert tok.decode(cont) == continuation


def test_naive_encoding_differs_where_the_trap_bites(tiny_tokenizer: Any) -> None:
    _, cont = encode_pair(tiny_tokenizer, "Answer:", " 12")
    assert cont != _plain(tiny_tokenizer, " 12")  # what encoding the continuation alone would give


@pytest.mark.parametrize(
    ("context", "continuation", "moved_context", "moved_continuation"),
    [
        ("Answer: ", "12", "Answer:", " 12"),
        ("Answer:\n\n", "B", "Answer:", "\n\nB"),
        ("Answer: \t", "B", "Answer:", " \tB"),
    ],
)
def test_trailing_whitespace_moves_into_the_continuation(
    tiny_tokenizer: Any, context: str, continuation: str, moved_context: str, moved_continuation: str
) -> None:
    tok = tiny_tokenizer
    assert encode_pair(tok, context, continuation) == encode_pair(tok, moved_context, moved_continuation)
    ctx, cont = encode_pair(tok, context, continuation)
    assert tok.decode(ctx, skip_special_tokens=True) == moved_context
    assert tok.decode(cont) == moved_continuation


def test_without_moving_the_space_the_answer_would_vanish(tiny_tokenizer: Any) -> None:
    """Why the rule exists: "Answer: " + "12" encodes "Answer:" + " 12", so the naive tail is empty."""
    tok = tiny_tokenizer
    whole = encode(tok, "Answer: 12")
    naive_tail = whole[len(encode(tok, "Answer: ")):]
    assert tok.decode(naive_tail) != "12"
    _, cont = encode_pair(tok, "Answer: ", "12")
    assert tok.decode(cont) == " 12"


# ---------------------------------------------------------------------------------------------
# BOS


def test_auto_adds_the_tokenizers_bos(tiny_tokenizer: Any) -> None:
    tok = tiny_tokenizer
    ids = encode(tok, "What is 2 plus 3?", "auto")
    assert ids[0] == tok.bos_token_id
    assert ids[1] != tok.bos_token_id
    assert ids[1:] == _plain(tok, "What is 2 plus 3?")


def test_auto_adds_no_bos_when_the_text_writes_it(tiny_tokenizer: Any) -> None:
    tok = tiny_tokenizer
    ids = encode(tok, "<s><|user|>\nhi</s>\n<|assistant|>\n", "auto")
    assert ids[0] == tok.bos_token_id
    assert ids.count(tok.bos_token_id) == 1
    assert not has_doubled_bos(tok, ids)


def test_true_doubles_a_written_bos_and_it_is_detected(tiny_tokenizer: Any) -> None:
    tok = tiny_tokenizer
    ids = encode(tok, "<s>hello", "true")
    assert ids[:2] == [tok.bos_token_id, tok.bos_token_id]
    assert has_doubled_bos(tok, ids)
    single = encode(tok, "hello", "true")
    assert single[0] == tok.bos_token_id and not has_doubled_bos(tok, single)


def test_false_adds_no_special_tokens(tiny_tokenizer: Any) -> None:
    tok = tiny_tokenizer
    ids = encode(tok, "hello there", "false")
    assert tok.bos_token_id not in ids
    assert ids == _plain(tok, "hello there")
    assert encode(tok, "<s>hello", "false").count(tok.bos_token_id) == 1


def test_plain_default_encoding_doubles_a_written_bos(tiny_tokenizer: Any) -> None:
    """Guard for the trap itself: the tokenizer's own encode doubles, `encode` under auto does not."""
    tok = tiny_tokenizer
    assert has_doubled_bos(tok, tok.encode("<s>hello"))


@pytest.mark.parametrize(("bos", "doubled"), [("auto", False), ("true", True)])
def test_pairs_follow_the_bos_policy(tiny_tokenizer: Any, bos: str, doubled: bool) -> None:
    tok = tiny_tokenizer
    ctx, cont = encode_pair(tok, "<s><|user|>\nWhat is 2 plus 3?</s>\n<|assistant|>\n", "five", bos)
    assert has_doubled_bos(tok, ctx) is doubled
    assert tok.decode(cont) == "\nfive"  # the template's trailing newline moved over


def test_pair_without_bos(tiny_tokenizer: Any) -> None:
    tok = tiny_tokenizer
    ctx, cont = encode_pair(tok, "Answer:", " 12", "false")
    assert tok.bos_token_id not in ctx
    assert ctx + cont == _plain(tok, "Answer: 12")


def test_empty_context_is_a_bos_prefix(tiny_tokenizer: Any) -> None:
    tok = tiny_tokenizer
    assert prefix_token_id(tok) == tok.bos_token_id
    for bos in ("auto", "true", "false"):
        ctx, cont = encode_pair(tok, "", " five", bos)
        assert ctx == [tok.bos_token_id]
        assert cont == _plain(tok, " five")
