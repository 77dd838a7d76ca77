"""`clavis bench llm`: how close this machine gets to its memory-bandwidth limit on one model.

Measures, in one run: the memory read bandwidth (right before and after), the load time, the
prefill speed on a prompt of random token ids, the decode speed, and the decode's effective
bandwidth (weight bytes read per token x tokens/s) as a fraction of the measured bandwidth.
A zoo shape name (`llama-3.2-1b`, ...) is made into a random-weight GGUF in the cache first.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from clavis import ClavisError

CACHE = Path(os.environ.get("CLAVIS_CACHE", Path.home() / ".cache" / "clavis")) / "models"


def resolve_model(model: str, quant: str = "q4_0", progress=None) -> str:
    """A path as is; a zoo shape name -> a random-weight GGUF made once into the cache."""
    from clavis.models import zoo

    if os.path.exists(model):
        return model
    if model not in zoo.shape_names():
        raise ClavisError(f"{model}: neither a file nor a known shape "
                          f"(shapes: {', '.join(zoo.shape_names())})")
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"{model}-{quant}.gguf"
    if not out.exists():
        tmp = out.with_suffix(".part")
        zoo.make(model, str(tmp), quant=quant)
        tmp.rename(out)
        if hasattr(os, "sync"):   # written back now, not while the load measured next needs memory
            os.sync()
    return str(out)


def weight_bytes_per_token(gguf_path: str) -> tuple[int, int, int]:
    """(bytes of weights read per decoded token, total tensor bytes, parameter count). The token
    embedding is read one row per token, so it only counts when it doubles as the output matrix."""
    from clavis.formats.gguf import read_gguf

    gf = read_gguf(gguf_path)
    total = sum(t.nbytes for t in gf.tensors.values())
    params = sum(int(np.prod(t.shape, dtype=np.int64)) for t in gf.tensors.values())
    embd = gf.tensors["token_embd.weight"].nbytes if "token_embd.weight" in gf.tensors else 0
    per_token = total - embd if "output.weight" in gf.tensors else total
    return per_token, total, params


def bench_llm(model: str, quant: str = "q4_0", threads: int | None = None, prompt: int = 512,
              gen: int = 128, seed: int = 0, step=lambda what: None, profile: bool = False) -> dict:
    """The figures of `clavis bench llm` (see its --help). With profile, the decode is run once
    more with per-step timers (after the measured run, so its figures are untimed-code figures),
    and `decode_profile` says where a decoded token's time goes (ms per token)."""
    from clavis import kernels
    from clavis.kernels.bench import read_bandwidth_stats
    from clavis.runtime.llm import LLM

    if threads is not None:
        kernels.set_num_threads(threads)
    step("model")
    path = resolve_model(model, quant)
    per_token, total, _ = weight_bytes_per_token(path)
    step("read bandwidth")
    bw_before = read_bandwidth_stats()
    step("load")
    t0 = time.perf_counter()
    llm = LLM.load(path, n_ctx=prompt + gen + 8)
    load_s = time.perf_counter() - t0
    step("huge pages")     # the weights move to huge pages in the background after load
    t0 = time.perf_counter()
    llm.wait_huge_pages()
    huge_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    ids = [int(t) for t in rng.integers(100, min(llm.vocab_size, 30000) - 100, size=prompt)]
    step(f"prefill {prompt} + decode {gen}")
    g = llm.generate(ids, max_tokens=gen, temperature=0.0, ignore_eos=True)
    for _ in g:
        pass
    st = g.stats
    step("read bandwidth")
    bw_after = read_bandwidth_stats()
    eff = per_token * st.decode_tok_s / 1e9
    extra = {}
    if profile:
        step("profiled decode")
        extra["decode_profile"] = _decode_profile(llm, ids, gen, per_token)
    return {
        "model": model, "path": path, "threads": kernels.get_num_threads(),
        "model_bytes": total, "bytes_per_token": per_token,
        "load_s": load_s, "huge_pages_s": huge_s, "huge_page_mb": llm.huge_page_bytes / 2**20,
        "prompt_tokens": st.prompt_tokens, "generated_tokens": st.generated_tokens,
        "prefill_tok_s": st.prefill_tok_s, "decode_tok_s": st.decode_tok_s,
        "read_bw_gbs": bw_before["best"], "read_bw_after_gbs": bw_after["best"],
        "read_bw_sustained_gbs": bw_before["sustained"],
        "read_bw_sustained_after_gbs": bw_after["sustained"],
        "decode_eff_gbs": eff, "decode_bw_fraction": eff / bw_before["best"],
        "decode_bw_fraction_sustained": eff / bw_before["sustained"], **extra,
    }


MATVEC_STEPS = ("qkv", "wo", "gate/up", "down", "head")


def _decode_profile(llm, ids: list[int], gen: int, per_token: int) -> dict:
    """Decode `gen` tokens after `ids` (cached) with the C layer loop's per-step timers on, then
    probe the read bandwidth again. `matvec_gbs`: the weights' bytes over the weight matvecs'
    own time, the rate the decode streams them at, beside the probe right after it (its best
    pass and its sustained rate). A token can reach the probe's rate only as far as its other
    steps (attention, norms, ...) leave it time."""
    from clavis.kernels.bench import read_bandwidth_stats
    from clavis.kernels.layers import DecodeProfile

    prof = llm.model.profile = DecodeProfile()
    try:
        g = llm.generate(ids, max_tokens=gen, temperature=0.0, ignore_eos=True)
        for _ in g:
            pass
    finally:
        llm.model.profile = None
    token_s = 1.0 / g.stats.decode_tok_s if g.stats.decode_tok_s else None
    ms = prof.summary(token_s)
    bw = read_bandwidth_stats()
    mv_ms = sum(ms[k] for k in MATVEC_STEPS)
    return {"tokens": prof.tokens, "ms_per_token": 1e3 * token_s if token_s else None,
            "steps_ms": ms, "matvec_gbs": per_token / mv_ms / 1e6 if mv_ms > 0 else None,
            "read_bw_gbs": bw["best"], "read_bw_sustained_gbs": bw["sustained"]}
