"""Loading a Hugging Face causal LM and its tokenizer for the transformers backend: the device
(`auto` resolved, one this machine lacks refused before any weight loads), the weights in the
setup's dtype (a truncated file named), the tokenizer (missing vocabulary files and a chat
template that fails as it loads said plainly), and the model's window as lm-eval reads it.
Every mistake a user can make here is an `InputError` naming the key or the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from scoregap.engine.errors import InputError
from scoregap.engine.tokenization import template_error

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
ACCELERATORS = ("cuda", "mps", "xpu")   # device types a model can run on besides the CPU
LENGTH_KEYS = ("n_positions", "max_position_embeddings", "n_ctx")   # lm-eval's order
DEFAULT_MAX_LENGTH = 2048   # lm-eval's, for a model whose config and tokenizer name no limit
VOCABULARY_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model",
                    "sentencepiece.bpe.model")


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def available_devices() -> list[str]:
    """The devices a model can be loaded on here, by the names loading.device takes."""
    names = ["cpu"]
    for kind in ACCELERATORS:
        module = getattr(torch, kind, None)
        if kind == "mps":
            module = getattr(torch.backends, "mps", None)
        if module is None or not module.is_available():
            continue
        count = getattr(module, "device_count", lambda: 1)()
        names += [kind] if kind == "mps" else [f"{kind}:{i}" for i in range(count)]
    return names


def check_device(device: str) -> None:
    """An `InputError` naming loading.device and the devices here, unless `device` is one of them."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise _bad_device(device, "is not a device name") from None
    kind, index = parsed.type, parsed.index or 0
    if kind == "cpu":
        return
    if kind not in ACCELERATORS:
        raise _bad_device(device, f'names a device type ("{kind}") that scoregap cannot run a model on')
    here = available_devices()
    if (kind if kind == "mps" else f"{kind}:{index}") in here:
        return
    count = sum(1 for d in here if d.split(":")[0] == kind)
    raise _bad_device(device, "is not available on this machine"
                      + (f" (it has {count} {kind} device{'s' if count > 1 else ''})" if count else ""))


def _bad_device(device: str, why: str) -> InputError:
    return InputError(
        f'loading.device = "{device}" {why}. Devices here: {", ".join(["auto", *available_devices()])}. '
        f'Set loading.device to one of them ("auto" picks the fastest).'
    )


def load_tokenizer(directory: str, name: str, trust_remote_code: bool) -> Any:
    """The model's tokenizer, or an `InputError` that says what is wrong with its files."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(directory, trust_remote_code=trust_remote_code)
    except Exception as err:   # a model's files can make transformers raise anything; none is our bug
        raise _tokenizer_error(err, directory, name) from err


def _tokenizer_error(err: Exception, directory: str, name: str) -> InputError:
    from jinja2 import TemplateError

    if isinstance(err, TemplateError):   # some releases compile the chat template as they load
        return template_error(err, name, directory)
    missing = _missing_vocabulary(Path(directory))
    if missing:
        return InputError(f'The tokenizer of the model "{name}" cannot be loaded: {directory} {missing} '
                          f"Copy the tokenizer files from the original checkpoint into it.")
    detail = " ".join(f"{type(err).__name__}: {err}".split())
    return InputError(f'The tokenizer of the model "{name}" ({directory}) could not be loaded ({detail}). '
                      f"Check its tokenizer files (tokenizer.json, tokenizer_config.json).")


def _missing_vocabulary(directory: Path) -> str:
    """'' when `directory` holds a file a tokenizer's vocabulary is built from, else which are missing."""
    present = {p.name for p in directory.iterdir()} if directory.is_dir() else set()
    if any(n in present for n in VOCABULARY_FILES if n != "vocab.json") or any(
        n.endswith(".tiktoken") for n in present
    ):
        return ""
    if "vocab.json" in present:
        return "has vocab.json but not merges.txt, which a BPE tokenizer needs with it." if (
            "merges.txt" not in present) else ""
    shown = ", ".join(sorted(present)[:12]) or "nothing"
    return (f"has no tokenizer vocabulary: tokenizer.json is missing, and so are the files it could be "
            f"rebuilt from (tokenizer.model, vocab.json with merges.txt, vocab.txt, a .tiktoken file). "
            f"It holds: {shown}.")


def load_model(directory: str, name: str, dtype: str, kwargs: dict[str, Any]) -> Any:
    """The causal LM's weights, or an `InputError` naming an unreadable weight file."""
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(
            directory, dtype="auto" if dtype == "auto" else DTYPES[dtype], **kwargs)
    except Exception as err:   # corrupt or foreign files make transformers raise anything
        detail = " ".join(f"{type(err).__name__}: {err}".split())
        broken = _unreadable_weights(Path(directory))
        if broken is not None:
            raise InputError(f'The weight file {broken} of the model "{name}" cannot be read: truncated or '
                             f"corrupt ({detail}). Re-download it (an interrupted download or copy leaves "
                             f"such a file).") from err
        raise InputError(f'The model "{name}" ({directory}) could not be loaded with transformers '
                         f"({detail}).") from err


def _unreadable_weights(directory: Path) -> Path | None:
    """The first weight file whose header or archive is damaged (a truncated copy), if any."""
    import zipfile

    from safetensors import safe_open

    for path in sorted(directory.glob("*.safetensors")):
        try:
            with safe_open(str(path), "pt"):
                pass
        except Exception:  # noqa: BLE001 - whatever safetensors says, the file cannot be read
            return path
    for path in sorted(directory.glob("*.bin")):
        with path.open("rb") as f:
            legacy_pickle = f.read(1) == b"\x80"
        if not legacy_pickle and not zipfile.is_zipfile(path):
            return path
    return None


def model_max_length(config: Any, tokenizer: Any) -> int:
    """The model's window as lm-eval reads it: the config's first length key, else the tokenizer's
    model_max_length when it names one, else 2048."""
    for key in LENGTH_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    if isinstance(value, int) and 0 < value < 10**29:
        return value
    return DEFAULT_MAX_LENGTH
