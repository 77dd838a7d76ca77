"""Generation: prefill in chunks (matrix-matrix path), then decode one token at a time
(matrix-vector path), yielding text pieces that never split a UTF-8 character and never show
any part of a stop string. `Generation` is an iterator with `.stats`, `.tokens` and `.close()`.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence


from clavis import ClavisError
from clavis.runtime.sampling import SamplingParams, sample

def last_row(logits):
    """The last row of a 2-D float32 logits buffer (memoryview or NumPy array), no copy."""
    mv = memoryview(logits)
    if mv.ndim == 1:
        return mv
    n = mv.shape[-1]
    return mv.cast("B")[-4 * n:].cast("f") if mv.c_contiguous else logits[-1]


PREFILL_CHUNK = 128   # tokens per prefill forward: its scratch is part of the peak RSS (llama-3.2-1b: 19 MB at 256 tokens, 5 MB now with the C FFN in blocks of 64); same tok/s as 256


class ContextOverflowError(ClavisError):
    """The prompt (plus what must be generated) does not fit the context window."""

    def __init__(self, n_prompt: int, n_ctx: int):
        self.n_prompt, self.n_ctx = int(n_prompt), int(n_ctx)
        super().__init__(f"the prompt has {self.n_prompt} tokens but the context holds only "
                         f"{self.n_ctx}; shorten it or load the model with a larger n_ctx")


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    generated_tokens: int = 0
    prefill_tok_s: float = 0.0
    decode_tok_s: float = 0.0
    finish_reason: str | None = None      # "stop" | "length" (None while running)
    cached_tokens: int = 0                # prompt tokens reused from the KV cache
    prefill_s: float = 0.0
    decode_s: float = 0.0


class StreamDecoder:
    """Incremental detokenizer by prefix differences: decode(ids[prefix:]) minus
    decode(ids[prefix:read]); text ending in U+FFFD (an incomplete UTF-8 sequence) is held
    back. Starting from a few context tokens keeps SentencePiece's leading spaces right."""

    def __init__(self, decode: Callable[[list[int]], str], context: Sequence[int] = ()):
        self.decode = decode
        self.ids = list(context)
        self.prefix = 0
        self.read = len(self.ids)

    def push(self, token: int) -> str:
        self.ids.append(int(token))
        prefix_text = self.decode(self.ids[self.prefix:self.read])
        new_text = self.decode(self.ids[self.prefix:])
        if len(new_text) > len(prefix_text) and not new_text.endswith("\ufffd"):
            piece = new_text[len(prefix_text):]
            self.prefix, self.read = self.read, len(self.ids)
            return piece
        return ""

    def flush(self) -> str:
        prefix_text = self.decode(self.ids[self.prefix:self.read])
        new_text = self.decode(self.ids[self.prefix:])
        self.prefix = self.read = len(self.ids)
        return new_text[len(prefix_text):] if len(new_text) > len(prefix_text) else ""


class StopMatcher:
    """Holds back text that might be the start of a stop string; reports a full match."""

    def __init__(self, stops: Sequence[str]):
        self.stops = [s for s in stops if s]
        self.pending = ""

    def push(self, text: str) -> tuple[str, bool]:
        """(text safe to show, stopped?)"""
        self.pending += text
        for s in self.stops:
            i = self.pending.find(s)
            if i >= 0:
                out, self.pending = self.pending[:i], ""
                return out, True
        hold = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(self.pending)), 0, -1):
                if self.pending.endswith(s[:k]):
                    hold = max(hold, k)
                    break
        cut = len(self.pending) - hold
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out, False

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


class Generation:
    """Iterate for text pieces; `.stats` is filled as it runs; `.close()` stops early."""

    def __init__(self, engine, prompt_ids: list[int], max_tokens: int, params: SamplingParams,
                 stop: Sequence[str] = (), ignore_eos: bool = False):
        self.engine = engine
        self.prompt_ids = list(prompt_ids)
        self.max_tokens = int(max_tokens)
        self.params = params
        self.stop = tuple([stop] if isinstance(stop, str) else stop)
        self.ignore_eos = ignore_eos
        self.tokens: list[int] = []
        self.text = ""
        self.stats = GenerationStats(prompt_tokens=len(self.prompt_ids))
        self._it: Iterator[str] = self._run()
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.closed:
            raise StopIteration
        piece = next(self._it)
        self.text += piece
        return piece

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._it.close()
            if self.stats.finish_reason is None:
                self.stats.finish_reason = "stop"
            self.engine._release(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _finish(self, reason: str) -> None:
        self.stats.finish_reason = reason
        self.closed = True
        self.engine._release(self)

    def _run(self) -> Iterator[str]:
        eng, st = self.engine, self.stats
        t0 = time.perf_counter()
        logits = eng._prefill(self.prompt_ids, st)
        st.prefill_s = time.perf_counter() - t0
        n_new = st.prompt_tokens - st.cached_tokens
        st.prefill_tok_s = n_new / st.prefill_s if st.prefill_s > 0 else 0.0
        # Python's generator, not NumPy's: numpy.random imports hashlib, which maps OpenSSL's
        # libcrypto (~4.5 MB of peak RSS with NumPy's random modules) for one draw per token
        rng = random.Random(self.params.seed)
        decoder = StreamDecoder(eng.detokenize_raw, self.prompt_ids[-4:])
        stopper = StopMatcher(self.stop)
        history = list(self.prompt_ids)
        n_steps, hit_stop = 0, False
        # one logits row for the whole decode: each is sampled before the next forward
        row = memoryview(bytearray(4 * eng.vocab_size)).cast("f", (1, eng.vocab_size))
        while True:
            if st.generated_tokens >= self.max_tokens:
                reason = "length"
                break
            t0 = time.perf_counter()   # decode time: sampling + forward, not the consumer's
            tok = sample(last_row(logits), self.params, rng, history)
            t_sample = time.perf_counter() - t0
            if tok in eng.eos_ids and not self.ignore_eos:
                reason = "stop"
                break
            self.tokens.append(tok)
            history.append(tok)
            st.generated_tokens += 1
            out, hit_stop = stopper.push(decoder.push(tok))
            if out:
                yield out
            if hit_stop:
                reason = "stop"
                break
            if st.generated_tokens >= self.max_tokens or eng.kv.n >= eng.n_ctx:
                reason = "length"
                break
            t0 = time.perf_counter()
            logits = eng._decode_one(tok, out=row)
            n_steps += 1
            st.decode_s += t_sample + time.perf_counter() - t0
            st.decode_tok_s = n_steps / st.decode_s if st.decode_s > 0 else 0.0
        if not hit_stop:
            tail, hit_stop = stopper.push(decoder.flush())
            if not hit_stop:
                tail += stopper.flush()
            if tail:
                yield tail
        self._finish(reason)


def check_fits(n_prompt: int, n_ctx: int) -> None:
    if n_prompt >= n_ctx:
        raise ContextOverflowError(n_prompt, n_ctx)
    if n_prompt == 0:
        raise ClavisError("the prompt is empty (no tokens); give some text or token ids")
