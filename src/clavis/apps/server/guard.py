"""ASGI middleware in front of every route: API-key check and request-body size limit.

Both answer before any route runs (and before a large body is read into memory). The key is
compared with hmac.compare_digest. The page (`/`, `/static/...`) and `/health` are public: they
hold no data, and the page asks the user for the key.
"""
from __future__ import annotations

import hmac
import json

PUBLIC = ("/", "/health", "/favicon.ico")


async def _send_error(send, status: int, message: str, code: str, headers=()) -> None:
    kind = "authentication_error" if status == 401 else "invalid_request_error"
    body = json.dumps({"error": {"message": message, "type": kind, "param": None,
                                 "code": code}}).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    hdrs += [(k.encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class Guard:
    def __init__(self, app, api_key: str | None, max_body: int):
        self.app, self.api_key, self.max_body = app, api_key, max_body

    def _authorized(self, scope) -> bool:
        if not self.api_key:
            return True
        path = scope.get("path", "")
        if path in PUBLIC or path.startswith("/static/"):
            return True
        auth = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(),
                                                                  self.api_key.encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self._authorized(scope):
            await _drain(receive)
            return await _send_error(send, 401, "missing or wrong API key: send the header "
                                     "'Authorization: Bearer KEY' (clavis serve --api-key)",
                                     "invalid_api_key", [("www-authenticate", "Bearer")])
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_body
            except ValueError:
                return await _send_error(send, 400, "bad Content-Length header", "invalid_value")
            if too_big:
                await _drain(receive)
                return await _send_error(send, 413, self._too_big_msg(), "request_too_large")
        if length is not None:
            return await self.app(scope, receive, send)
        # No Content-Length (chunked): read the body here, up to the limit, then replay it.
        chunks, seen = [], 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":
                return                                   # the client went away
            chunks.append(msg.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_body:
                if msg.get("more_body"):
                    await _drain(receive)
                return await _send_error(send, 413, self._too_big_msg(), "request_too_large")
            if not msg.get("more_body"):
                break
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay_receive():
            return replay.pop() if replay else await receive()

        await self.app(scope, replay_receive, send)

    def _too_big_msg(self) -> str:
        return (f"request body larger than the limit of {self.max_body} bytes "
                "(clavis serve --max-body-mb)")


DRAIN_LIMIT = 64 << 20


async def _drain(receive, limit: int = DRAIN_LIMIT) -> None:
    """Read and discard a refused request's body (up to `limit` bytes) BEFORE answering, so a
    client still sending gets our 4xx instead of a connection reset from unread data on close
    (once the response is complete the server stops delivering the body)."""
    seen = 0
    while seen <= limit:
        msg = await receive()
        if msg["type"] != "http.request":
            return
        seen += len(msg.get("body", b""))
        if not msg.get("more_body"):
            return
