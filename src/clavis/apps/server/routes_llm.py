"""/v1/models, /v1/chat/completions, /v1/completions (and model "auto": the router)."""
from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Request

from clavis.apps.router.remote import RemoteError
from clavis.apps.server import shapes
from clavis.apps.server.errors import APIError, context_error
from clavis.apps.server.fairq import QueueFull
from clavis.apps.server.runner import ClientGone, Run, acquire
from clavis.apps.server.schemas import ChatRequest, CompletionRequest, Sampling

router = APIRouter()


def state_of(request: Request):
    return request.app.state.clavis


def lane_of(request: Request, body: Sampling | None = None) -> str:
    if body is not None and body.user:
        return "user:" + body.user
    return "addr:" + (request.client.host if request.client else "?")


@router.get("/v1/models")
async def list_models(request: Request):
    st = state_of(request)
    e = st.engines
    kinds = {e.llm_name: "llm", "auto": "router", e.whisper_name: "speech"}
    return {"object": "list", "data": [
        {"id": n, "object": "model", "created": e.created, "owned_by": "clavis", "kind": kinds[n]}
        for n in st.model_names() if n]}


def _messages(body: ChatRequest) -> list[dict]:
    out = []
    for i, m in enumerate(body.messages):
        try:
            text = m.text()
        except ValueError as e:
            raise APIError(400, str(e), param=f"messages.{i}.content") from None
        msg = {"role": "system" if m.role == "developer" else m.role, "content": text}
        if m.name:
            msg["name"] = m.name
        out.append(msg)
    return out


def _budget(st, llm, n_prompt: int, body: Sampling) -> int:
    n_ctx = int(llm.n_ctx)
    if n_prompt >= n_ctx:
        raise context_error(n_prompt, n_ctx)
    room = n_ctx - n_prompt
    want = body.limit() or st.config.default_max_tokens
    return max(1, min(want, room))     # beyond the context the answer ends with finish "length"


def _sampling(body: Sampling, max_tokens: int, seed=None) -> dict:
    return dict(max_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p,
                seed=body.seed if seed is None else seed, stop=tuple(body.stop or ()),
                ignore_eos=body.ignore_eos)


async def _start(request, st, body, make) -> tuple[Run, tuple]:
    """Queue, start the generation, wait for its first event (so errors become 4xx)."""
    try:
        ticket = await acquire(st.llm_queue, lane_of(request, body), request)
    except QueueFull as e:
        raise APIError(503, str(e), code="queue_full",
                       headers={"Retry-After": str(e.retry_after)}) from None
    except ClientGone:
        raise APIError(499, "client closed the request") from None
    run = Run(make, st.llm_queue, ticket).start()
    try:
        first = await _next(run, request)
    except BaseException:
        run.cancel()
        raise
    if first[0] == "error":
        _raise(first[1])
    return run, first


def _raise(e: BaseException):
    if hasattr(e, "n_prompt") and hasattr(e, "n_ctx"):
        raise context_error(e.n_prompt, e.n_ctx)
    raise e


async def _next(run: Run, request) -> tuple:
    """The next event; raises ClientGone if the client disconnects meanwhile (checked at least
    every half second, also while pieces keep coming)."""
    while True:
        now = asyncio.get_running_loop().time()
        if request is not None and now - run.checked > 0.5:
            run.checked = now
            if await request.is_disconnected():
                run.cancel()
                raise ClientGone()
        try:
            return await asyncio.wait_for(run.next(), timeout=0.5)
        except asyncio.TimeoutError:
            continue


async def _collect(run: Run, first: tuple, request) -> tuple[str, object]:
    pieces, ev = [], first
    try:
        while True:
            kind, val = ev
            if kind == "piece":
                pieces.append(val)
            elif kind == "done":
                return "".join(pieces), val
            else:
                _raise(val)
            ev = await _next(run, request)
    except BaseException:
        run.cancel()
        raise


def _finish(stats) -> str:
    return getattr(stats, "finish_reason", None) or "stop"


def _usage(stats, n_prompt: int) -> dict:
    return shapes.usage(getattr(stats, "prompt_tokens", n_prompt) or n_prompt,
                        getattr(stats, "generated_tokens", 0) or 0)


@router.post("/v1/chat/completions")
async def chat_completions(request: Request, body: ChatRequest):
    st = state_of(request)
    messages = _messages(body)
    route = None
    if body.model == "auto":
        plan = st.router.plan(messages)
        route = {"route": plan.route, "action": plan.action, "why": plan.why}
        if plan.action != "local-llm":
            text = plan.text
            if plan.action == "remote":
                try:
                    text = await asyncio.to_thread(st.router.call_remote, plan, body.limit() or 512)
                except RemoteError as e:
                    raise APIError(502, str(e), code="remote_failed") from None
            return _canned(body, text, route)
    llm = st.need_llm(body.model)
    json_mode = body.response_format is not None and body.response_format.type == "json_object"
    if json_mode:
        messages = shapes.with_json_instruction(messages)
    n_prompt = len(llm.chat_ids(messages))
    max_tokens = _budget(st, llm, n_prompt, body)
    model = body.model if body.model != "auto" else st.engines.llm_name
    if json_mode:
        return await _json_chat(request, st, llm, body, messages, max_tokens, n_prompt, model, route)
    run, first = await _start(request, st, body,
                              lambda: llm.chat(messages, **_sampling(body, max_tokens)))
    cid = shapes.new_id("chatcmpl")
    if not body.stream:
        text, stats = await _collect(run, first, request)
        return shapes.chat_completion(cid, model, text, _finish(stats), _usage(stats, n_prompt), route)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    async def events():
        yield shapes.sse(shapes.chat_chunk(cid, model, {"role": "assistant", "content": ""},
                                           extra=route))
        ev = first
        while True:
            kind, val = ev
            if kind == "piece":
                yield shapes.sse(shapes.chat_chunk(cid, model, {"content": val}))
            elif kind == "done":
                yield shapes.sse(shapes.chat_chunk(cid, model, {}, _finish(val)))
                if include_usage:
                    yield shapes.sse(shapes.chat_chunk(cid, model, use=_usage(val, n_prompt)))
                break
            else:
                yield shapes.sse({"error": {"message": f"generation failed: {val}",
                                            "type": "server_error"}})
                break
            ev = await run.next()
        yield shapes.sse("[DONE]")

    return shapes.EventStream(events(), on_close=run.cancel)


async def _json_chat(request, st, llm, body, messages, max_tokens, n_prompt, model, route):
    """response_format json_object: ask for JSON, take the first complete JSON object in the
    reply; if there is none, retry once with another seed; if that fails too, wrap the text as
    {"text": ...} so the content is always a JSON object. `clavis.json_mode` says which."""
    generated, text, stats = 0, "", None
    seeds = [body.seed, (body.seed or 0) + 1]
    obj, how = None, "wrapped"
    for attempt, seed in enumerate(seeds):
        run, first = await _start(request, st, body,
                                  lambda s=seed: llm.chat(messages, **_sampling(body, max_tokens, s)))
        text, stats = await _collect(run, first, request)
        generated += getattr(stats, "generated_tokens", 0) or 0
        obj = shapes.extract_json_object(text)
        if obj is not None:
            how = "extracted" if attempt == 0 else "retried"
            break
    if obj is None:
        obj = {"text": text}
    content = json.dumps(obj, ensure_ascii=False)
    extra = dict(route or {}, json_mode=how)
    use = shapes.usage(getattr(stats, "prompt_tokens", n_prompt) or n_prompt, generated)
    finish = _finish(stats)
    cid = shapes.new_id("chatcmpl")
    if not body.stream:
        return shapes.chat_completion(cid, model, content, finish, use, extra)
    return _stream_static(cid, model, content, finish, use, extra, body)


def _canned(body: ChatRequest, text: str, route: dict):
    """An answer the router produced itself (clock tool, remote, or 'needs the network')."""
    cid = shapes.new_id("chatcmpl")
    use = shapes.usage(0, 0)
    if not body.stream:
        return shapes.chat_completion(cid, "auto", text, "stop", use, route)
    return _stream_static(cid, "auto", text, "stop", use, route, body)


def _stream_static(cid, model, text, finish, use, extra, body):
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    async def events():
        yield shapes.sse(shapes.chat_chunk(cid, model, {"role": "assistant", "content": ""},
                                           extra=extra))
        yield shapes.sse(shapes.chat_chunk(cid, model, {"content": text}))
        yield shapes.sse(shapes.chat_chunk(cid, model, {}, finish))
        if include_usage:
            yield shapes.sse(shapes.chat_chunk(cid, model, use=use))
        yield shapes.sse("[DONE]")

    return shapes.EventStream(events(), on_close=lambda: None)


@router.post("/v1/completions")
async def completions(request: Request, body: CompletionRequest):
    st = state_of(request)
    if body.model == "auto":
        raise APIError(400, "model 'auto' (the router) is only for /v1/chat/completions",
                       param="model")
    llm = st.need_llm(body.model)
    prompt = body.prompt
    n_prompt = len(llm.tokenize(prompt, add_special=True))
    max_tokens = _budget(st, llm, n_prompt, body)
    run, first = await _start(request, st, body,
                              lambda: llm.generate(prompt, **_sampling(body, max_tokens)))
    cid = shapes.new_id("cmpl")
    if not body.stream:
        text, stats = await _collect(run, first, request)
        return shapes.text_completion(cid, body.model, text, _finish(stats), _usage(stats, n_prompt))
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    async def events():
        ev = first
        while True:
            kind, val = ev
            if kind == "piece":
                yield shapes.sse(shapes.text_completion(cid, body.model, val, None))
            elif kind == "done":
                yield shapes.sse(shapes.text_completion(cid, body.model, "", _finish(val)))
                if include_usage:
                    yield shapes.sse(shapes.text_completion(cid, body.model, "", None,
                                                            _usage(val, n_prompt), stream=True))
                break
            else:
                yield shapes.sse({"error": {"message": f"generation failed: {val}",
                                            "type": "server_error"}})
                break
            ev = await run.next()
        yield shapes.sse("[DONE]")

    return shapes.EventStream(events(), on_close=run.cancel)
