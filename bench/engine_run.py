"""Run ONE engine on ONE model in this process and print one JSON line of figures.

bench/peers.py starts this script once per (model, engine, threads) so that load time and peak
RSS belong to that engine alone. All engines get the same token ids: a 512-token prompt of
random ids (prefill) and then 128 decode steps, each feeding the greedy token back.

    python bench/engine_run.py --engine clavis|llamacpp|torch|paired --gguf F.gguf [--hf-dir D]
        --threads N [--prompt 512] [--gen 128] [--seed 0] [--block 4]

`--engine paired` loads clavis and llama.cpp into this one process and decodes with both,
alternating blocks of `--block` tokens (the order swapped every pair of blocks): the two engines'
per-token times are paired in time, so neither caught a faster memory regime than the other. The
ratio still depends on the regime the pairs ran in (clavis's decode follows the memory's speed;
llama.cpp's Q4_0 decode, limited by its kernel, hardly does).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time


def prompt_ids(vocab: int, n: int, seed: int) -> list[int]:
    # Python's generator: numpy.random would map OpenSSL's libcrypto into every engine's process
    # (~4.5 MB of peak RSS that no engine needs). Clear of the special tokens at both ends.
    rng = random.Random(seed)
    return [rng.randrange(100, min(vocab, 30000) - 100) for _ in range(n)]


def n_ctx(args) -> int:
    """The context every engine gets: the prompt, the decoded tokens and a margin."""
    return args.prompt + args.gen + 16


def read_bandwidth(threads: int) -> dict:
    """Memory read bandwidth (GB/s: {"best", "sustained"}, kernels.bench.read_bandwidth_stats)
    measured by a separate process while this one waits, so the probe's 256 MB buffer stays out
    of this engine's peak RSS. This machine's bandwidth switches between regimes within minutes,
    so each decode is compared with the bandwidth measured right before and right after it."""
    code = "import json,clavis.kernels.bench as b; print(json.dumps(b.read_bandwidth_stats()))"
    out = subprocess.run([sys.executable, "-c", code], check=True, text=True, capture_output=True,
                         env={**os.environ, "CLAVIS_NUM_THREADS": str(threads)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def bw_fields(before: dict, after: dict) -> dict:
    """The probes around a decode: best passes before / after, and the sustained rate (mean)."""
    return {"decode_bw_before": before["best"], "decode_bw_after": after["best"],
            "decode_bw_sustained": (before["sustained"] + after["sustained"]) / 2}


def run_clavis(args) -> dict:
    from clavis.runtime.llm import LLM

    t0 = time.perf_counter()
    llm = LLM.load(args.gguf, n_ctx=n_ctx(args), threads=args.threads)
    load_s = time.perf_counter() - t0
    # the model answers from here on; its weights move to huge pages in the background (a
    # second or so on the 1B): prefill and decode are measured as they run once that is done
    t0 = time.perf_counter()
    llm.wait_huge_pages()
    huge_s = time.perf_counter() - t0
    ids = prompt_ids(llm.vocab_size, args.prompt, args.seed)
    first = llm.generate(ids, max_tokens=1, temperature=0.0, ignore_eos=True)
    for _ in first:
        pass
    bw0 = read_bandwidth(args.threads)
    # the prompt's K/V stay cached: this call runs the first sampled token, then decodes
    gen = llm.generate(ids + first.tokens, max_tokens=args.gen, temperature=0.0, ignore_eos=True)
    for _ in gen:
        pass
    bw1 = read_bandwidth(args.threads)
    st = gen.stats
    if st.cached_tokens != len(ids):
        raise SystemExit(f"clavis: expected the {len(ids)} prompt tokens to be cached, got {st.cached_tokens}")
    pst = first.stats
    return {"load_s": load_s, "huge_pages_s": huge_s, "huge_page_mb": llm.huge_page_bytes / 2**20,
            "prefill_tok_s": pst.prefill_tok_s, "decode_tok_s": st.decode_tok_s,
            "ttft_s": pst.prompt_tokens / pst.prefill_tok_s, "generated": st.generated_tokens,
            **bw_fields(bw0, bw1)}


def llamacpp_open(args):
    """llama.cpp on the GGUF, set up as both its own run and the paired one use it."""
    import llama_cpp
    return llama_cpp.Llama(model_path=args.gguf, n_ctx=n_ctx(args), n_batch=512, n_ubatch=512,
                           n_threads=args.threads, n_threads_batch=args.threads,
                           logits_all=False, verbose=False, use_mmap=True)


def llamacpp_greedy(llm):
    """A function giving the greedy token after llm's last eval. With logits_all=False
    llama-cpp-python leaves .scores unfilled (and only n_batch rows long): it reads the
    context's logits of the last token directly."""
    import numpy as np   # here, not at the top: an engine's peak RSS carries only what it loads
    n_vocab = llm.n_vocab()
    return lambda: int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))))


def run_llamacpp(args) -> dict:
    t0 = time.perf_counter()
    llm = llamacpp_open(args)
    load_s = time.perf_counter() - t0
    ids = prompt_ids(llm.n_vocab(), args.prompt, args.seed)
    greedy = llamacpp_greedy(llm)
    t0 = time.perf_counter()
    llm.eval(ids)
    t_prefill = time.perf_counter() - t0
    tok = greedy()
    bw0 = read_bandwidth(args.threads)
    t0 = time.perf_counter()
    for _ in range(args.gen):
        llm.eval([tok])
        tok = greedy()
    t_decode = time.perf_counter() - t0
    bw1 = read_bandwidth(args.threads)
    return {"load_s": load_s, "prefill_tok_s": args.prompt / t_prefill,
            "decode_tok_s": args.gen / t_decode, "ttft_s": t_prefill, "generated": args.gen,
            **bw_fields(bw0, bw1)}


TURN_GAP_S = 0.02


def run_paired(args) -> dict:
    """clavis and llama.cpp decoding in turns in one process: the speed ratio of each pair of
    adjacent blocks (the same seconds of the machine), its median and quartiles."""
    import statistics

    import numpy as np
    from clavis.runtime.llm import LLM

    c = LLM.load(args.gguf, n_ctx=n_ctx(args), threads=args.threads)
    c.wait_huge_pages()
    lc = llamacpp_open(args)
    ids = prompt_ids(c.vocab_size, args.prompt, args.seed)
    first = c.generate(ids, max_tokens=1, temperature=0.0, ignore_eos=True)
    for _ in first:
        pass
    lc.eval(ids)
    lc_next = llamacpp_greedy(lc)
    # both feed their own greedy token back, as in their single runs
    c_tok, l_tok = first.tokens[0], lc_next()
    times: dict[str, list[float]] = {"clavis": [], "llamacpp": []}
    blocks = max(1, args.gen // args.block)
    for b in range(blocks):
        for e in (("clavis", "llamacpp") if b % 2 == 0 else ("llamacpp", "clavis")):
            # untimed: the last engine's idle threads stop spinning before the next one's turn
            # (llama.cpp's OpenMP workers spin for ~ms after each token, clavis's pool ~0.3 ms)
            time.sleep(TURN_GAP_S)
            t0 = time.perf_counter()
            for _ in range(args.block):
                if e == "clavis":
                    c_tok = int(np.argmax(c._decode_one(c_tok)))
                else:
                    lc.eval([l_tok])
                    l_tok = lc_next()
            times[e].append((time.perf_counter() - t0) / args.block)
    ratio = [lt / ct for ct, lt in zip(times["clavis"], times["llamacpp"])]
    q1, _, q3 = statistics.quantiles(ratio, n=4) if len(ratio) > 1 else (ratio[0],) * 3
    return {"paired_ratio": statistics.median(ratio), "paired_q1": q1, "paired_q3": q3,
            "paired_blocks": blocks, "paired_block": args.block,
            "clavis_tok_s": 1 / statistics.median(times["clavis"]),
            "llamacpp_tok_s": 1 / statistics.median(times["llamacpp"])}


def run_torch(args) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(args.hf_dir, torch_dtype=torch.bfloat16)
    model.eval()
    load_s = time.perf_counter() - t0
    ids = prompt_ids(model.config.vocab_size, args.prompt, args.seed)
    with torch.inference_mode():
        x = torch.tensor([ids])
        t0 = time.perf_counter()
        out = model(x, use_cache=True)
        t_prefill = time.perf_counter() - t0
        past = out.past_key_values
        tok = out.logits[0, -1].argmax().view(1, 1)
        bw0 = read_bandwidth(args.threads)
        t0 = time.perf_counter()
        for _ in range(args.gen):
            out = model(tok, past_key_values=past, use_cache=True)
            past = out.past_key_values
            tok = out.logits[0, -1].argmax().view(1, 1)
        t_decode = time.perf_counter() - t0
    bw1 = read_bandwidth(args.threads)
    return {"load_s": load_s, "prefill_tok_s": args.prompt / t_prefill,
            "decode_tok_s": args.gen / t_decode, "ttft_s": t_prefill, "generated": args.gen,
            **bw_fields(bw0, bw1)}


ENGINES = {"clavis": run_clavis, "llamacpp": run_llamacpp, "torch": run_torch, "paired": run_paired}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", choices=sorted(ENGINES), required=True)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--hf-dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--block", type=int, default=4, help="tokens per turn with --engine paired")
    args = ap.parse_args()
    if args.engine == "torch" and not args.hf_dir:
        ap.error("--engine torch needs --hf-dir")
    os.environ.setdefault("CLAVIS_NUM_THREADS", str(args.threads))
    res = ENGINES[args.engine](args)
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    res.update(engine=args.engine, threads=args.threads)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
