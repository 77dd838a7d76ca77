"""OpenAI response objects and server-sent events, plus the JSON-mode helpers."""
from __future__ import annotations

import json
import time
import uuid

import anyio
from starlette.responses import StreamingResponse

JSON_INSTRUCTION = ("Reply with exactly one JSON object and nothing else: no prose, no code fences.")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def chat_completion(cid, model, text, finish, use, extra=None) -> dict:
    out = {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
           "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                        "logprobs": None, "finish_reason": finish}],
           "usage": use, "system_fingerprint": "clavis"}
    if extra:
        out["clavis"] = extra
    return out


def chat_chunk(cid, model, delta=None, finish=None, use=None, extra=None) -> dict:
    out = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
           "model": model, "system_fingerprint": "clavis",
           "choices": [] if use is not None else
           [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}]}
    if use is not None:
        out["usage"] = use
    if extra:
        out["clavis"] = extra
    return out


def text_completion(cid, model, text, finish, use=None, stream=False) -> dict:
    out = {"id": cid, "object": "text_completion", "created": int(time.time()), "model": model,
           "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}]}
    if use is not None:
        out["usage"] = use
    if stream and use is not None and not text and finish is None:
        out["choices"] = []
    return out


def sse(obj) -> bytes:
    if obj == "[DONE]":
        return b"data: [DONE]\n\n"
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"


class EventStream(StreamingResponse):
    """A streaming response that watches for the client going away, whatever the ASGI version,
    and always calls `on_close` when it ends (normally, by disconnect, or by error)."""

    def __init__(self, content, on_close, headers=None):
        super().__init__(content, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                                  **(headers or {})})
        self.on_close = on_close

    async def __call__(self, scope, receive, send):
        try:
            async with anyio.create_task_group() as tg:
                async def stream():
                    try:
                        await self.stream_response(send)
                    except OSError:
                        pass
                    tg.cancel_scope.cancel()

                async def listen():
                    await self.listen_for_disconnect(receive)
                    tg.cancel_scope.cancel()

                tg.start_soon(stream)
                tg.start_soon(listen)
        finally:
            self.on_close()


def extract_json_object(text: str) -> dict | None:
    """The first complete JSON object in `text` (models like to wrap it in prose or fences)."""
    dec = json.JSONDecoder()
    i = text.find("{")
    while i != -1:
        try:
            obj, _ = dec.raw_decode(text, i)
            if isinstance(obj, dict):
                return obj
        except json.JSONDecodeError:
            pass
        i = text.find("{", i + 1)
    return None


def with_json_instruction(messages: list[dict]) -> list[dict]:
    if messages and messages[0]["role"] == "system":
        first = dict(messages[0], content=messages[0]["content"] + "\n" + JSON_INSTRUCTION)
        return [first] + messages[1:]
    return [{"role": "system", "content": JSON_INSTRUCTION}] + messages
