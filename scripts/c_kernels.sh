#!/usr/bin/env bash
# The C kernel core without Python: build the C test driver (tests/c/test_kernels.c) natively and
# for AArch64, then run every op variant against its scalar reference on this CPU and under
# `qemu-aarch64 -cpu max` (NEON, dotprod, i8mm), also with lower tiers forced.
# Needs cmake + ninja (scripts/requirements-dev.txt) and gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross, qemu-user (scripts/apt-packages.txt).   Usage: scripts/c_kernels.sh [-v]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
verbose=${1:-}

build() {   # build <dir> [cmake args...]
    local dir=$1; shift
    cmake -S tests/c -B "$dir" -G Ninja "$@" > /dev/null
    ninja -C "$dir" > /dev/null
}

run() {     # run <label> <disable> <command...>: print the variants that ran and the summary
    local label=$1 disable=$2; shift 2
    local out
    out=$(CLAVIS_DISABLE_CPU_FEATURES=$disable "$@")
    if [ "$verbose" = "-v" ]; then echo "$out"; fi
    local variants
    variants=$(echo "$out" | awk '/^ok / && $2 != "drivers" {print $3}' | sort -u | tr '\n' ' ')
    printf '%-42s %-20s variants: %s\n' "$label" "$(echo "$out" | tail -1)" "$variants"
    echo "$out" | grep -q ' 0 failed$'
}

build build/c-native
run "native ($(uname -m))" "" build/c-native/test_kernels
run "native, CLAVIS_DISABLE_CPU_FEATURES=all" all build/c-native/test_kernels

if command -v aarch64-linux-gnu-gcc > /dev/null && command -v qemu-aarch64 > /dev/null; then
    build build/c-aarch64 -DCMAKE_TOOLCHAIN_FILE="$PWD/tests/c/aarch64-linux-gnu.cmake"
    for dis in "" i8mm dotprod all; do
        run "aarch64 qemu -cpu max${dis:+, disable=$dis}" "$dis" qemu-aarch64 -cpu max build/c-aarch64/test_kernels
    done
else
    echo "aarch64-linux-gnu-gcc / qemu-aarch64 missing: apt-get install -y gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user" >&2
    exit 1
fi
