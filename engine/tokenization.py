"""How strings become the tokens a model is scored on.

The rule for a (context, continuation) pair, as in lm-evaluation-harness 0.4.x:

1. Trailing whitespace of the context moves to the front of the continuation ("Answer: " + "B"
   becomes "Answer:" + " B"), so the space lands where a BPE tokenizer wants it: on the answer.
2. context+continuation and the context are encoded separately; the continuation tokens are
   `whole[len(context_tokens):]` and the model input is `context_tokens + continuation_tokens`.
   Encoding the continuation on its own would be wrong wherever encode(a + b) differs from
   encode(a) + encode(b), which BPE makes the common case.
3. An empty context (the unconditional requests of acc_mutual_info) is replaced by one prefix
   token: BOS, else EOS.

BOS follows `loading.add_bos_token`:
- "auto": the tokenizer's default, except that no BOS is added when the string already starts
  with the BOS text (chat templates that write it themselves): no doubled BOS;
- "true": BOS is prepended to whatever the string encodes to (a template that also writes it
  gives a doubled BOS, which is detected and reported, as it happens in the wild);
- "false": no special tokens at all.
"""

from __future__ import annotations

from typing import Any, Callable

from scoregap.engine.errors import InputError


def prefix_token_id(tokenizer: Any) -> int:
    token = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if token is None:
        raise InputError("The tokenizer has neither a BOS nor an EOS token to stand for an empty context.")
    return token


def encode(tokenizer: Any, text: str, bos: str = "auto") -> list[int]:
    """Encode one string under a BOS policy ("auto" | "true" | "false")."""
    if bos == "false":
        return tokenizer.encode(text, add_special_tokens=False)
    if bos == "true":
        if tokenizer.bos_token_id is None:
            raise InputError(
                "loading.add_bos_token = true, but this tokenizer has no BOS token. "
                'Use "auto" or false.'
            )
        return [tokenizer.bos_token_id] + tokenizer.encode(text, add_special_tokens=False)
    bos_text = tokenizer.bos_token
    if bos_text and text.startswith(bos_text):
        return tokenizer.encode(text, add_special_tokens=False)
    return tokenizer.encode(text)


def encode_pair(
    tokenizer: Any, context: str, continuation: str, bos: str = "auto"
) -> tuple[list[int], list[int]]:
    """(context tokens, continuation tokens) under the rule in the module docstring."""
    if context == "":
        cont = tokenizer.encode(continuation, add_special_tokens=False)
        prefix = prefix_token_id(tokenizer)
        if cont and cont[0] == prefix:
            return cont[:1], cont[1:]
        return [prefix], cont
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = encode(tokenizer, context + continuation, bos)
    ctx = encode(tokenizer, context, bos)
    return ctx, whole[len(ctx):]


def has_doubled_bos(tokenizer: Any, ids: list[int]) -> bool:
    b = tokenizer.bos_token_id
    return b is not None and len(ids) >= 2 and ids[0] == b and ids[1] == b


def chat_renderer(tokenizer: Any) -> Callable[[list[dict[str, str]]], str] | None:
    """The tokenizer's chat template as a function of a conversation, or None if it has none.

    Every backend renders chats through this one function (the template is a tokenizer file, not
    a property of the engine that runs the weights), so a prompt is the same string whichever
    backend scores it, and a prompt can be shown without loading the model."""
    if not getattr(tokenizer, "chat_template", None):
        return None

    def render(messages: list[dict[str, str]]) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    return render
