#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
python bench/peers.py "$@"
python bench/whisper_peers.py --shape whisper-base --threads 1,2 --reps 3
