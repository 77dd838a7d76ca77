"""Voice notes inside a WhatsApp .zip export, transcribed with clavis.runtime.whisper so they
join the digest. The transcript replaces the empty text of the voice message, marked as such."""
from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath


def _members(zf: zipfile.ZipFile) -> dict[str, str]:
    return {PurePosixPath(n).name: n for n in zf.namelist() if not n.endswith("/")}


def transcribe_voice_notes(result, whisper, progress: bool = False, **transcribe_kw) -> list[str]:
    """Fills in the text of the voice messages of `result` (a ParseResult of a WhatsApp .zip, or of
    an export whose media files sit next to it, as Telegram Desktop writes them) using
    `whisper` (a loaded WhisperModel; `transcribe_kw` go to its transcribe()). Returns notes
    about what could not be transcribed."""
    voice = [m for m in result.messages if m.kind == "voice"]
    if not voice:
        return []
    src = Path(result.source or "")
    if zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf:
            names = _members(zf)
            fetch = lambda m: zf.read(names[PurePosixPath(m.attachment).name])  # noqa: E731
            return _run(voice, lambda m: PurePosixPath(m.attachment or "").name in names, fetch,
                        whisper, progress, transcribe_kw)
    # Telegram/Discord/signal exports keep media in files next to the export
    base = src.parent.resolve()

    def found(m) -> bool:  # a file of the export folder, never a path leading out of it
        if not m.attachment:
            return False
        p = (base / m.attachment).resolve()
        return p.is_relative_to(base) and p.is_file()

    if not any(found(m) for m in voice):
        return [f"{len(voice)} voice note(s): their audio is not in this export (export the chat "
                "with media, as a .zip for WhatsApp, to transcribe them)"]
    return _run(voice, found, lambda m: (base / m.attachment).read_bytes(), whisper, progress, transcribe_kw)


def _run(voice, has, fetch, whisper, progress, transcribe_kw) -> list[str]:
    from tqdm import tqdm

    notes, missing = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for m in tqdm(voice, desc="voice notes", unit="note", file=sys.stderr, disable=not progress):
            if not has(m):
                missing += 1
                continue
            path = Path(tmp) / PurePosixPath(m.attachment).name
            path.write_bytes(fetch(m))
            try:
                segments, _info = whisper.transcribe(str(path), **transcribe_kw)
                text = " ".join(s.text.strip() for s in segments).strip()
            except Exception as e:  # one bad file must not sink the digest; say which
                notes.append(f"voice note {m.attachment}: could not be transcribed ({e})")
                continue
            if text:
                m.text = (m.text + "\n" if m.text else "") + f"(voice note) {text}"
    if missing:
        notes.append(f"{missing} voice note(s) have no audio file in the export")
    return notes
