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
    """Fills in the text of the voice messages of `result` (a ParseResult from a .zip) using
    `whisper` (a loaded WhisperModel; `transcribe_kw` go to its transcribe()). Returns notes
    about what could not be transcribed."""
    from tqdm import tqdm

    voice = [m for m in result.messages if m.kind == "voice"]
    if not voice:
        return []
    src = Path(result.source or "")
    if not zipfile.is_zipfile(src):
        return [f"{len(voice)} voice note(s): their audio is not in this export (export the chat "
                "'with media' as a .zip to transcribe them)"]
    notes, missing = [], 0
    with zipfile.ZipFile(src) as zf, tempfile.TemporaryDirectory() as tmp:
        names = _members(zf)
        for m in tqdm(voice, desc="voice notes", unit="note", file=sys.stderr, disable=not progress):
            member = names.get(PurePosixPath(m.attachment or "").name)
            if member is None:
                missing += 1
                continue
            path = Path(tmp) / PurePosixPath(member).name
            path.write_bytes(zf.read(member))
            try:
                segments, _info = whisper.transcribe(str(path), **transcribe_kw)
                text = " ".join(s.text.strip() for s in segments).strip()
            except Exception as e:  # one bad file must not sink the digest; say which
                notes.append(f"voice note {m.attachment}: could not be transcribed ({e})")
                continue
            if text:
                m.text = (m.text + "\n" if m.text else "") + f"(voice note) {text}"
    if missing:
        notes.append(f"{missing} voice note(s) have no audio file in the archive")
    return notes
