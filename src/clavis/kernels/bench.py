"""Kernel benchmark: decode matvec speed against the memory read bandwidth, prefill throughput.

In one run: the read bandwidth (a STREAM-like read in C on all pool threads), then the decode
matrix-vector products for Q4_0 and Q8_0 on Llama-2-7B-sized matrices, cycling through enough
copies that the weights exceed the last-level cache 8 times, then the prefill GEMM at M = 512, then the
read bandwidth again. Every figure is the best of several passes (as STREAM reports).
GB/s of a matvec counts the GGUF bytes of the weight (what a model file holds per token).
bw_fraction = matvec GB/s / max(read bandwidth before, after): the conservative choice.
"""
from __future__ import annotations

import time

import numpy as np

from clavis.kernels import _C, formats, get_num_threads, set_num_threads
from clavis.kernels import matmul as mm

DECODE_SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008)]   # Llama-2-7B attention / MLP
PREFILL_SHAPES = [(4096, 4096)]
PREFILL_M = 512
CACHE_BYTES = 32 << 20          # the L3 of the development machine
CYCLE_FACTOR = 8                # decode cycles through >= 8x that, so (almost) nothing is an L3 hit
PASSES = 20                     # best of: short passes (~5 ms) catch the quiet moments of a shared
                                # machine equally for the read kernel and the matvecs


def random_gguf(t: str, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Random GGUF bytes of a [n, k] weight: random quants with valid, small fp16 scales."""
    nbytes = formats.row_bytes(t, k) * n
    data = rng.integers(0, 256, nbytes, dtype=np.uint8)
    if t in ("q4_0", "q8_0"):
        blocks = data.reshape(-1, formats.row_bytes(t, 32))
        scales = rng.uniform(0.001, 0.01, blocks.shape[0]).astype(np.float16)
        blocks[:, :2] = scales.view(np.uint8).reshape(-1, 2)
    elif t == "f16":
        data.view(np.float16)[:] = rng.standard_normal(n * k).astype(np.float16)
    return data


def read_bandwidth(nbytes: int = 256 << 20, reps: int = PASSES) -> float:
    """Best read bandwidth in GB/s of `reps` passes over a fresh buffer, all pool threads."""
    return read_bandwidth_stats(nbytes, reps)["best"]


def read_bandwidth_stats(nbytes: int = 256 << 20, reps: int = PASSES) -> dict:
    """The read probe's two figures (GB/s, all pool threads, `reps` passes over a fresh buffer):
    best = the fastest pass, the peak rate the memory gave (what STREAM reports); sustained =
    all the passes' bytes over their total time, what a reader streaming through the whole
    probe got. On a shared machine the second is a few % (at times 10%) lower: others' traffic
    comes and goes within the probe's ~0.1 s. A decode streams for seconds, so it is held to
    the first and can at best reach about the second."""
    buf = np.ones(nbytes, dtype=np.uint8)     # touched, so no page faults while timing
    _C.read_bandwidth(buf, 1)                 # warm-up pass
    times = _C.read_bandwidth(buf, reps)
    return {"best": nbytes / min(times) / 1e9, "sustained": nbytes * len(times) / sum(times) / 1e9}


def decode_speed(t: str, n: int, k: int, rng, passes: int = PASSES) -> dict:
    data = random_gguf(t, n, k, rng)
    first = mm.PackedWeight(data, t, n, k)
    copies = max(2, -(-CYCLE_FACTOR * CACHE_BYTES // first.nbytes))
    ws = [first] + [mm.PackedWeight(data, t, n, k) for _ in range(copies - 1)]
    x = rng.standard_normal(k).astype(np.float32)
    out = np.empty(n, np.float32)
    for w in ws:
        mm.matmul(x, w, out)                  # warm-up: page in, settle the pool
    best = float("inf")
    for _ in range(passes):
        t0 = time.perf_counter()
        for w in ws:
            mm.matmul(x, w, out)
        best = min(best, time.perf_counter() - t0)
    gguf_bytes = data.size * copies
    return {"format": t, "n": n, "k": k, "variant": first.variant, "copies": copies,
            "ms": round(best / copies * 1e3, 4), "gbs": round(gguf_bytes / best / 1e9, 2)}


def prefill_speed(t: str, n: int, k: int, m: int, rng, passes: int = 3) -> dict:
    w = mm.PackedWeight(random_gguf(t, n, k, rng), t, n, k)
    x = rng.standard_normal((m, k)).astype(np.float32)
    out = np.empty((m, n), np.float32)
    mm.matmul(x, w, out)
    best = float("inf")
    for _ in range(passes):
        t0 = time.perf_counter()
        mm.matmul(x, w, out)
        best = min(best, time.perf_counter() - t0)
    return {"format": t, "m": m, "n": n, "k": k, "variant": w.variant,
            "ms": round(best * 1e3, 3), "gops": round(2.0 * m * n * k / best / 1e9, 1)}


DECODE_FORMATS = ("q4_0", "q8_0", "f16")
PREFILL_FORMATS = ("q4_0", "q8_0", "f16")


def n_steps() -> int:
    """Progress steps of run(): two bandwidth runs, the decode and the prefill cases."""
    return 2 + len(DECODE_FORMATS) * len(DECODE_SHAPES) + len(PREFILL_FORMATS) * len(PREFILL_SHAPES)


def run(threads: int | None = None, formats_=DECODE_FORMATS, prefill_formats=PREFILL_FORMATS,
        decode_shapes=None, prefill_m=None, progress=None) -> dict:
    """The whole benchmark; returns the JSON-ready dict. `progress(step_name)` is called per step."""
    decode_shapes = decode_shapes or DECODE_SHAPES
    prefill_m = prefill_m or PREFILL_M
    prev = get_num_threads()
    if threads:
        set_num_threads(threads)
    step = progress or (lambda name: None)
    rng = np.random.default_rng(0)
    try:
        step("read bandwidth")
        before = read_bandwidth()
        decode = []
        for t in formats_:
            for n, k in decode_shapes:
                step(f"decode {t} {n}x{k}")
                decode.append(decode_speed(t, n, k, rng))
        step("read bandwidth")
        after = read_bandwidth()
        prefill = []
        for t in prefill_formats:
            for n, k in PREFILL_SHAPES:
                step(f"prefill {t} M={prefill_m}")
                prefill.append(prefill_speed(t, n, k, prefill_m, rng))
        bw = max(before, after)
        for d in decode:
            d["bw_fraction"] = round(d["gbs"] / bw, 3)
        return {"read_bw_gbs": round(before, 2), "read_bw_after_gbs": round(after, 2),
                "threads": get_num_threads(), "decode": decode, "prefill": prefill,
                "note": "best of several passes; bw_fraction = gbs / max(read_bw_gbs, read_bw_after_gbs)"}
    finally:
        if threads:
            set_num_threads(prev)
