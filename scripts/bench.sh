#!/usr/bin/env bash
# `make bench`: kernel and single-engine figures, written into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
python bench/report.py "$@"
