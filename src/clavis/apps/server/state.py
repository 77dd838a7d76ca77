"""What a running server holds: its configuration, the loaded engines and one fair queue each."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from clavis.apps.router import Router
from clavis.apps.router.remote import RemoteConfig
from clavis.apps.server.errors import APIError
from clavis.apps.server.fairq import FairQueue


@dataclass
class ServerConfig:
    api_key: str | None = None
    max_body_bytes: int = 25 * 1024 * 1024
    max_waiting: int = 8                 # requests that may wait per engine; more get 503
    max_active: int = 1                  # generations at once per engine (one on 2 cores)
    default_max_tokens: int = 512        # when a request gives no max_tokens
    privacy: str = "local"               # for model "auto": local | allow
    remote: RemoteConfig | None = None


def model_id(path: str | None, given: str | None = None) -> str | None:
    if given:
        return given
    if not path:
        return None
    p = Path(str(path).rstrip("/"))
    return p.stem if p.suffix.lower() == ".gguf" else p.name


@dataclass
class Engines:
    llm: object | None = None
    llm_name: str | None = None
    whisper: object | None = None
    whisper_name: str | None = None
    created: int = field(default_factory=lambda: int(time.time()))


class ServerState:
    def __init__(self, engines: Engines, config: ServerConfig):
        self.engines, self.config = engines, config
        self.llm_queue = FairQueue(config.max_active, config.max_waiting)
        self.whisper_queue = FairQueue(config.max_active, config.max_waiting)
        self.router = Router("allow" if config.privacy == "allow" else "local", config.remote,
                             llm=engines.llm)
        self.started = time.time()

    def model_names(self) -> list[str]:
        names = [self.engines.llm_name] if self.engines.llm is not None else []
        names.append("auto")        # the router; answers clock questions even without a model
        if self.engines.whisper is not None:
            names.append(self.engines.whisper_name)
        return names

    def need_llm(self, model: str):
        llm = self.engines.llm
        if model not in (self.engines.llm_name, "auto"):
            raise APIError(404, f"model {model!r} is not served here; available: "
                                f"{', '.join(n for n in self.model_names() if n)}",
                           param="model", code="model_not_found")
        if llm is None:
            raise APIError(400, "no language model is loaded (start the server with -m MODEL)",
                           param="model", code="model_not_loaded")
        return llm

    def need_whisper(self, model: str | None = None):
        if self.engines.whisper is None:
            raise APIError(400, "no speech model is loaded (start the server with --whisper MODEL)",
                           param="model", code="model_not_loaded")
        return self.engines.whisper
