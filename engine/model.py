"""Which model: a local directory or a hub id, resolved to files and fingerprinted.

The fingerprint names the model's content, not its path: a hash over every weight file, the
configuration, every file a tokenizer can be built from (tokenizer.json, tokenizer.model,
vocab.json, merges.txt, special_tokens_map.json, added_tokens.json, ...) and the chat template
file, each by its name within the directory and the sha256 of its bytes. Two copies of the same
checkpoint share cached results; a checkpoint retrained in place, or the same weights with an
edited tokenizer or chat template, does not reuse stale ones. Hashing tens of GB takes a while,
so each file's digest is remembered in the cache per (file, size, mtime).

Loaded backends are kept in a small pool keyed by everything that is fixed at load time (model,
backend, dtype, device, attention implementation), so variants that differ only in the prompt
reuse one loaded model.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from scoregap.engine.backends import MARKERS, get_backend
from scoregap.engine.backends.base import Backend
from scoregap.engine.cache import Cache
from scoregap.engine.errors import InputError
from scoregap.engine.inputs import kind_phrase, path_kind
from scoregap.engine.setup import LoadingSpec

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
CONFIG_FILES = (
    # the model's configuration
    "config.json", "generation_config.json",
    # every file a tokenizer can be built from: a changed one changes the token ids
    "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt",
    "merges.txt", "special_tokens_map.json", "added_tokens.json",
    # the chat template, when it is a file of its own
    "chat_template.jinja", "chat_template.json",
    # the fake backend's whole model
    "fake-model.toml",
)
TOKENIZER_SUFFIXES = (".tiktoken",)


@dataclass(frozen=True)
class ModelRef:
    name: str          # as the user gave it
    directory: str     # local files
    revision: str
    fingerprint: str   # hash over weights and tokenizer/config files


def resolve_model(name: str, revision: str = "", cache: Cache | None = None) -> ModelRef:
    directory = _local_directory(name, revision)
    return ModelRef(name, directory, revision, _fingerprint(Path(directory), cache))


def _local_directory(name: str, revision: str) -> str:
    path = Path(name).expanduser()
    kind = path_kind(path)
    if kind == "directory":
        if not any((path / marker).is_file() for marker in MARKERS.values()):
            raise InputError(f'Model directory "{path}" has no config.json: it is not a saved model.')
        return str(path.resolve())
    if kind != "missing":   # a file, a link loop, a link to nothing
        raise InputError(
            f'Model "{name}" {kind_phrase(path, kind)}, but a model is a directory holding config.json '
            f"(saved with save_pretrained; give the directory, not a file in it), or a hub id such as "
            f"Qwen/Qwen2.5-0.5B-Instruct."
        )
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1
    if looks_like_path:
        raise InputError(
            f'Model "{name}" does not exist: no such directory. Give a directory saved with '
            f"save_pretrained, or a hub id such as Qwen/Qwen2.5-0.5B-Instruct."
        )
    try:
        from huggingface_hub import snapshot_download

        try:
            return snapshot_download(name, revision=revision or None, local_files_only=True)
        except Exception:
            if os.environ.get("HF_HUB_OFFLINE") == "1":
                raise
            return snapshot_download(name, revision=revision or None)
    except Exception as err:
        raise InputError(
            f'Model "{name}" is neither a local directory nor in the Hugging Face cache, and could '
            f"not be downloaded ({type(err).__name__}). Check the name, or download it first."
        ) from None


def _fingerprint(directory: Path, cache: Cache | None) -> str:
    digest = hashlib.sha256()
    files = sorted(
        p for p in directory.rglob("*")
        if p.is_file() and (p.suffix in WEIGHT_SUFFIXES + TOKENIZER_SUFFIXES or p.name in CONFIG_FILES)
    )
    for path in files:
        stat = path.stat()
        stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
        real = str(path.resolve())
        file_digest = cache.fingerprint_of(real, stamp) if cache else None
        if file_digest is None:
            file_digest = _hash_file(path)
            if cache:
                cache.remember_fingerprint(real, stamp, file_digest)
        digest.update(f"{path.relative_to(directory)}\x00{file_digest}\n".encode())
    return digest.hexdigest()[:24]


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


class BackendPool:
    """Loaded backends, reused across variants that agree on the backend's `load_keys`. A backend
    that holds a device for itself (`exclusive`: vLLM takes its share of GPU memory up front) is
    loaded alone: the others are closed first, and it is closed before any other loads (a model
    that is needed again is loaded again)."""

    def __init__(self) -> None:
        self._loaded: dict[tuple, Backend] = {}

    def key(self, model: ModelRef, loading: LoadingSpec) -> tuple:
        """Setups with equal keys share one loaded instance."""
        keys = get_backend(loading.backend).load_keys
        return (model.fingerprint, loading.backend, *(getattr(loading, k) for k in keys))

    def holds(self, model: ModelRef, loading: LoadingSpec) -> bool:
        """Whether `get` would answer without loading anything."""
        return self.key(model, loading) in self._loaded

    def close(self, key: tuple) -> None:
        backend = self._loaded.pop(key)
        close = getattr(backend, "close", None)
        if callable(close):
            close()

    def get(self, model: ModelRef, loading: LoadingSpec) -> Backend:
        cls = get_backend(loading.backend)
        key = self.key(model, loading)
        if key not in self._loaded:
            alone = getattr(cls, "exclusive", False)
            for other in list(self._loaded):
                if alone or getattr(get_backend(other[1]), "exclusive", False):
                    self.close(other)
            self._loaded[key] = cls.load(model, loading)
        return self._loaded[key]
