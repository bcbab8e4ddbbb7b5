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

$(VENV)/.test: $(VENV)/.base pyproject.toml
	$(PIP) install -e '.[test]'
	touch $@

demo: $(VENV)/.base
	$(PY) -m scoregap demo

test: $(VENV)/.test
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q

bench: $(VENV)/.test
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) bench/eval_vs_lmeval.py

clean-venv:
	rm -rf $(VENV)
