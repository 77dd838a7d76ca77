"""`clavis pull`: download a model from the Hugging Face hub into its local cache."""
from __future__ import annotations

import sys

from clavis import ClavisError


def register(sub) -> None:
    p = sub.add_parser(
        "pull", help="download a model (a GGUF file or an HF folder) from the Hugging Face hub",
        description="Download REPO (owner/name) from the Hugging Face hub and print the local "
                    "path. With FILE, only that file (e.g. a .gguf); without it, the model "
                    "folder (config.json, *.safetensors, tokenizer files). Offline, it says so and "
                    "explains where to put files by hand.")
    p.add_argument("repo", metavar="REPO", help="a hub repo id, e.g. Qwen/Qwen2.5-0.5B-Instruct")
    p.add_argument("file", metavar="FILE", nargs="?", default=None,
                   help="one file of the repo, e.g. qwen2.5-0.5b-instruct-q4_0.gguf")
    p.add_argument("--list", action="store_true", help="list the repo's .gguf files and exit")
    p.set_defaults(func=run)


def run(args) -> int:
    from clavis.runtime.hub import download, list_gguf_files
    if args.list:
        files = list_gguf_files(args.repo)
        if not files:
            raise ClavisError(f"{args.repo}: no .gguf files in this repo")
        print("\n".join(files))
        return 0
    path = download(args.repo, args.file, local_first=False)
    print(path)
    print(f"run it: clavis generate -m {path} -p 'Hello'", file=sys.stderr)
    return 0
