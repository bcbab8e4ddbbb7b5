"""Loading: how the model is loaded and run, which changes the arithmetic behind every score.

What it varies:
    The dtype (the other two of float32, bfloat16 and float16), the batch size (1 and 64), the
    padding side (when batches hold more than one sequence), the attention implementation
    (eager, SDPA) and the inference backend (vLLM or transformers, where both are available).

Why:
    Lower precision, other batch shapes, other kernels and other engines round differently.
    Most items do not notice; items the model was unsure about can flip, and a model whose pad
    token is its EOS token can break outright in batches. The engine re-runs only the items whose
    decision margin is small enough to flip where it can, so these variants are cheap.
"""

from __future__ import annotations

from typing import Any

from scoregap.checks.base import BaseCheck, register
from scoregap.engine.checks_api import CheckContext, Question, Variant
from scoregap.engine.setup import Setup

DTYPES = ("float32", "bfloat16", "float16")
BATCH_SIZES = (1, 64)
ATTENTION = {"eager": "eager attention", "sdpa": "SDPA attention"}
BACKENDS = {"transformers": "transformers", "vllm": "vLLM"}
# Keys that change only the arithmetic: their variants re-run only the docs that could flip.
NUMERIC = ("loading.dtype", "loading.batch_size", "loading.padding_side", "loading.attn_implementation",
           "loading.backend")


@register
class LoadingCheck(BaseCheck):
    id = "loading"
    title = "Model loading and numerics"
    keys = ("loading.dtype", "loading.batch_size", "loading.padding_side",
            "loading.attn_implementation", "loading.backend", "loading.device")
    explanation = (
        "The same weights do not give the same numbers everywhere. Precision changes every "
        "matrix product: gemma-3-12b-it scored .874 on GSM8K in bfloat16 and .647 in float16 "
        "(transformers PR #36832). Batching changes padding and kernels: BoolQ gave .7797 at "
        "batch size 16 and .8018 at 32 (lm-eval #3055), and a model whose pad token was its EOS "
        "token scored 13.12 on GSM8K one item at a time but 5.69 in batches of 8 (transformers "
        "#28385). Inference engines schedule and fuse the arithmetic differently: Qwen2.5-Math-7B "
        "scored .914 on gsm8k_cot with transformers and .672 with vLLM (lm-eval #3150). Hardware "
        "adds its own nondeterminism, since PyTorch does not promise identical results across "
        "devices. Most items never notice; the ones the model was unsure of can flip. This check "
        "re-runs other dtypes, batch sizes, padding, attention kernels and backends, where it "
        "can only on the items whose decision margin is small enough to flip."
    )
    reading = (
        "Numeric effects are usually small and symmetric; a large one points at a bug (a pad "
        "token that is also the EOS token, a half-precision overflow) rather than at rounding, "
        "and is worth reporting upstream. Batch-size variants double as a noise floor for the "
        "numerics. No measurable effect (below the minimum detectable effect for this many docs) "
        "is the expected result; within noise means a shift no larger than a rerun with other "
        "seeds. Only docs close to flipping are re-run, so a finding here counts the docs that "
        "flipped, not a fresh run of them all."
    )
    questions = (
        Question("loading.dtype", "In which precision was the model run (float32, bfloat16, "
                 "float16, quantized)?"),
        Question("loading.batch_size", "With what batch size, and was padding on the left or the "
                 "right?"),
        Question("loading.backend", "With which inference engine (transformers, vLLM, another) "
                 "and version?"),
        Question("loading.device", "On what hardware?"),
    )

    def rerun_for(self, key: str) -> str:
        return "margin" if key in NUMERIC else "all"

    def name_for(self, key: str, value: Any) -> str:
        if key == "loading.batch_size":
            return f"batch size {value}"
        if key == "loading.padding_side":
            return f"{value} padding"
        if key == "loading.attn_implementation":
            return ATTENTION.get(value, f"{value} attention")
        if key == "loading.backend":
            return BACKENDS.get(value, str(value))
        if key == "loading.device":
            return f"device {value}"
        return str(value)

    def variants(self, yours: Setup, context: CheckContext) -> list[Variant]:
        found = self.collect(yours, context)
        lo = yours.loading
        for dtype in DTYPES:
            if dtype != lo.dtype:
                found.add(dtype, {"loading.dtype": dtype}, rerun="margin")
        for size in BATCH_SIZES:
            if size != lo.batch_size:
                found.add(self.name_for("loading.batch_size", size), {"loading.batch_size": size}, rerun="margin")
        kernels = lo.backend != "vllm"   # vLLM pads nothing and chooses its own attention kernels
        if kernels and lo.batch_size != 1:   # one sequence a batch is never padded
            side = "left" if lo.padding_side == "right" else "right"
            found.add(self.name_for("loading.padding_side", side), {"loading.padding_side": side}, rerun="margin")
        for attention, name in ATTENTION.items():
            if kernels and attention != lo.attn_implementation:
                found.add(name, {"loading.attn_implementation": attention}, rerun="margin")
        for backend, name in BACKENDS.items():
            if backend != lo.backend and backend in context.backends:
                found.add(name, backend_values(yours, backend), rerun="margin")
        return found.result()


def backend_values(yours: Setup, backend: str) -> dict[str, Any]:
    """The keys that move a setup to another backend: the vLLM-only keys go back to their
    defaults when leaving vLLM (another backend refuses them)."""
    from scoregap.engine.setup import VLLM_KEYS, LoadingSpec

    values: dict[str, Any] = {"loading.backend": backend}
    if backend != "vllm":
        values.update({f"loading.{key}": getattr(LoadingSpec, key) for key in VLLM_KEYS})
    return values
