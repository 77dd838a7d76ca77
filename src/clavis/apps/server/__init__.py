"""The OpenAI-compatible local server: `create_app(engines, config)` -> an ASGI app.

Routes are split by concern (routes_llm: models/chat/completions; routes_apps: health, audio,
voice notes, digests, the page); guard.py checks the API key and body size before any route;
fairq.py is the bounded fair queue; runner.py runs blocking generators in threads and stops them
when the client goes away.
"""
from __future__ import annotations

from fastapi import FastAPI

from clavis import __version__
from clavis.apps.server import errors
from clavis.apps.server.guard import Guard
from clavis.apps.server.state import Engines, ServerConfig, ServerState, model_id

__all__ = ["create_app", "Engines", "ServerConfig", "ServerState", "model_id"]


def create_app(engines: Engines, config: ServerConfig | None = None):
    from clavis.apps.server import routes_apps, routes_llm

    config = config or ServerConfig()
    app = FastAPI(title="clavis", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.clavis = ServerState(engines, config)
    errors.install(app)
    app.include_router(routes_llm.router)
    app.include_router(routes_apps.router)
    return Guard(app, config.api_key, config.max_body_bytes)
