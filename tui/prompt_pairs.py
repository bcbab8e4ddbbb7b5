"""The two prompts a check's pane compares: your setup's and a reference's, for the first doc.

The reference is, in order of preference: the check's best variant once the check ran (what it
would change), the reported setup if the session names one, else your setup with the facts the
report states applied. Rendered with the engine's own `PromptBuilder` and tokenized with the
engine's BOS rule, so what the pane shows is what the model is fed. Runs in a thread worker with
its own tokenizer instance (fast tokenizers are not shared across threads here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scoregap.engine.checks_api import Finding
from scoregap.engine.errors import InputError
from scoregap.engine.session import Session
from scoregap.engine.setup import Setup
from scoregap.tui.widgets.prompt_diff import PromptPair


def reference_for(session: Session, findings: list[Finding]) -> tuple[Setup | None, str, str]:
    """(reference setup, its short name, a note saying what it is)."""
    moving = [f for f in findings if f.variant.changes]
    if moving:
        best = max(moving, key=lambda f: f.closes)
        return best.variant.apply(session.yours), best.variant.name, f"Reference: this check's best variant ({best.variant.name})."
    if session.reported_setup:
        from scoregap.engine.setup import load_setup

        setup = load_setup(session.reported_setup, relative_to=Path(session.path).parent)
        return setup, "reported", f"Reference: the reported setup ({session.reported_setup})."
    if session.known:
        setup = session.yours.with_values(dict(session.known), origin="the reported facts")
        return setup, "reported facts", "Reference: your setup with the facts the report states."
    return None, "", "No reference: the session names no reported setup and states no facts; run the check to compare with its best variant."


def _render(setup: Setup, tokenizer: Any) -> tuple[str, tuple[tuple[int, str], ...]]:
    from scoregap.engine.prompts import PromptBuilder
    from scoregap.engine.tasks import load_task
    from scoregap.engine.tokenization import encode, encode_pair

    task = load_task(setup.task, setup_source=setup.source)
    chat = None
    if setup.chat.apply_template and getattr(tokenizer, "chat_template", None):
        def chat(messages: list[dict[str, str]]) -> str:
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prompt = PromptBuilder(setup, task, chat).render(task.docs[0])
    bos = setup.loading.add_bos_token
    if prompt.continuations:
        gold = task.docs[0].gold[0] if task.docs[0].gold else 0
        continuation = prompt.continuations[gold if isinstance(gold, int) else 0]
        ctx, cont = encode_pair(tokenizer, prompt.context, continuation, bos)
        ids = ctx + cont
        shown = prompt.context + continuation
    else:
        ids = encode(tokenizer, prompt.context, bos)
        shown = prompt.context
    return shown, tuple((i, tokenizer.decode([i])) for i in ids)


def prompt_pair(session: Session, findings: list[Finding], tokenizer: Any) -> PromptPair:
    """Your prompt (with the gold answer) beside the reference's; errors become the note."""
    try:
        reference, name, note = reference_for(session, findings)
        yours, yours_tokens = _render(session.yours, tokenizer)
        if reference is None:
            return PromptPair("yours", "reference", yours, yours, yours_tokens, yours_tokens, note)
        theirs, theirs_tokens = _render(reference, tokenizer)
        return PromptPair("yours", name, yours, theirs, yours_tokens, theirs_tokens, note)
    except InputError as err:
        return PromptPair("yours", "reference", "", "", (), (), f"The prompts could not be rendered: {err}")
