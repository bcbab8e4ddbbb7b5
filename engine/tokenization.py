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

A chat template is code that ships with the model, and real ones refuse input on purpose
(`raise_exception("System role not supported")`); others fail to compile or reach for what the
sandbox forbids. Every such failure is an `InputError` naming the template's file and the model,
and, when the template only refuses the system message, the settings that avoid writing one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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


TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json", "tokenizer_config.json", "fake-model.toml")
"""Where a model directory keeps its chat template, in the order transformers prefers them (the
fake backend's model file last)."""


def chat_template_file(directory: str) -> str:
    """The file that holds the chat template of the model in `directory`, for messages."""
    for name in TEMPLATE_FILES:
        path = Path(directory) / name
        if directory and path.is_file():
            return str(path)
    return f"the tokenizer files in {directory}" if directory else "the tokenizer's files"


def template_sha(tokenizer: Any) -> str:
    """sha256 of the chat template a tokenizer applies, as lm-eval records it in a results file
    (`chat_template_sha`: of the template string; of the "default" one when a tokenizer keeps
    several by name); "" when it has none."""
    import hashlib

    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = template.get("default")
    return hashlib.sha256(template.encode("utf-8")).hexdigest() if isinstance(template, str) and template else ""


def chat_renderer(
    tokenizer: Any, model: str = "", directory: str = ""
) -> Callable[[list[dict[str, str]]], str] | None:
    """The tokenizer's chat template as a function of a conversation, or None if it has none.

    Every backend renders chats through this one function (the template is a tokenizer file, not
    a property of the engine that runs the weights), so a prompt is the same string whichever
    backend scores it, and a prompt can be shown without loading the model. A template that
    fails (its own `raise_exception`, a syntax error, an undefined name, an `{% include %}`, the
    sandbox refusing an attribute) is an `InputError` naming the template's file and the model."""
    if not getattr(tokenizer, "chat_template", None):
        return None

    def apply(messages: list[dict[str, str]]) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def render(messages: list[dict[str, str]]) -> str:
        try:
            return apply(messages)
        except Exception as err:   # a user's template can raise anything; none of it is our bug
            refuses_system = _refuses_system(apply, messages)
            raise template_error(err, model, directory, refuses_system) from err

    return render


def _refuses_system(apply: Callable[[list[dict[str, str]]], str], messages: list[dict[str, str]]) -> bool:
    """Whether the template fails only because the conversation has a system message."""
    rest = [m for m in messages if m.get("role") != "system"]
    if not rest or len(rest) == len(messages):
        return False
    try:
        apply(rest)
    except Exception:  # noqa: BLE001 - it fails without the system message too: another cause
        return False
    return True


def template_error(err: BaseException, model: str, directory: str, refuses_system: bool = False) -> InputError:
    """The paragraph for a chat template that cannot be compiled or rendered."""
    where = chat_template_file(directory)
    what = f'The chat template of the model "{model}" ({where})' if model else f"The chat template in {where}"
    line = getattr(err, "lineno", None)
    at = f" at line {line}" if isinstance(line, int) else ""
    detail = f"{type(err).__name__}{at}: {' '.join(str(err).split())}".rstrip(" .:")
    if refuses_system:
        advice = ('It refuses a system message, and this setup writes one (chat.system_prompt, or the task '
                  'description with chat.description_in = "system"). Set chat.system_prompt = "" and '
                  'chat.description_in = "user", so that the description opens the user turn instead.')
    elif "no loader" in str(err):   # jinja2: {% include %}, {% import %} or {% extends %}
        advice = ("Chat templates are rendered on their own and cannot include other files: inline the "
                  "included template, or set chat.apply_template = false.")
    else:
        advice = "Fix the template in that file, or set chat.apply_template = false to score without it."
    return InputError(f"{what} failed to render ({detail}). {advice}")
