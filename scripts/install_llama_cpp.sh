#!/usr/bin/env bash
# Builds llama-cpp-python (llama.cpp's Python binding) from source into .venv, once.
# Idempotent: does nothing when `import llama_cpp` already works in .venv.
# Takes ~10-20 minutes on 2 cores; the version is pinned in scripts/requirements-llamacpp.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
VPY=.venv/bin/python
if "$VPY" -c "import llama_cpp" >/dev/null 2>&1; then
  exit 0
fi
echo "building llama-cpp-python from source (this takes a while)..." >&2
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=ON}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
"$VPY" -m pip install -q --no-binary llama-cpp-python -r scripts/requirements-llamacpp.txt
"$VPY" -c "import llama_cpp; print('llama_cpp', llama_cpp.__version__, 'built from source')" >&2
