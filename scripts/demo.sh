#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
clavis info

# --- the kernel core: every variant vs its scalar reference, natively and as AArch64 under qemu ---
bash scripts/c_kernels.sh

# --- decode matvec GB/s against the machine's memory read bandwidth, prefill GOP/s ---
clavis bench kernels

# --- local LLM: a random-weight model with Qwen2.5-0.5B's exact shapes (Q4_0), then generate ---
mkdir -p models
[ -f models/qwen2.5-0.5b-q4_0.gguf ] || clavis make-model qwen2.5-0.5b --quant q4_0 -o models/qwen2.5-0.5b-q4_0.gguf
clavis generate -m models/qwen2.5-0.5b-q4_0.gguf -p "The capital of France is" -n 32 --seed 1

# --- what did I miss: digest of a bundled WhatsApp group chat (extractive engine, no model) ---
clavis digest examples/chats/weekend-trip.txt --me Sam --since-my-last

# --- serve: the OpenAI-compatible server + web page; one chat request with the openai client ---
python scripts/serve_demo.py models/qwen2.5-0.5b-q4_0.gguf

# --- voice messages: Whisper on the clavis kernels. No real Whisper weights can be downloaded here,
# so this is a RANDOM-WEIGHT whisper-tiny (exact shapes, made on the spot): the text is gibberish,
# the timings are real. With real weights: clavis pull openai/whisper-base, then the same command.
[ -f models/whisper-tiny-random/model.safetensors ] || clavis make-model whisper-tiny -o models/whisper-tiny-random
echo "== clavis transcribe (RANDOM WEIGHTS: expect gibberish text; the timings are the point)"
clavis transcribe ../shared/data/audio/jfk.flac -m models/whisper-tiny-random --format srt --beam-size 1 --temperature 0 --timings
