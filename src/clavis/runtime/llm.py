"""`LLM`: load a Llama-family model (a .gguf file, an HF folder or an HF repo id) and run it.

    llm = LLM.load("model.gguf", n_ctx=4096)
    for piece in llm.generate("The capital of France is", max_tokens=32): print(piece, end="")
    llm.logits(ids)                 # f32[len(ids), vocab], from a fresh context

One LLM holds one KV cache; a new generate()/chat() closes an unfinished previous generation.
The prompt prefix already in the cache is reused (chat turns re-send the whole history).
"""
from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Sequence

from clavis import ClavisError
from clavis.runtime.generate import (PREFILL_CHUNK, ContextOverflowError, Generation,
                                     GenerationStats, check_fits)
from clavis.runtime.kv_cache import KVCache
from clavis.runtime.sampling import SamplingParams

if TYPE_CHECKING:
    import numpy as np

__all__ = ["LLM", "ContextOverflowError", "Generation", "GenerationStats"]


class LLM:
    def __init__(self, model, tokenizer, n_ctx: int, name: str, source: str,
                 kv_dtype: str = "f16"):
        self.model, self.tokenizer, self.name, self.source = model, tokenizer, name, source
        self.n_ctx = int(n_ctx)
        self.kv_dtype = kv_dtype
        self.kv = KVCache.for_model(model.args, self.n_ctx, kv_dtype)
        self._kv_ids: list[int] = []        # the tokens whose K/V are in self.kv
        self._active: Generation | None = None
        eos = set(getattr(tokenizer, "eos_ids", ()) or ())
        self.eos_ids = frozenset(eos)

    # ---- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path_or_hf_repo: str | os.PathLike, quant: str | None = None, n_ctx: int = 4096,
             threads: int | None = None, kv_dtype: str | None = None,
             progress=None) -> "LLM":
        """`path_or_hf_repo`: a .gguf file, an HF folder, a hub repo id "owner/name" (its
        safetensors) or "owner/name/file.gguf" (one GGUF file of a repo).
        `quant` (HF folders only: "q4_0" | "q8_0" | "f16" | "f32") quantizes at load; a GGUF
        runs in the types it was written in. `kv_dtype` defaults to f32 for f32 weights, else f16.
        `progress(done, total)` is called as layers are packed; the packing runs on at least
        as many threads as the machine's cores (kernels.threads_for_load)."""
        from clavis import kernels
        threads = kernels.get_num_threads() if threads is None else int(threads)
        kernels.set_num_threads(threads)     # checked (1..the pool's limit) before any work
        with kernels.threads_for_load(threads):
            return cls._load(path_or_hf_repo, quant, n_ctx, kv_dtype, progress)

    @classmethod
    def _load(cls, path_or_hf_repo, quant, n_ctx, kv_dtype, progress) -> "LLM":
        from clavis.formats.gguf import read_gguf
        from clavis.models.registry import load_gguf_model, load_hf_model
        from clavis.runtime.hub import download, looks_like_repo, split_repo_file

        path = os.fspath(path_or_hf_repo)
        repo = None
        if looks_like_repo(path):
            repo, filename = split_repo_file(path)
            try:
                path = download(repo, filename)
            except ClavisError as e:
                raise ClavisError(f"{path}: no such local file or folder; as a Hugging Face hub "
                                  f"id: {e}") from None
        if os.path.isdir(path):
            from clavis.formats.hf import HFFolder, is_hf_folder
            if not is_hf_folder(path):
                hint = (f" (for a GGUF repo, name the file: {repo}/FILE.gguf; "
                        f"`clavis pull {repo} --list` lists them)") if repo else ""
                raise ClavisError(f"{path}: a folder without config.json; expected a Hugging Face "
                                  "model folder (config.json, *.safetensors, tokenizer.json)" + hint)
            folder = HFFolder(path)
            model = load_hf_model(folder, quant, progress)
            tok = _tokenizer_hf(path)
            f32 = quant == "f32" or (quant is None and model.output.type == "f32")
        elif os.path.isfile(path):
            if quant is not None:
                raise ClavisError(f"{path}: quant={quant!r} applies to HF folders; a GGUF file runs "
                                  "in the types it was written in (convert it instead)")
            gf = read_gguf(path)
            # the tokenizer first: its build's transient memory is gone before the weights
            # arrive, so it does not add to the peak RSS
            tok = _tokenizer_gguf(gf)
            model = load_gguf_model(gf, progress)
            # packed weights are copies and embedding rows are read with pread; zero-copy ones
            # (deferred Q8_0) fault their pages back in as they are read
            gf.release_pages()
            f32 = gf.tensor("blk.0.attn_q.weight").type == "f32"
        else:
            raise ClavisError(f"{path}: no such file or folder")
        if tok is not None and tok.vocab_size > model.vocab_size:
            raise ClavisError(f"{path}: the tokenizer has {tok.vocab_size} tokens but the model's "
                              f"embedding has {model.vocab_size} rows")
        n_ctx = int(n_ctx)
        if n_ctx < 16:
            raise ClavisError(f"n_ctx must be at least 16, got {n_ctx}")
        n_ctx = min(n_ctx, model.args.n_ctx_train)
        name = model.args.name or os.path.basename(path.rstrip("/"))
        llm = cls(model, tok, n_ctx, name, path, kv_dtype or ("f32" if f32 else "f16"))
        llm._start_packing()
        llm._start_huge_pages()
        return llm

    def _start_packing(self) -> None:
        """Weights loaded zero-copy (GGUFSource.defer_pack: Q8_0) are packed into tiles by a
        background thread, so the model is usable at once and decodes at full speed a moment
        later (the kernels give bit-identical results either way)."""
        self._packer, self._packer_error = None, None
        if not getattr(self.model, "deferred_weights", list)():
            return
        pack = self.model.pack_deferred

        def run():
            try:
                pack()
            except Exception as e:  # noqa: BLE001 - the weights stay valid zero-copy ones
                self._packer_error = e

        self._packer = threading.Thread(target=run, name="clavis-pack", daemon=True)
        self._packer.start()

    # A KV cache up to this size is committed and moved to huge pages after load (with the
    # weights): decode attention reads it faster (llama-3.2-1b at 640 positions, 2 threads:
    # 0.88 vs 1.06 ms per token). A larger one stays committed as it fills.
    KV_HUGE_MAX = 256 << 20

    def _start_huge_pages(self) -> None:
        """Back the packed weights with 2 MiB pages in a background thread (kernels.matmul.
        huge_pages): the decode streams them faster, and the load does not wait for it (fresh
        huge pages are slow to fault in on some machines; see aligned_buffer). It starts after
        the zero-copy packer, which backs its own copies as it makes them."""
        weights = getattr(self.model, "packed_weights", None)
        self._huge = None
        self.huge_page_bytes = 0
        self.huge_page_error = None
        if weights is None:
            return
        from clavis.kernels.matmul import huge_pages, weight_buffers
        packer = self._packer

        def run():
            try:    # Linux: this thread only; it yields to the forwards (as khugepaged does)
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
            except (AttributeError, OSError):
                pass
            if packer is not None:
                packer.join()
            try:
                for b in weight_buffers([w for w in weights() if not w.raw]):   # not file pages
                    self.huge_page_bytes += huge_pages(b)
                kv = self.kv
                if kv.nbytes <= self.KV_HUGE_MAX:
                    self.huge_page_bytes += huge_pages(kv.arena, populate=True)
            except Exception as e:  # noqa: BLE001 - an optimisation: the model runs as it is
                self.huge_page_error = e

        self._huge = threading.Thread(target=run, name="clavis-huge-pages", daemon=True)
        self._huge.start()

    def wait_huge_pages(self, timeout: float | None = None) -> bool:
        """Wait for the background thread that moves the weights to huge pages (benchmarks call
        this so a decode is measured as it will run); True when it has finished."""
        t = getattr(self, "_huge", None)
        if t is not None:
            t.join(timeout)
            return not t.is_alive()
        return True

    def wait_packed(self, timeout: float | None = None) -> bool:
        """Wait for the background packing of zero-copy weights; True when it has finished.
        Raises what it failed with, if it did (the model still works, unpacked)."""
        t = getattr(self, "_packer", None)
        apply = getattr(self.model, "apply_packed", None)
        deadline = None if timeout is None else time.monotonic() + timeout
        while t is not None and t.is_alive():   # it waits for room in the queue that we make
            if apply is not None:
                apply()
            t.join(0.01)
            if deadline is not None and time.monotonic() >= deadline and t.is_alive():
                return False
        if apply is not None:
            apply()
        if getattr(self, "_packer_error", None) is not None:
            raise ClavisError(f"{self.source}: packing the weights failed: {self._packer_error}")
        return True

    # ---- properties ------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.model.vocab_size

    @property
    def args(self):
        return self.model.args

    def _need_tokenizer(self):
        if self.tokenizer is None:
            raise ClavisError(f"{self.source}: the model has no tokenizer; pass token ids instead")
        return self.tokenizer

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return list(self._need_tokenizer().encode(text, add_special=add_special))

    def detokenize(self, ids: Sequence[int]) -> str:
        return self._need_tokenizer().decode([int(i) for i in ids])

    def detokenize_raw(self, ids: Sequence[int]) -> str:
        """Decoding for streaming: special tokens (chat markers) are left out."""
        return self._need_tokenizer().decode([int(i) for i in ids], skip_special=True)

    # ---- evaluation ------------------------------------------------------------------------
    def logits(self, ids: Sequence[int]) -> "np.ndarray":
        """f32[len(ids), vocab]: one row per position, from a fresh context."""
        import numpy as np
        ids = _as_ids(ids, self.vocab_size)
        if len(ids) > self.n_ctx:
            raise ContextOverflowError(len(ids), self.n_ctx)
        kv = KVCache.for_model(self.args, len(ids), "f32")
        out = np.empty((len(ids), self.vocab_size), dtype=np.float32)
        for i in range(0, len(ids), PREFILL_CHUNK):
            chunk = ids[i:i + PREFILL_CHUNK]
            out[i:i + len(chunk)] = self.model.forward(chunk, i, kv, all_logits=True)
        return out

    def _prefill(self, ids: list[int], stats: GenerationStats):
        """Bring the KV cache to `ids` (reusing the common prefix); logits of the last token
        (a [1, vocab] float32 buffer)."""
        n_same = 0
        for a, b in zip(self._kv_ids, ids[:-1]):   # the last token is always recomputed
            if a != b:
                break
            n_same += 1
        stats.cached_tokens = n_same
        self._kv_ids = ids[:n_same]
        self.kv.n = n_same
        logits = None
        for i in range(n_same, len(ids), PREFILL_CHUNK):
            chunk = ids[i:i + PREFILL_CHUNK]
            logits = self.model.forward_buffer(chunk, i, self.kv)
            self._kv_ids.extend(chunk)
            self.kv.n = len(self._kv_ids)
        return logits

    def _decode_one(self, tok: int, out=None):
        """Logits after one more token (a new buffer, or `out`: see forward_buffer)."""
        pos = len(self._kv_ids)
        logits = self.model.forward_buffer([tok], pos, self.kv, out=out)
        self._kv_ids.append(int(tok))
        self.kv.n = len(self._kv_ids)
        return logits

    def _release(self, gen: Generation) -> None:
        if self._active is gen:
            self._active = None

    # ---- generation ------------------------------------------------------------------------
    def generate(self, prompt_or_ids, max_tokens: int = 256, temperature: float = 0.8,
                 top_k: int = 40, top_p: float = 0.95, min_p: float = 0.05,
                 repeat_penalty: float = 1.0, seed: int | None = None, stop=(),
                 ignore_eos: bool = False) -> Generation:
        """An iterator of text pieces (see Generation); the prompt is a str or token ids."""
        if isinstance(prompt_or_ids, str):
            ids = self.tokenize(prompt_or_ids, add_special=True)
        else:
            ids = _as_ids(prompt_or_ids, self.vocab_size)
        check_fits(len(ids), self.n_ctx)
        if max_tokens < 0:
            raise ClavisError(f"max_tokens must be >= 0, got {max_tokens}")
        params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
                                repeat_penalty=repeat_penalty, seed=seed)
        if self._active is not None:
            self._active.close()
        gen = Generation(self, ids, max_tokens, params, stop=stop, ignore_eos=ignore_eos)
        self._active = gen
        return gen

    def apply_chat_template(self, messages, add_generation_prompt: bool = True) -> str:
        """The prompt text: the model's own template, else the fallback for its vocabulary."""
        return self._need_tokenizer().apply_chat_template(
            messages, add_generation_prompt, arch=self.args.arch)

    def chat_ids(self, messages) -> list[int]:
        """The token ids of a chat prompt (exactly one BOS when the model wants one)."""
        return list(self._need_tokenizer().encode_chat(messages, arch=self.args.arch))

    def chat(self, messages, **sampling) -> Generation:
        return self.generate(self.chat_ids(messages), **sampling)

    def __repr__(self):
        return f"LLM({self.name!r}, arch={self.args.arch}, n_ctx={self.n_ctx})"


def _as_ids(ids, vocab: int) -> list[int]:
    try:
        out = [int(i) for i in ids]
    except (TypeError, ValueError):
        raise ClavisError("expected a string or a sequence of token ids") from None
    bad = [i for i in out if not 0 <= i < vocab]
    if bad:
        raise ClavisError(f"token id {bad[0]} is out of range 0..{vocab - 1}")
    return out


def _tokenizer_gguf(gf):
    if "tokenizer.ggml.model" not in gf.metadata:
        return None
    from clavis.text.tokenizer import Tokenizer
    try:
        return Tokenizer.from_gguf_metadata(gf.metadata)
    except ClavisError as e:
        raise ClavisError(f"{gf.path}: {e}") from None


def _tokenizer_hf(path: str):
    if not os.path.isfile(os.path.join(path, "tokenizer.json")):
        return None
    from clavis.text.tokenizer import Tokenizer
    return Tokenizer.from_hf_dir(path)
