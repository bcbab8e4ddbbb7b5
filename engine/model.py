"""Which model: a local directory or a hub id, resolved to files and fingerprinted.

The fingerprint names the weights, not the path: two copies of the same checkpoint share cached
results, and a checkpoint retrained in place does not reuse stale ones. Hashing tens of GB takes
a while, so the digest is remembered in the cache per (file, size, mtime).

Loaded backends are kept in a small pool keyed by everything that is fixed at load time (model,
backend, dtype, device, attention implementation), so variants that differ only in the prompt
reuse one loaded model.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoregap.engine.cache import Cache
from scoregap.engine.errors import InputError
from scoregap.engine.setup import LoadingSpec

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
CONFIG_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


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
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(f'Model directory "{path}" has no config.json: it is not a saved model.')
        return str(path.resolve())
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
        if p.is_file() and (p.suffix in WEIGHT_SUFFIXES or p.name in CONFIG_FILES)
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
    """Loaded backends, reused across variants with the same load-time settings."""

    def __init__(self) -> None:
        self._loaded: dict[tuple, Any] = {}

    def get(self, model: ModelRef, loading: LoadingSpec) -> Any:
        key = (model.fingerprint, loading.backend, loading.dtype, loading.device,
               loading.attn_implementation, loading.padding_side, loading.trust_remote_code)
        if key not in self._loaded:
            self._loaded[key] = load_backend(model, loading)
        return self._loaded[key]


def load_backend(model: ModelRef, loading: LoadingSpec) -> Any:
    if loading.backend == "vllm":
        raise InputError(
            'loading.backend = "vllm" is part of the setup format, but this version of scoregap '
            'evaluates with transformers only. Set loading.backend = "transformers".'
        )
    from scoregap.engine.backends.transformers import TransformersBackend

    return TransformersBackend(
        model.directory,
        dtype=loading.dtype,
        device=loading.device,
        attn_implementation=loading.attn_implementation,
        padding_side=loading.padding_side,
        trust_remote_code=loading.trust_remote_code,
    )
