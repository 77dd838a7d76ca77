#!/usr/bin/env bash
# The default test suite (what CI runs through `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
python -m pytest tests "$@"
