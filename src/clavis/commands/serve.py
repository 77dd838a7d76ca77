"""`clavis serve`: the OpenAI-compatible local server and its web page."""
from __future__ import annotations

import argparse
import ipaddress
import sys

EPILOG = """\
endpoints: GET /v1/models, POST /v1/chat/completions (stream or not; model "auto" = the
           privacy-first router), POST /v1/completions, POST /v1/audio/transcriptions,
           POST /v1/voicenote, POST /v1/digest, GET /health, and the web page at /.
security:  listens on 127.0.0.1 only unless --host says otherwise; with --api-key every /v1
           request needs 'Authorization: Bearer KEY' (the page and /health stay public).
queue:     one generation at a time per model; --queue requests may wait; beyond that the
           server answers 503 with Retry-After. A client that disconnects stops its generation.

example:   clavis serve -m model.gguf --whisper whisper-dir --port 8080
           then: OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_API_KEY=none python app.py
"""


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the OpenAI-compatible local server and web page",
                       description="Serve a local LLM (and optionally Whisper) over an "
                                   "OpenAI-compatible HTTP API with a small web page.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-m", "--model", help="LLM: a GGUF file or a Hugging Face folder / repo")
    p.add_argument("--model-name", help="the id clients use (default: the file name)")
    p.add_argument("--whisper", help="Whisper model folder (or file) for /v1/audio/transcriptions")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any free port)")
    p.add_argument("--api-key", help="require 'Authorization: Bearer KEY' on every API request")
    p.add_argument("--n-ctx", type=int, default=4096, help="context size in tokens (default 4096)")
    p.add_argument("--threads", type=int, help="kernel threads (default: physical cores)")
    p.add_argument("--queue", type=int, default=8,
                   help="requests that may wait per model before 503 (default 8)")
    p.add_argument("--max-tokens", type=int, default=512,
                   help="answer length when a request gives none (default 512)")
    p.add_argument("--max-body-mb", type=float, default=25.0,
                   help="largest request body in MiB (default 25)")
    p.add_argument("--privacy", choices=["local", "allow"], default="local",
                   help="model 'auto': may live-data questions go to --remote-url? (default local)")
    p.add_argument("--remote-url", help="OpenAI-compatible base URL for live-data hand-offs")
    p.add_argument("--remote-key", help="API key for the remote endpoint")
    p.add_argument("--remote-model", help="model name at the remote endpoint")
    p.add_argument("--log-level", default="warning",
                   choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def _check(args) -> None:
    from clavis import ClavisError
    if not 0 <= args.port <= 65535:
        raise ClavisError(f"--port must be 0..65535 (got {args.port})")
    for flag, v, lo in (("--queue", args.queue, 0), ("--max-tokens", args.max_tokens, 1),
                        ("--n-ctx", args.n_ctx, 16), ("--max-body-mb", args.max_body_mb, 0.001)):
        if v < lo:
            raise ClavisError(f"{flag} must be at least {lo} (got {v})")
    if args.api_key is not None and not args.api_key.strip():
        raise ClavisError("--api-key must not be empty")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_engines(args):
    from tqdm import tqdm

    from clavis.apps.server import Engines, model_id
    eng = Engines()
    steps = [s for s in (args.model and "llm", args.whisper and "whisper") if s]
    with tqdm(total=len(steps), desc="loading models", unit="model", file=sys.stderr,
              disable=not steps) as bar:
        if args.model:
            from clavis.runtime.llm import LLM
            eng.llm = LLM.load(args.model, n_ctx=args.n_ctx, threads=args.threads)
            eng.llm_name = model_id(args.model, args.model_name)
            bar.update()
        if args.whisper:
            from clavis.runtime.whisper import WhisperModel
            eng.whisper = WhisperModel.load(args.whisper, threads=args.threads)
            eng.whisper_name = model_id(args.whisper)
            bar.update()
    return eng


def run(args) -> int:
    import socket

    import uvicorn

    from clavis.apps.router.remote import RemoteConfig
    from clavis.apps.server import ServerConfig, create_app

    _check(args)
    config = ServerConfig(api_key=args.api_key, max_body_bytes=int(args.max_body_mb * 2**20),
                          max_waiting=args.queue, default_max_tokens=args.max_tokens,
                          privacy=args.privacy,
                          remote=RemoteConfig.resolve(args.remote_url, args.remote_key,
                                                      args.remote_model))
    if not _is_loopback(args.host) and not args.api_key:
        print(f"clavis: warning: listening on {args.host} without --api-key: anyone who can reach "
              "this address can use the server", file=sys.stderr)
    app = create_app(load_engines(args), config)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as e:
        from clavis import ClavisError
        raise ClavisError(f"cannot listen on {args.host}:{args.port}: {e.strerror}") from None
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"clavis: serving on http://{shown}:{port}/  (API: http://{shown}:{port}/v1)",
          file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, access_log=False,
                                           timeout_graceful_shutdown=2))
    server.run(sockets=[sock])
    return 0
