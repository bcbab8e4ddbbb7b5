"""A tiny Llama-architecture model and tokenizer, built locally in a few seconds.

Why it exists: the tests, the benchmarks against lm-eval and the first demo need a *real* causal LM
(loaded through `AutoModelForCausalLM`, lm-eval's `HFLM`, a chat template, a BOS rule) without a
network or a model hub. Weights are random, so scores sit near chance; what matters is that every
code path a real model takes is taken, deterministically: the same arguments give the same bytes.

The tokenizer is built to exhibit the traps the `prompt`, `template` and pair-tokenization conventions
are about, so tests can tell a right implementation from a naive one:

- It adds BOS by default (Llama-style) and its chat template also emits the BOS text, so a front end
  that encodes a rendered chat with default special tokens doubles the BOS.
- Pieces do not concatenate: `encode(a + b) != encode(a) + encode(b)` both for `("Answer:", " 12")` and
  for `("Answer: ", "12")`. Inside a text the space joins the number (`Ġ12`); a string that *starts*
  with whitespace has it split off on its own, the way a SentencePiece dummy prefix makes an encoded
  continuation differ from its tokens inside the whole (Llama-2). That is why lm-eval encodes the whole
  pair and takes `whole[len(context):]`; this tokenizer makes skipping that rule visible.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

BOS = "<s>"
EOS = "</s>"
PAD = "<pad>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (BOS, EOS, PAD, *ROLE_TOKENS)  # ids 0..5, in this order

# ChatML-like, and it begins with the BOS text on purpose: lm-eval then must not add a second BOS.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

MIN_HEAD_DIM = 32  # attention kernels (SDPA/flash paths, vLLM) reject or mis-handle smaller heads

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen \
sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_MONTHS = (
    "January February March April May June July August September October November December".split()
)
_WORDS = (
    "the a an of to and in is are was what which who how many much more less than after before "
    "comes next number day month letter answer question following multiple choice questions about "
    "arithmetic addition subtraction multiplication sum product plus minus times equals apples books "
    "people each total left has have had gives buys there correct option select best please think "
    "step by first then so result value true false yes no sequence week year word"
).split()


def number_words(n: int) -> str:
    """English words for 0 <= n < 1000 ("one hundred and four"): the multi-token answers of `arith`."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens - 2] + ("" if ones == 0 else "-" + _ONES[ones])
    hundreds, rest = divmod(n, 100)
    head = f"{_ONES[hundreds]} hundred"
    return head if rest == 0 else f"{head} and {number_words(rest)}"


def default_corpus() -> list[str]:
    """Synthetic text in the shape of the sample tasks' prompts, so their pieces get merges.

    Fixed seed and fixed order: BPE merges depend on pair counts, so the corpus alone decides the
    vocabulary, and the same corpus must give the same tokenizer on every machine.
    """
    rng = random.Random(0)
    lines: list[str] = []
    wrappers = ("{label}. {text}", "({label}) {text}", "{label}) {text}", "[{label}] {text}")
    for i in range(600):
        a, b = rng.randint(0, 60), rng.randint(0, 60)
        op, value = rng.choice((("plus", a + b), ("times", a * b), ("minus", a - b)))
        if value < 0:
            op, value = "plus", a + b
        question = f"What is {a} {op} {b}?"
        choices = [value, value + 1, abs(value - 10), value + a]
        rng.shuffle(choices)
        wrapper = wrappers[i % len(wrappers)]
        listed = "\n".join(
            wrapper.format(label="ABCD"[j], text=number_words(c % 1000)) for j, c in enumerate(choices)
        )
        gold = "ABCD"[choices.index(value)]
        lines.append(f"Question: {question}\n{listed}\nAnswer: {gold}")
        lines.append(f"Question: {question}\nAnswer: {value}")
        lines.append(f"{a} {op} {b} is {value}. The answer is {value}.")
        lines.append(f"{question} {number_words(value % 1000)}")
    for i in range(200):
        day = rng.randrange(7)
        month = rng.randrange(12)
        letter = rng.randrange(25)
        n = rng.randrange(200)
        lines.append(
            f"What day comes after {_DAYS[day]}? The day after {_DAYS[day]} is {_DAYS[(day + 1) % 7]}. "
            f"The answer is {_DAYS[(day + 1) % 7]}."
        )
        lines.append(f"What month comes after {_MONTHS[month]}? {_MONTHS[(month + 1) % 12]}")
        nxt = chr(ord("A") + letter + 1)
        lines.append(f"What letter comes after {chr(ord('A') + letter)}? {nxt} The answer is {nxt}.")
        lines.append(f"What number comes after {n}? {n + 1}, {number_words(n + 1)}")
    for _ in range(300):
        words = rng.choices(_WORDS, k=12)
        lines.append(" ".join(words).capitalize() + ".")
    # Chat turns without the role tokens themselves (those are added tokens, never merged): what
    # surrounds them in a rendered template is a newline before the content and after the EOS.
    for i in range(100):
        lines.append(f"\nWhat is {i} plus {i + 1}?\n\nThe answer is {2 * i + 1}.\n")
    lines.append("The following are multiple choice questions (with answers) about arithmetic.")
    return lines


def build_tokenizer(corpus: Iterable[str], vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `corpus` and wrap it as a Llama-style fast tokenizer.

    Byte-level means no unknown token and an exact round trip; `add_prefix_space=False` keeps
    " 12" and "12" different tokens, as in GPT-2/Llama-3 vocabularies. The extra `\\A\\s+` split is
    the one departure from GPT-2 (see the module docstring): leading whitespace of a string is its
    own piece, which is what makes a separately encoded continuation differ from the whole.
    """
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\A\s+"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(list(corpus), trainer=trainer)
    bos_id = backend.token_to_id(BOS)
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        extra_special_tokens=list(ROLE_TOKENS),
        add_bos_token=True,
        add_eos_token=False,
        clean_up_tokenization_spaces=False,
        model_max_length=2048,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(
    tokenizer: PreTrainedTokenizerFast,
    *,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 2,
    kv_heads: int | None = None,
    intermediate_size: int | None = None,
    seed: int = 0,
    max_position_embeddings: int = 2048,
) -> LlamaForCausalLM:
    """A randomly initialised `LlamaForCausalLM` whose vocabulary and special ids match `tokenizer`.

    The caller's torch RNG is left untouched (the init runs in a forked RNG), so building a model in
    the middle of a test does not shift anyone else's random stream. Untied embeddings, as in Llama,
    so that a weight-hash or a dtype check sees two distinct matrices.
    """
    if heads <= 0 or hidden_size % heads != 0:
        raise ValueError(f"hidden_size {hidden_size} is not a multiple of heads {heads}")
    head_dim = hidden_size // heads
    if head_dim < MIN_HEAD_DIM:
        raise ValueError(
            f"head_dim = hidden_size // heads = {head_dim} is below {MIN_HEAD_DIM}; "
            "attention kernels need at least that"
        )
    kv = heads if kv_heads is None else kv_heads
    if kv <= 0 or heads % kv != 0:
        raise ValueError(f"heads {heads} is not a multiple of kv_heads {kv}")
    # Llama's MLP is ~8/3 of the hidden size; round up to a multiple of 32 like the real checkpoints.
    mlp = intermediate_size or -(-(8 * hidden_size // 3) // 32) * 32
    ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=mlp,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        head_dim=head_dim,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=False,
        **ids,
    )
    config.dtype = torch.float32
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(do_sample=False, **ids)
    return model.eval()


def save_tiny_model(
    out_dir: Path,
    *,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 2,
    seed: int = 0,
    vocab_size: int = 512,
) -> Path:
    """Build tokenizer and model from the default corpus and save both into `out_dir`.

    The directory then loads like any hub checkpoint (`from_pretrained`, lm-eval's `pretrained=`),
    offline. Same arguments, same `model.safetensors` bytes: cache keys that hash the weights stay
    valid across rebuilds.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(default_corpus(), vocab_size=vocab_size)
    model = build_model(tokenizer, hidden_size=hidden_size, layers=layers, heads=heads, seed=seed)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
