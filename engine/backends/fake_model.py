"""The fake model: its file (`fake-model.toml`), parsed and checked, and its tokenizer.

The file (only the docs are required; an effect's `docs` defaults to 1):

    seed = 0, skill = 0.7, margin = 2.0, close = 0.0, jitter = 0.0, chat_template = false,
    sampling_flip = 0.15, output = "{answer}", nonfinite = regex
    [[doc]]     question = "...", choices = ["...", ...], answer = 2   (or answer = "42": generate)
    [[effect]]  name = "...", when = regex, unless = regex, docs = fraction, nats = -3.0, output = "..."

`nonfinite` scripts broken weights: every request whose text (context and continuation, or the
prompt) matches the regex gets NaN logits, so the backend raises `NonFiniteOutput` as the
transformers backend does, and the engine's handling is tested without torch.

How the backend reads requests against it: engine/backends/fake.py. The tokenizer is GPT-2-like
without merges (a word takes at most one space before it), with a chat template that writes its
own BOS text, so BOS rules, chat templates and token counts behave as with a real model.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoregap.engine.errors import InputError, did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# -- the tokenizer -----------------------------------------------------------------------------

SPECIAL_IDS = {"<pad>": 0, "<s>": 1, "</s>": 2, "<|system|>": 3, "<|user|>": 4,
               "<|assistant|>": 5, "<|end|>": 6}
FIRST_ID, ID_RANGE = 1000, 2**31 - 2000
CHAT_TEMPLATE = ("{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>"
                 "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")
_SPECIALS = re.compile("(" + "|".join(re.escape(s) for s in SPECIAL_IDS) + ")")
_PIECES = re.compile(r" ?\S+|\s")
_IDS: dict[str, int] = dict(SPECIAL_IDS)          # piece -> id, filled while encoding
_TEXTS: dict[int, str] = {i: s for s, i in SPECIAL_IDS.items()}   # id -> piece, for decode


@functools.lru_cache(maxsize=8192)
def split_tokens(text: str) -> tuple[str, ...]:
    """Token strings: specials whole; a non-space run with at most one space before it; else one
    whitespace character each (GPT-2's ' word' without the merges)."""
    out: list[str] = []
    for i, part in enumerate(_SPECIALS.split(text)):
        out.extend([part] if i % 2 else _PIECES.findall(part))
    return tuple(out)


def _piece_id(piece: str) -> int:
    if piece not in _IDS:
        _IDS[piece] = token = FIRST_ID + zlib.crc32(piece.encode("utf-8")) % ID_RANGE
        _TEXTS.setdefault(token, piece)
    return _IDS[piece]


@functools.lru_cache(maxsize=65536)
def _token_ids(text: str) -> tuple[int, ...]:
    """A text's ids (a context is encoded once per choice and per variant that shares it)."""
    return tuple(_piece_id(p) for p in split_tokens(text))


class FakeTokenizer:
    """The part of a transformers tokenizer that the engine uses."""

    bos_token, eos_token, pad_token = "<s>", "</s>", "<pad>"
    bos_token_id, eos_token_id, pad_token_id = 1, 2, 0

    def __init__(self, chat_template: bool = False, name_or_path: str = "") -> None:
        self.chat_template: str | None = CHAT_TEMPLATE if chat_template else None
        self.name_or_path = name_or_path

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids = list(_token_ids(text))
        return [self.bos_token_id] + ids if add_special_tokens else ids

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        specials = set(SPECIAL_IDS.values()) if skip_special_tokens else set()
        return "".join(_TEXTS.get(int(i), f"<unk:{int(i)}>") for i in ids if int(i) not in specials)

    def batch_decode(self, sequences: Iterable[Iterable[int]], skip_special_tokens: bool = False) -> list[str]:
        return [self.decode(s, skip_special_tokens) for s in sequences]

    def apply_chat_template(self, messages: Sequence[dict[str, str]], tokenize: bool = False,
                            add_generation_prompt: bool = True, **_: Any) -> str | list[int]:
        if self.chat_template is None:
            raise ValueError("This fake tokenizer has no chat template (chat_template = false).")
        text = self.bos_token + "".join(f"<|{m['role']}|>{m['content']}<|end|>" for m in messages)
        text += "<|assistant|>" if add_generation_prompt else ""
        return self.encode(text, add_special_tokens=False) if tokenize else text


# -- the model file ----------------------------------------------------------------------------


def unit(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) named by `parts`."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class MemorisedDoc:
    question: str
    choices: tuple[str, ...]     # empty for a generate doc
    answer: int | str            # gold choice index, or gold answer text

    @property
    def gold_text(self) -> str:
        return self.choices[self.answer] if isinstance(self.answer, int) else self.answer


@dataclass(frozen=True)
class Effect:
    name: str
    when: re.Pattern[str]
    unless: re.Pattern[str] | None
    docs: float
    nats: float
    output: str

    def touches(self, text: str, seed: int, doc: MemorisedDoc) -> bool:
        if not self.when.search(text) or (self.unless is not None and self.unless.search(text)):
            return False
        return unit(seed, "effect", self.name, doc.question) < self.docs


@dataclass(frozen=True)
class FakeModel:
    seed: int = 0
    skill: float = 0.7
    margin: float = 2.0
    close: float = 0.0
    jitter: float = 0.0
    chat_template: bool = False
    sampling_flip: float = 0.15
    output: str = "{answer}"
    nonfinite: re.Pattern[str] | None = None   # requests whose text matches get NaN logits
    docs: tuple[MemorisedDoc, ...] = ()
    effects: tuple[Effect, ...] = ()

    def spoils(self, text: str) -> bool:
        """Whether the model's logits are NaN for a request with this text."""
        return self.nonfinite is not None and self.nonfinite.search(text) is not None

    def knows(self, doc: MemorisedDoc) -> bool:
        return unit(self.seed, "known", doc.question) < self.skill

    def is_close(self, doc: MemorisedDoc) -> bool:
        return unit(self.seed, "close", doc.question) < self.close

    def pick(self, doc: MemorisedDoc) -> int:
        """The choice the model prefers: the gold when it knows the doc, else a wrong one."""
        gold = int(doc.answer)
        wrong = [j for j in range(len(doc.choices)) if j != gold]
        if self.knows(doc) or not wrong:
            return gold
        return wrong[int(unit(self.seed, "wrong", doc.question) * len(wrong))]


NUMBER = (int, float)
TOP_KEYS: dict[str, Any] = {"seed": int, "skill": NUMBER, "margin": NUMBER, "close": NUMBER, "jitter": NUMBER,
                            "chat_template": bool, "sampling_flip": NUMBER, "output": str,
                            "nonfinite": str, "doc": list, "effect": list}
DOC_KEYS: dict[str, Any] = {"question": str, "choices": list, "answer": (int, str)}
EFFECT_KEYS: dict[str, Any] = {"name": str, "when": str, "unless": str, "docs": NUMBER, "nats": NUMBER,
                               "output": str}
FRACTIONS = ("skill", "close", "sampling_flip", "docs")


def _table(raw: Any, schema: dict[str, Any], required: Sequence[str], where: str) -> dict[str, Any]:
    """A checked table: no unknown key, every required key, each value of its type; numbers as floats."""
    if not isinstance(raw, dict):
        raise InputError(f"{where} must be a table.")
    for key, value in raw.items():
        if key not in schema:
            raise InputError(f'{where}: unknown key "{key}".{did_you_mean(key, list(schema))} '
                             f"Allowed: {', '.join(schema)}.")
        kind = schema[key]
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
            raise InputError(f"{where}: {key} has the wrong type ({type(value).__name__}: {value!r}).")
        if key in FRACTIONS and not 0.0 <= value <= 1.0:
            raise InputError(f"{where}: {key} = {value} must be a fraction between 0 and 1.")
    missing = [key for key in required if key not in raw]
    if missing:
        raise InputError(f"{where}: {missing[0]} is required.")
    return {k: float(v) if schema[k] is NUMBER else v for k, v in raw.items()}


def _regex(source: str, key: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(source)
    except re.error as err:
        raise InputError(f"{where}: {key} = {source!r} is not a valid regular expression ({err}).") from None


def _parse_doc(raw: Any, where: str) -> MemorisedDoc:
    t = _table(raw, DOC_KEYS, ("question", "answer"), where)
    choices, answer = t.get("choices"), t["answer"]
    if not t["question"]:
        raise InputError(f"{where}: question must not be empty.")
    if choices is None:
        if not isinstance(answer, str):
            raise InputError(f"{where}: answer must be the gold answer text (a string) in a doc without choices.")
        return MemorisedDoc(t["question"], (), answer)
    if not choices or not all(isinstance(c, str) for c in choices):
        raise InputError(f"{where}: choices must be a non-empty list of strings.")
    if not isinstance(answer, int) or not 0 <= answer < len(choices):
        raise InputError(f"{where}: answer = {answer!r} is not a choice index (0 to {len(choices) - 1}).")
    return MemorisedDoc(t["question"], tuple(choices), answer)


def _parse_effect(raw: Any, where: str) -> Effect:
    t = _table(raw, EFFECT_KEYS, ("name", "when", "nats"), where)
    unless = _regex(t["unless"], "unless", where) if t.get("unless") else None
    return Effect(t["name"], _regex(t["when"], "when", where), unless, t.get("docs", 1.0), t["nats"],
                  t.get("output", ""))


@functools.lru_cache(maxsize=32)
def _parse_model(path: Path, text: str) -> FakeModel:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path}: not valid TOML: {err}. Fix the syntax at that place.") from None
    raw = _table(data, TOP_KEYS, (), str(path))
    if raw.get("jitter", 0.0) < 0:
        raise InputError(f"{path}: jitter must not be negative.")
    if "nonfinite" in raw:
        raw["nonfinite"] = _regex(raw["nonfinite"], "nonfinite", str(path))
    docs = tuple(_parse_doc(d, f"{path}: [[doc]] number {i + 1}") for i, d in enumerate(raw.pop("doc", [])))
    effects = tuple(_parse_effect(e, f"{path}: [[effect]] number {i + 1}")
                    for i, e in enumerate(raw.pop("effect", [])))
    for what, names in (("[[doc]] question", [d.question for d in docs]),
                        ("[[effect]] name", [e.name for e in effects])):
        seen: set[str] = set()
        for name in names:   # both name what is hashed or searched for: a repeat is ambiguous
            if name in seen:
                raise InputError(f"{path}: the {what} {name!r} appears twice; each must be unique.")
            seen.add(name)
    return FakeModel(**raw, docs=docs, effects=effects)


def read_model(path: str | Path) -> FakeModel:
    """The model in a `fake-model.toml` file, parsed once per content (not per mtime, which a
    test rewriting the file within one clock tick would not change)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: the fake model file cannot be read ({err}).") from None
    return _parse_model(Path(path), text)
