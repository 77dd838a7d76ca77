"""Whisper side by side: clavis vs faster-whisper (CTranslate2 int8) on the same random weights.

A random-weight whisper-base (exact shapes, `clavis make-model whisper-base`) is converted with
CTranslate2's own converter (int8); both engines then time
  - the encoder on one 30-s window (log-mel of shared/data/audio/jfk.flac padded to 30 s),
  - the decoder per token (greedy, the end-of-text token suppressed so both decode N tokens),
at each thread count, median of --reps runs. clavis uses q8_0 weights (its int8 path).
Speed on random weights is the speed on real ones.

    python bench/whisper_peers.py [--shape whisper-base] [--threads 1,2] [--reps 3] [--tokens 64]

Writes bench/whisper_peers.md and prints the same table.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "models"
AUDIO = ROOT.parent / "shared" / "data" / "audio" / "jfk.flac"


def prepare(shape: str) -> tuple[Path, Path]:
    hf = CACHE / f"{shape}-hf"
    ct2 = CACHE / f"{shape}-ct2-int8"
    if not (hf / "generation_config.json").exists():
        print(f"making {hf} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "clavis", "make-model", shape, "-o", str(hf)], check=True)
    if not (ct2 / "model.bin").exists():
        conv = shutil.which("ct2-transformers-converter") or str(Path(sys.executable).parent /
                                                                "ct2-transformers-converter")
        print(f"converting to CTranslate2 int8: {ct2} ...", file=sys.stderr)
        subprocess.run([conv, "--model", str(hf), "--output_dir", str(ct2), "--quantization", "int8",
                        "--copy_files", "tokenizer.json", "preprocessor_config.json", "--force"],
                       check=True)
    return hf, ct2


def median_time(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_clavis(hf: Path, mel: np.ndarray, threads: int, reps: int, n_tok: int) -> dict:
    from clavis import kernels
    from clavis.runtime.whisper import WhisperModel
    kernels.set_num_threads(threads)
    m = WhisperModel.load(hf, quant="q8_0")
    model, tok = m.model, m.tokenizer
    enc_s = median_time(lambda: model.encode(mel), reps)
    enc = model.encode(mel)
    prompt = tok.sot_sequence("en", "transcribe") + [tok.no_timestamps]

    def decode(n):
        st = model.new_state(enc)
        logits = model.decode([prompt], st)[0, -1]
        for _ in range(n - 1):
            logits[tok.eot] = -np.inf
            logits = model.decode([[int(np.argmax(logits))]], st)[0, -1]

    t_n = median_time(lambda: decode(n_tok), reps)
    t_1 = median_time(lambda: decode(1), reps)
    return {"encoder_s": enc_s, "token_ms": 1000 * (t_n - t_1) / (n_tok - 1)}


def bench_faster_whisper(ct2: Path, mel: np.ndarray, threads: int, reps: int, n_tok: int) -> dict:
    import ctranslate2
    from faster_whisper import WhisperModel
    fw = WhisperModel(str(ct2), device="cpu", compute_type="int8", cpu_threads=threads,
                      num_workers=1)
    feats = mel[None].astype(np.float32)
    enc_s = median_time(lambda: fw.model.encode(ctranslate2.StorageView.from_array(feats),
                                                to_cpu=False), reps)
    enc = fw.model.encode(ctranslate2.StorageView.from_array(feats), to_cpu=False)
    prompt = [50258, 50259, 50359, 50363]

    def decode(n):
        fw.model.generate(enc, [prompt], beam_size=1, max_length=len(prompt) + n,
                          suppress_blank=False, suppress_tokens=[50257])

    t_n = median_time(lambda: decode(n_tok), reps)
    t_1 = median_time(lambda: decode(1), reps)
    return {"encoder_s": enc_s, "token_ms": 1000 * (t_n - t_1) / (n_tok - 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="whisper-base", choices=["whisper-tiny", "whisper-base",
                                                                "whisper-small"])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--engines", default="clavis,faster-whisper")
    a = ap.parse_args(argv)
    from clavis.audio.decode import load_audio, pad_or_trim
    from clavis.audio.mel import N_SAMPLES, log_mel_spectrogram
    hf, ct2 = prepare(a.shape)
    mel = log_mel_spectrogram(pad_or_trim(load_audio(AUDIO), N_SAMPLES), 80)
    rows = []
    for t in [int(x) for x in a.threads.split(",")]:
        for eng in a.engines.split(","):
            fn = bench_clavis if eng == "clavis" else bench_faster_whisper
            r = fn(hf if eng == "clavis" else ct2, mel, t, a.reps, a.tokens)
            rows.append((eng, t, r))
            print(f"{eng:15s} threads={t}  encoder 30 s: {r['encoder_s']:.3f} s  "
                  f"decode: {r['token_ms']:.1f} ms/token", file=sys.stderr, flush=True)
    lines = [f"## Whisper: clavis vs faster-whisper ({a.shape}, random weights, "
             f"{_dt.date.today()}, {platform.machine()})", "",
             "clavis: q8_0 weights; faster-whisper: CTranslate2 int8 (same weights, converted by "
             "ct2-transformers-converter). Encoder: one 30-s window. Decode: greedy, per token, "
             f"{a.tokens} tokens, median of {a.reps}.", "",
             "| engine | threads | encoder 30 s (s) | decode (ms/token) | encoder vs faster-whisper |",
             "| --- | --- | --- | --- | --- |"]
    for eng, t, r in rows:
        ref = next((x for e, tt, x in rows if e == "faster-whisper" and tt == t), None)
        ratio = f"{r['encoder_s'] / ref['encoder_s']:.2f}x" if ref else "-"
        lines.append(f"| {eng} | {t} | {r['encoder_s']:.3f} | {r['token_ms']:.1f} | {ratio} |")
    text = "\n".join(lines) + "\n"
    (ROOT / "bench" / "whisper_peers.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
