"""The tiny local model: deterministic bytes, and the tokenizer traps other tests rely on."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from scoregap.profiles.tinymodel import (
    BOS,
    build_model,
    build_tokenizer,
    default_corpus,
    save_tiny_model,
)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may touch a hub: the point of the tiny model is to need none."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One saved model for the loading tests (building is cheap, loading twice is not needed)."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tokenizer(saved: Path) -> PreTrainedTokenizerBase:
    """The tokenizer as every consumer sees it: reloaded from disk, not the in-memory object."""
    return AutoTokenizer.from_pretrained(saved)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_arguments_give_identical_files(tmp_path: Path) -> None:
    first = save_tiny_model(tmp_path / "a")
    second = save_tiny_model(tmp_path / "b")
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert _sha256(first / name) == _sha256(second / name), name


def test_another_seed_gives_other_weights(tmp_path: Path) -> None:
    a = save_tiny_model(tmp_path / "a", seed=0)
    b = save_tiny_model(tmp_path / "b", seed=1)
    assert _sha256(a / "model.safetensors") != _sha256(b / "model.safetensors")


def test_building_leaves_the_callers_rng_alone() -> None:
    tok = build_tokenizer(default_corpus())
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_model(tok, seed=7)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(("a", "b"), [("Answer:", " 12"), ("Answer: ", "12")])
def test_pieces_do_not_concatenate(tokenizer: PreTrainedTokenizerBase, a: str, b: str) -> None:
    """The pair rule (encode the whole, slice off the context) must be observable with this model."""

    def enc(s: str) -> list[int]:
        return tokenizer.encode(s, add_special_tokens=False)

    assert enc(a + b) != enc(a) + enc(b)
    # ...while the context is still a prefix of the whole, as lm-eval's slicing assumes.
    assert enc("Answer: 12")[: len(enc("Answer:"))] == enc("Answer:")
    assert "Ġ12" in tokenizer.convert_ids_to_tokens(enc(a + b))


def test_bos_is_added_by_default_only(tokenizer: PreTrainedTokenizerBase) -> None:
    ids = tokenizer.encode("What is 7 plus 5?")
    bare = tokenizer.encode("What is 7 plus 5?", add_special_tokens=False)
    assert ids[0] == tokenizer.bos_token_id
    assert ids[1:] == bare
    assert bare[0] != tokenizer.bos_token_id
    assert tokenizer.decode(bare) == "What is 7 plus 5?"


def test_chat_template_starts_with_bos_text(tokenizer: PreTrainedTokenizerBase) -> None:
    messages = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is 7 plus 5?"},
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert isinstance(text, str)
    assert text.startswith(BOS)
    assert text.endswith("<|assistant|>\n")
    # Encoding the rendered chat with default special tokens doubles the BOS: the trap lm-eval avoids.
    doubled = tokenizer.encode(text)
    assert doubled[:2] == [tokenizer.bos_token_id, tokenizer.bos_token_id]
    role_ids = tokenizer.convert_tokens_to_ids(["<|system|>", "<|user|>", "<|assistant|>"])
    assert set(role_ids) <= set(tokenizer.encode(text, add_special_tokens=False))

    partial = [*messages, {"role": "assistant", "content": "The answer is"}]
    continued = tokenizer.apply_chat_template(partial, tokenize=False, continue_final_message=True)
    assert continued.startswith(BOS)
    assert continued.endswith("<|assistant|>\nThe answer is")


def test_loads_and_runs_as_a_causal_lm(saved: Path, tokenizer: PreTrainedTokenizerBase) -> None:
    model = AutoModelForCausalLM.from_pretrained(saved)
    assert model.config.model_type == "llama"
    assert model.config.vocab_size == len(tokenizer)
    assert not model.config.tie_word_embeddings
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id
    batch = tokenizer(["What is 7 plus 5?"], return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (1, batch["input_ids"].shape[1], len(tokenizer))
    assert logits.dtype == torch.float32


@pytest.mark.parametrize(("hidden_size", "heads"), [(64, 4), (48, 2), (64, 3)])
def test_bad_head_geometry_is_refused(hidden_size: int, heads: int) -> None:
    tok = build_tokenizer(default_corpus())
    with pytest.raises(ValueError, match="head"):
        build_model(tok, hidden_size=hidden_size, heads=heads)
