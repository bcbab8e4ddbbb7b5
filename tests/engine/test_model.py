"""Which model: a directory's fingerprint names its content — weights, configuration, every
tokenizer file, the chat template — so a changed tokenizer never reuses stale cached results."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoregap.engine.cache import Cache
from scoregap.engine.errors import InputError
from scoregap.engine.model import resolve_model

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt",
                   "merges.txt", "special_tokens_map.json", "added_tokens.json", "chat_template.jinja",
                   "generation_config.json", "qwen.tiktoken")


def model_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "config.json").write_text('{"model_type": "llama"}')
    (directory / "model.safetensors").write_bytes(b"weights")
    for name in TOKENIZER_FILES:
        (directory / name).write_text(f"{name} v1")
    (directory / "README.md").write_text("a model card")
    return directory


@pytest.mark.parametrize("name", TOKENIZER_FILES + ("model.safetensors", "config.json"))
def test_changing_any_file_a_result_depends_on_changes_the_fingerprint(tmp_path: Path, name: str) -> None:
    """Bug: tokenizer.model, vocab.json, merges.txt, special_tokens_map.json, added_tokens.json
    were not hashed: an edited tokenizer reused results cached under the old one."""
    directory = model_dir(tmp_path)
    cache = Cache(tmp_path / "cache")
    before = resolve_model(str(directory), cache=cache).fingerprint
    (directory / name).write_text(f"{name} v2, longer")
    assert resolve_model(str(directory), cache=cache).fingerprint != before


def test_a_model_card_or_a_copy_elsewhere_keeps_the_fingerprint(tmp_path: Path) -> None:
    directory = model_dir(tmp_path)
    cache = Cache(tmp_path / "cache")
    before = resolve_model(str(directory), cache=cache).fingerprint
    (directory / "README.md").write_text("an edited model card")
    assert resolve_model(str(directory), cache=cache).fingerprint == before
    copy = tmp_path / "copy"
    copy.mkdir()
    for file in directory.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    assert resolve_model(str(copy), cache=cache).fingerprint == before


def test_a_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no config.json"):
        resolve_model(str(tmp_path / "empty"))
