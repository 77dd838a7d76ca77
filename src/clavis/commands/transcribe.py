"""`clavis transcribe FILE...`: speech to text with Whisper on the CPU."""
from __future__ import annotations

import sys
from pathlib import Path

from clavis import ClavisError

FORMATS = ("txt", "srt", "vtt", "tsv", "json")


def add_model_args(p) -> None:
    p.add_argument("-m", "--model", metavar="WHISPER", required=True,
                   help="a Whisper model: a Hugging Face folder (openai/whisper-*, e.g. from "
                        "`clavis pull openai/whisper-base`) or a whisper.cpp ggml .bin file")
    p.add_argument("--quant", choices=("f32", "f16", "q8_0", "q4_0", "keep"), default="q8_0",
                   help="weight type for the matrix products, quantized at load (default: q8_0, "
                        "like faster-whisper's int8; 'keep' uses the file's own types)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--language", default=None,
                   help="language code (en, de, ru, ...); default: detect from the first 30 s")
    p.add_argument("--task", choices=("transcribe", "translate"), default="transcribe",
                   help="transcribe, or translate into English (default: transcribe)")
    p.add_argument("--beam-size", type=int, default=5,
                   help="beam width; 1 is greedy decoding (default: 5)")
    p.add_argument("--temperature", type=float, default=None,
                   help="one fixed sampling temperature (0 = greedy) and no fallback; by default "
                        "0 is tried first and 0.2, 0.4 ... 1.0 when the text looks repetitive or "
                        "improbable")
    p.add_argument("--no-vad", action="store_true",
                   help="decode silent stretches too (by default an energy gate skips them)")


def register(sub) -> None:
    p = sub.add_parser(
        "transcribe", help="transcribe audio files with Whisper (txt, srt, vtt, tsv, json)",
        description="Transcribe voice messages and recordings with a local Whisper model. Reads "
                    ".opus .oga .ogg .m4a .caf .mp3 .wav .flac .webm without a system ffmpeg. "
                    "Prints the transcript, or writes one file per input with --output-dir.",
        epilog="example: clavis transcribe note.opus -m whisper-base --format srt")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files to transcribe")
    add_model_args(p)
    p.add_argument("-f", "--format", choices=FORMATS, default="txt",
                   help="output format (default: txt)")
    p.add_argument("-o", "--output-dir", default=None,
                   help="write FILE.<format> into this folder instead of printing")
    p.add_argument("--timings", action="store_true",
                   help="print where the time went (load, audio, mel, encoder, decoder) to stderr")
    p.set_defaults(func=run)


def load_model(args):
    from clavis.runtime.whisper import WhisperModel
    if args.beam_size < 1:
        raise ClavisError(f"--beam-size must be at least 1, got {args.beam_size}")
    quant = None if args.quant == "keep" else args.quant
    return WhisperModel.load(args.model, quant=quant, threads=args.threads)


def temperature_kwargs(args) -> dict:
    t = getattr(args, "temperature", None)
    if t is None:
        return {}
    if not 0.0 <= t <= 2.0:
        raise ClavisError(f"--temperature must be between 0 and 2, got {t}")
    return {"temperature": (t,)}


def transcribe_file(model, path, args, progress=None):
    """All segments of one file (a progress bar over audio seconds) and the info object."""
    segments, info = model.transcribe(str(path), language=args.language, task=args.task,
                                      beam_size=args.beam_size, vad_filter=not args.no_vad,
                                      **temperature_kwargs(args))
    out = []
    bar = progress(total=round(info.duration, 1), unit="s", desc=Path(path).name, leave=False,
                   file=sys.stderr) if progress else None
    for s in segments:
        out.append(s)
        if bar is not None:
            bar.update(round(min(s.end, info.duration) - bar.n, 1))
    if bar is not None:
        bar.close()
    return out, info


def print_timings(info, n_segments: int) -> None:
    t = info.timings
    steps = max(int(t.get("decode_tokens", 0)), 1)
    print(f"timings: load {t.get('load', 0):.2f} s | audio decode {t.get('audio_decode', 0):.2f} s "
          f"| log-mel {t.get('mel', 0):.2f} s | language {t.get('language', 0):.2f} s | encoder "
          f"{t.get('encode', 0):.2f} s | decoder {t.get('decode', 0):.2f} s "
          f"({steps} steps, {1000 * t.get('decode', 0) / steps:.1f} ms/step) | "
          f"{n_segments} segments, {info.duration:.1f} s of audio", file=sys.stderr)


def run(args) -> int:
    from tqdm import tqdm

    from clavis.runtime.transcript_io import render
    files = [Path(f) for f in args.files]
    for f in files:
        if not f.is_file():
            raise ClavisError(f"{f}: no such audio file")
    model = load_model(args)
    outdir = Path(args.output_dir) if args.output_dir else None
    if outdir:
        outdir.mkdir(parents=True, exist_ok=True)
    for f in files:
        segs, info = transcribe_file(model, f, args, progress=tqdm)
        text = render(args.format, segs, info)
        lang = f"{info.language} ({info.language_probability:.2f})" if info.language else "-"
        print(f"{f}: language {lang}, {len(segs)} segments", file=sys.stderr)
        if args.timings:
            print_timings(info, len(segs))
        if outdir:
            dest = outdir / f"{f.stem}.{args.format}"
            dest.write_text(text, encoding="utf-8")
            print(f"wrote {dest}", file=sys.stderr)
        else:
            if len(files) > 1 and args.format == "txt":
                print(f"== {f}")
            sys.stdout.write(text)
    return 0
