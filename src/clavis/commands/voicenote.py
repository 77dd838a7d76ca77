"""`clavis voicenote FILE_OR_FOLDER...`: transcript + a bullet summary tied to the recording."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from clavis import ClavisError
from clavis.commands.transcribe import add_model_args, load_model, temperature_kwargs

AUDIO_EXT = (".opus", ".oga", ".ogg", ".m4a", ".mp4", ".caf", ".mp3", ".wav", ".flac", ".webm",
             ".aac", ".amr", ".mka")


def register(sub) -> None:
    p = sub.add_parser(
        "voicenote", help="summarise voice messages; every bullet cites its time span",
        description="Transcribe voice messages with a local Whisper model and summarise them in "
                    "bullet points. Every bullet cites the time span(s) of the transcript segments "
                    "it rests on, e.g. [00:12–00:19], and the transcript follows the bullets so "
                    "each point can be checked. Without --llm the summary is extractive (key "
                    "sentences, no model) and says so. A folder is searched for audio files.",
        epilog="example: clavis voicenote ~/Downloads/voice-notes/ -m whisper-base --llm "
               "qwen2.5-0.5b-instruct-q4_0.gguf")
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_FOLDER",
                   help="voice messages, or folders holding them")
    add_model_args(p)
    p.add_argument("--llm", metavar="MODEL", default=None,
                   help="an LLM (GGUF file or HF folder) that writes the bullets; default: "
                        "extractive summary without a model")
    p.add_argument("--format", choices=("md", "json"), default="md",
                   help="markdown for reading, or one JSON object per note (default: md)")
    p.add_argument("--bullets", type=int, default=5, help="at most this many bullets (default: 5)")
    p.add_argument("-o", "--output-dir", default=None,
                   help="write NOTE.md / NOTE.json per note into this folder instead of printing")
    p.set_defaults(func=run)


def collect(inputs) -> list[Path]:
    files: list[Path] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXT)
            if not found:
                raise ClavisError(f"{p}: no audio files ({' '.join(AUDIO_EXT)}) in this folder")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise ClavisError(f"{p}: no such file or folder")
    return files


def run(args) -> int:
    from tqdm import tqdm

    from clavis.apps.voicenote import voicenote
    if args.bullets < 1:
        raise ClavisError(f"--bullets must be at least 1, got {args.bullets}")
    files = collect(args.inputs)
    whisper = load_model(args)
    llm = None
    if args.llm:
        from clavis.runtime.llm import LLM
        llm = LLM.load(args.llm, threads=args.threads)
    outdir = Path(args.output_dir) if args.output_dir else None
    if outdir:
        outdir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(files, desc="voice notes", unit="note", file=sys.stderr,
               disable=len(files) < 2)
    failed = 0
    for f in bar:
        try:
            note = voicenote(f, whisper, llm=llm, language=args.language, beam_size=args.beam_size,
                             max_bullets=args.bullets, task=args.task,
                             vad_filter=not args.no_vad, **temperature_kwargs(args))
        except ClavisError as e:
            if len(files) == 1:
                raise
            failed += 1
            tqdm.write(f"clavis: error: {e}", file=sys.stderr)
            continue
        text = (note.to_markdown() if args.format == "md"
                else json.dumps(note.to_dict(), ensure_ascii=False, indent=2) + "\n")
        if outdir:
            dest = outdir / f"{f.stem}.{args.format}"
            dest.write_text(text, encoding="utf-8")
            tqdm.write(f"wrote {dest}", file=sys.stderr)
        else:
            tqdm.write(text, file=sys.stdout)
    if failed:
        print(f"clavis: {failed} of {len(files)} notes failed", file=sys.stderr)
        return 1
    return 0
