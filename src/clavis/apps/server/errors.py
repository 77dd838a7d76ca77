"""OpenAI-style error bodies: {"error": {"message", "type", "param", "code"}}, never a traceback."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from clavis import ClavisError

log = logging.getLogger("clavis.server")

TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
         405: "invalid_request_error", 413: "invalid_request_error", 415: "invalid_request_error",
         422: "invalid_request_error", 429: "rate_limit_error", 503: "server_busy",
         500: "server_error"}


class APIError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None,
                 code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.headers = headers or {}


def error_body(status: int, message: str, param=None, code=None) -> dict:
    return {"error": {"message": message, "type": TYPES.get(status, "invalid_request_error"),
                      "param": param, "code": code}}


def error_response(status: int, message: str, param=None, code=None, headers=None) -> JSONResponse:
    return JSONResponse(error_body(status, message, param, code), status_code=status,
                        headers=headers or {})


def context_error(n_prompt: int, n_ctx: int) -> APIError:
    return APIError(400, f"This model's maximum context length is {n_ctx} tokens, but the prompt "
                         f"has {n_prompt} tokens. Shorten the prompt (nothing was truncated).",
                    param="messages", code="context_length_exceeded")


def _loc(err: dict) -> str:
    parts = [str(p) for p in err.get("loc", ()) if p != "body"]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api(_req: Request, e: APIError):
        return error_response(e.status, e.message, e.param, e.code, e.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, e: RequestValidationError):
        errs = e.errors()
        bad_json = [x for x in errs if x.get("type") == "json_invalid"]
        if bad_json:
            where = (bad_json[0].get("ctx") or {}).get("error", "")
            return error_response(400, f"the request body is not valid JSON ({where or 'parse error'}"
                                       f" at position {_loc(bad_json[0])}); send a JSON object",
                                  code="invalid_json")
        first = errs[0] if errs else {"loc": ("body",), "msg": "invalid request"}
        msg = "; ".join(f"{_loc(x)}: {x.get('msg')}" for x in errs[:5]) or "invalid request body"
        return error_response(400, msg, param=_loc(first), code="invalid_value")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, e: StarletteHTTPException):
        return error_response(e.status_code, str(e.detail), headers=getattr(e, "headers", None))

    @app.exception_handler(ClavisError)
    async def _clavis(_req: Request, e: ClavisError):
        n_prompt, n_ctx = getattr(e, "n_prompt", None), getattr(e, "n_ctx", None)
        if n_prompt is not None and n_ctx is not None:
            err = context_error(n_prompt, n_ctx)
            return error_response(400, err.message, err.param, err.code)
        return error_response(400, str(e))

    from clavis.apps.server.fairq import QueueFull
    from clavis.apps.server.runner import ClientGone

    @app.exception_handler(QueueFull)
    async def _full(_req: Request, e: QueueFull):
        return error_response(503, str(e), code="queue_full",
                              headers={"Retry-After": str(e.retry_after)})

    @app.exception_handler(ClientGone)
    async def _gone(_req: Request, e: ClientGone):
        return error_response(400, "client closed the request", code="client_closed")

    @app.exception_handler(Exception)
    async def _internal(_req: Request, e: Exception):
        log.exception("internal error")
        return error_response(500, f"internal server error ({type(e).__name__}); see the server log")
