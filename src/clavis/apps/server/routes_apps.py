"""/health, /v1/audio/transcriptions, /v1/voicenote, /v1/digest and the web page."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import time
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from clavis import ClavisError
from clavis.apps.server.errors import APIError
from clavis.apps.server.routes_llm import lane_of, state_of
from clavis.apps.server.runner import run_blocking

router = APIRouter()

AUDIO_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
STATIC = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}


@router.get("/health")
async def health(request: Request):
    st = state_of(request)
    return {"status": "ok", "uptime_s": round(time.time() - st.started, 1),
            "models": {"llm": st.engines.llm_name, "whisper": st.engines.whisper_name},
            "queues": {"llm": st.llm_queue.snapshot(), "whisper": st.whisper_queue.snapshot()},
            "privacy": st.config.privacy}


def _static(name: str) -> bytes:
    return resources.files("clavis.apps.server").joinpath("static", name).read_bytes()


@router.get("/", response_class=HTMLResponse)
async def page():
    return HTMLResponse(_static("index.html"))


@router.get("/static/{name}")
async def static(name: str):
    if name not in STATIC:
        raise APIError(404, f"no static file {name!r}")
    return Response(_static(name), media_type=STATIC[name])


async def _form(request: Request):
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise APIError(415, "send multipart/form-data with a 'file' field", param="file")
    try:
        return await request.form()
    except Exception as e:  # noqa: BLE001 - a malformed body is the client's error
        raise APIError(400, f"could not read the multipart body: {e}") from None


class Upload:
    """An uploaded file saved to a private temporary path; errors name the client's file name."""

    def __init__(self, path: Path, filename: str):
        self.path, self.filename = path, filename

    def __str__(self):
        return str(self.path)

    def unlink(self, missing_ok=True):
        self.path.unlink(missing_ok=missing_ok)
        try:
            self.path.parent.rmdir()
        except OSError:
            pass

    def clean(self, e: Exception) -> APIError:
        return APIError(400, str(e).replace(str(self.path), repr(self.filename)), param="file")


async def _save_upload(form, field: str = "file") -> Upload:
    up = form.get(field)
    if up is None or isinstance(up, str) or not hasattr(up, "read"):
        raise APIError(400, f"multipart field '{field}' (a file) is required", param=field)
    data = await up.read()
    if not data:
        raise APIError(400, f"the uploaded file '{up.filename}' is empty", param=field)
    # Keep the client's file name (results quote it, parsers look at the extension), made safe.
    name = re.sub(r"[^\w.\- ]+", "_", Path(up.filename or "upload").name).strip(". ")[:120] or "upload"
    path = Path(tempfile.mkdtemp(prefix="clavis-upload-")) / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Upload(path, up.filename or "upload")


def _text_field(form, name: str, default=None, choices=None):
    v = form.get(name, default)
    if v is not None and not isinstance(v, str):
        raise APIError(400, f"field '{name}' must be text", param=name)
    if v is not None and choices and v not in choices:
        raise APIError(400, f"{name} must be one of {', '.join(choices)}; got {v!r}", param=name)
    return v


def _int_field(form, name: str, default: int, lo: int, hi: int) -> int:
    v = _text_field(form, name)
    if v in (None, ""):
        return default
    try:
        n = int(v)
    except ValueError:
        n = None
    if n is None or not lo <= n <= hi:
        raise APIError(400, f"{name} must be an integer in {lo}..{hi}; got {v!r}", param=name)
    return n


def _temperature(v: str | None) -> float:
    try:
        t = float(v) if v not in (None, "") else 0.0
    except ValueError:
        raise APIError(400, f"temperature must be a number in 0..1; got {v!r}",
                       param="temperature") from None
    if not 0.0 <= t <= 1.0:
        raise APIError(400, f"temperature must be in 0..1; got {t}", param="temperature")
    return t


def _ts(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def format_transcript(segments, info, fmt: str):
    text = "".join(s.text for s in segments).strip()
    if fmt == "json":
        return JSONResponse({"text": text})
    if fmt == "text":
        return PlainTextResponse(text + "\n")
    if fmt in ("srt", "vtt"):
        sep = "," if fmt == "srt" else "."
        blocks = []
        for i, s in enumerate(segments, 1):
            head = f"{i}\n" if fmt == "srt" else ""
            blocks.append(f"{head}{_ts(s.start, sep)} --> {_ts(s.end, sep)}\n{s.text.strip()}\n")
        body = ("WEBVTT\n\n" if fmt == "vtt" else "") + "\n".join(blocks)
        return PlainTextResponse(body, media_type="text/vtt" if fmt == "vtt" else "text/plain")
    return JSONResponse({
        "task": getattr(info, "task", "transcribe"), "language": info.language,
        "duration": info.duration, "text": text,
        "segments": [{"id": s.id, "seek": getattr(s, "seek", 0), "start": s.start, "end": s.end,
                      "text": s.text, "tokens": list(s.tokens),
                      "temperature": getattr(s, "temperature", 0.0), "avg_logprob": s.avg_logprob,
                      "compression_ratio": s.compression_ratio,
                      "no_speech_prob": s.no_speech_prob} for s in segments]})


@router.post("/v1/audio/transcriptions")
async def transcriptions(request: Request):
    st = state_of(request)
    form = await _form(request)
    fmt = _text_field(form, "response_format", "json", AUDIO_FORMATS)
    language = _text_field(form, "language") or None
    prompt = _text_field(form, "prompt") or None
    _text_field(form, "model", "whisper-1")
    temperature = _temperature(_text_field(form, "temperature"))
    whisper = st.need_whisper()
    path = await _save_upload(form)
    # OpenAI's meaning: temperature 0 (the default) = start greedy and raise the temperature when
    # a window fails the quality checks; a temperature above 0 = decode at exactly that one.
    temps = {"temperature": (temperature,)} if temperature > 0 else {}

    def work():
        segments, info = whisper.transcribe(str(path), language=language, initial_prompt=prompt,
                                            **temps)
        return list(segments), info

    try:
        segments, info = await run_blocking([st.whisper_queue], lane_of(request), request, work)
    except ClavisError as e:
        raise path.clean(e) from None
    finally:
        path.unlink(missing_ok=True)
    return format_transcript(segments, info, fmt)


@router.post("/v1/voicenote")
async def voicenote(request: Request):
    """A voice note in; transcript + summary bullets (each tied to the transcript) out."""
    st = state_of(request)
    form = await _form(request)
    whisper = st.need_whisper()
    try:
        from clavis.apps.voicenote import voicenote as make_note
    except ImportError:
        raise APIError(501, "voice notes are not available in this build") from None
    opts = {"language": _text_field(form, "language") or None,
            "beam_size": _int_field(form, "beam_size", 5, 1, 10)}
    temperature = _temperature(_text_field(form, "temperature"))
    if temperature > 0:
        opts["temperature"] = (temperature,)
    path = await _save_upload(form)
    llm = st.engines.llm
    queues = [st.whisper_queue] + ([st.llm_queue] if llm is not None else [])
    try:
        note = await run_blocking(queues, lane_of(request), request,
                                  lambda: make_note(str(path), whisper, llm=llm, **opts))
    except ClavisError as e:
        raise path.clean(e) from None
    finally:
        path.unlink(missing_ok=True)
    return {"object": "clavis.voicenote", **_jsonable(note.to_dict()),
            "markdown": note.to_markdown()}


def _since(value: str | None):
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise APIError(400, f"since must be an ISO date or date-time such as 2024-05-01 or "
                            f"2024-05-01T18:00; got {value!r}", param="since") from None


@router.post("/v1/digest")
async def digest(request: Request):
    """A group-chat export in (WhatsApp, Telegram, ...); the digest of what you missed out."""
    st = state_of(request)
    form = await _form(request)
    me = _text_field(form, "me") or None
    since = _since(_text_field(form, "since"))
    try:
        from clavis.apps.chats import parse
        from clavis.apps.digest import digest as make_digest
    except ImportError:
        raise APIError(501, "chat digests are not available in this build") from None
    path = await _save_upload(form)
    llm = st.engines.llm

    def work():
        parsed = parse(path.path)
        if not parsed.messages:
            raise APIError(400, f"no chat messages found in the upload (format {parsed.format!r}, "
                                f"{len(parsed.errors)} unparsed lines)", param="file")
        d = make_digest(parsed.messages, me=me, since=since, llm=llm)
        return parsed, d

    try:
        parsed, d = await run_blocking([st.llm_queue] if llm is not None else [], lane_of(request),
                                       request, work)
    except ClavisError as e:
        raise path.clean(e) from None
    finally:
        path.unlink(missing_ok=True)
    return {"object": "clavis.digest", "format": parsed.format, "messages": len(parsed.messages),
            "unparsed_lines": len(parsed.errors), "digest": _jsonable(d.to_dict()),
            "markdown": d.to_markdown()}


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str, ensure_ascii=False))
