"""A configured remote OpenAI-compatible endpoint (the "cloud" half of the hybrid assistant).

Only the standard library (urllib), so nothing else opens sockets behind our back. The router
decides whether this may be called at all; this module only speaks the protocol.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from clavis import ClavisError

ENV_URL, ENV_KEY, ENV_MODEL = "CLAVIS_REMOTE_URL", "CLAVIS_REMOTE_KEY", "CLAVIS_REMOTE_MODEL"


class RemoteError(ClavisError):
    """The remote endpoint could not be reached or answered badly."""


@dataclass
class RemoteConfig:
    base_url: str               # e.g. https://api.example.com/v1
    api_key: str | None = None
    model: str = "gpt-4o-mini"
    timeout: float = 60.0

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.base_url).netloc

    @classmethod
    def resolve(cls, url: str | None = None, key: str | None = None, model: str | None = None,
                env: dict | None = None) -> "RemoteConfig | None":
        """Flags win over the environment; None when no endpoint is configured."""
        env = os.environ if env is None else env
        url = url or env.get(ENV_URL)
        if not url:
            return None
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ClavisError(f"remote endpoint URL {url!r} (--remote-url / {ENV_URL}) must be an "
                              "http(s) URL such as https://api.example.com/v1")
        return cls(url.rstrip("/"), key or env.get(ENV_KEY), model or env.get(ENV_MODEL) or cls.model)


def chat(cfg: RemoteConfig, messages: list[dict], max_tokens: int = 512) -> str:
    """POST {base_url}/chat/completions and return the reply text."""
    body = json.dumps({"model": cfg.model, "messages": messages, "max_tokens": max_tokens}).encode()
    headers = {"Content-Type": "application/json"}
    if cfg.api_key:
        headers["Authorization"] = f"Bearer {cfg.api_key}"
    req = urllib.request.Request(cfg.base_url + "/chat/completions", data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=cfg.timeout) as resp:
            data = json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        detail = e.read()[:300].decode("utf-8", "replace")
        raise RemoteError(f"remote endpoint {cfg.base_url} answered HTTP {e.code}: {detail}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise RemoteError(f"remote endpoint {cfg.base_url} unreachable: {e}") from None
    except json.JSONDecodeError:
        raise RemoteError(f"remote endpoint {cfg.base_url} did not answer JSON") from None
    try:
        return data["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        raise RemoteError(f"remote endpoint {cfg.base_url} answered without choices[0].message."
                          "content") from None
