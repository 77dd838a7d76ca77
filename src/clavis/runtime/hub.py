"""Models from the Hugging Face hub (huggingface_hub), with clear errors when offline."""
from __future__ import annotations

import os
import re

from clavis import ClavisError

REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
HF_PATTERNS = ["*.json", "*.safetensors", "tokenizer*", "*.jinja"]


def looks_like_repo(s: str) -> bool:
    """owner/name or owner/name/file.gguf, when no such local path exists."""
    return bool(REPO_RE.match(s) or split_repo_file(s)[1]) and not os.path.exists(s)


def split_repo_file(s: str) -> tuple[str, str | None]:
    """"owner/name/file.gguf" -> ("owner/name", "file.gguf"); otherwise (s, None)."""
    parts = s.split("/")
    if len(parts) >= 3 and parts[-1].endswith(".gguf") and REPO_RE.match("/".join(parts[:2])):
        return "/".join(parts[:2]), "/".join(parts[2:])
    return s, None


def _offline_help(repo: str, filename: str | None, err: Exception) -> ClavisError:
    what = f"file {filename!r} of {repo}" if filename else repo
    return ClavisError(
        f"cannot download {what} from the Hugging Face hub ({type(err).__name__}: {err}). "
        "If this machine is offline, copy the model here by hand: a .gguf file anywhere "
        "(then pass its path), or the repo's files (config.json, *.safetensors, tokenizer.json, "
        "tokenizer_config.json) into a folder (then pass the folder); or download it on another "
        "machine with `clavis pull` and copy ~/.cache/huggingface/hub over.")


def download(repo: str, filename: str | None = None, local_first: bool = True) -> str:
    """Local path of `repo` (a snapshot folder) or of one `filename` in it."""
    if not REPO_RE.match(repo):
        raise ClavisError(f"{repo!r} is neither a local path nor a Hugging Face repo id "
                          "(owner/name)")
    import huggingface_hub as hub
    from huggingface_hub.errors import (EntryNotFoundError, LocalEntryNotFoundError,
                                        OfflineModeIsEnabled, RepositoryNotFoundError)

    def fetch(local_only: bool) -> str:
        if filename:
            return hub.hf_hub_download(repo, filename, local_files_only=local_only)
        return hub.snapshot_download(repo, allow_patterns=HF_PATTERNS, local_files_only=local_only)

    if local_first:
        try:
            return fetch(True)
        except Exception:
            pass
    try:
        return fetch(False)
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as e:   # no network, nothing cached
        raise _offline_help(repo, filename, e) from None
    except (RepositoryNotFoundError, EntryNotFoundError) as e:
        raise ClavisError(f"{repo}: not found on the Hugging Face hub"
                          + (f" (file {filename!r})" if filename else "")
                          + f": {str(e).splitlines()[0]}") from None
    except Exception as e:  # network errors come in many classes (requests, httpx, OSError)
        raise _offline_help(repo, filename, e) from None


def list_gguf_files(repo: str) -> list[str]:
    import huggingface_hub as hub
    try:
        return [f for f in hub.list_repo_files(repo) if f.endswith(".gguf")]
    except Exception as e:
        raise _offline_help(repo, None, e) from None
