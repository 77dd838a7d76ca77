# clavis: `make demo` and `make test` work on a fresh machine; they install what they need.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all venv deps build test demo bench peers clean info

all: build

# ---- environment -------------------------------------------------------------------------
$(VENV)/.created:
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@touch $@

APT_STAMP := $(VENV)/.apt-done
$(APT_STAMP): $(VENV)/.created scripts/apt-packages.txt
	bash scripts/install_apt.sh scripts/apt-packages.txt
	@touch $@

# torch first, pinned, so nothing pulls a CUDA build; transformers after it.
PIP_STAMP := $(VENV)/.pip-done
$(PIP_STAMP): $(VENV)/.created pyproject.toml scripts/requirements-dev.txt
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -r scripts/requirements-dev.txt
	@touch $@

# llama.cpp's binding, built from source with native flags: the independent reference the
# tests compare our logits and token ids with (pip caches the built wheel).
LLAMACPP_STAMP := $(VENV)/.llamacpp-done
$(LLAMACPP_STAMP): $(PIP_STAMP) scripts/requirements-llamacpp.txt
	bash scripts/install_llama_cpp.sh
	@touch $@

venv: $(VENV)/.created
deps: $(APT_STAMP) $(PIP_STAMP) $(LLAMACPP_STAMP)

# The extension: an editable install, rebuilt incrementally (ninja) into build/.
# flock keeps concurrent builds from trampling each other.
build: $(PIP_STAMP)
	@mkdir -p build
	flock build/.lock $(PIP) install -q --no-build-isolation --no-deps -e .

info: build
	$(VENV)/bin/clavis info

# ---- the contract ------------------------------------------------------------------------
test: deps build
	bash scripts/test.sh

demo: deps build
	bash scripts/demo.sh

bench: deps build
	bash scripts/bench.sh

peers: deps build
	$(PIP) install -q -r scripts/requirements-peers.txt
	bash scripts/peers.sh

clean:
	rm -rf build dist *.egg-info
