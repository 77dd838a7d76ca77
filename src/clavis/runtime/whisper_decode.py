"""Decoding one 30-s window: logit rules, greedy / sampling / beam search, temperature fallback.

ref: openai/whisper whisper/decoding.py (SuppressBlank, SuppressTokens, ApplyTimestampRules,
BeamSearchDecoder, MaximumLikelihoodRanker) and whisper/transcribe.py (decode_with_fallback);
faster-whisper's choice of the best result when every temperature fails.
"""
from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field

import numpy as np

NEG_INF = -np.inf


@dataclass
class DecodeOptions:
    task: str = "transcribe"
    language: str | None = None
    beam_size: int = 1
    best_of: int = 5
    patience: float = 1.0
    length_penalty: float | None = None
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float | None = 2.4
    log_prob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    without_timestamps: bool = False
    max_initial_timestamp: float = 1.0
    suppress_blank: bool = True
    suppress_tokens: tuple[int, ...] | None = None   # None: the model's list
    max_new_tokens: int | None = None
    seed: int = 0


@dataclass
class DecodeResult:
    tokens: list[int]              # sampled tokens (text and timestamps), without <|endoftext|>
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float
    n_forward: int = 0             # decoder calls (for timings)
    seconds: float = 0.0
    tried: list[float] = field(default_factory=list)


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


class LogitRules:
    """The filters applied to each step's logits, in openai's order."""

    def __init__(self, tok, suppress: list[int], begin_suppress: list[int], sample_begin: int,
                 opts: DecodeOptions):
        self.tok, self.sample_begin, self.opts = tok, sample_begin, opts
        self.suppress = np.array(sorted(set(suppress)), dtype=np.int64)
        self.begin_suppress = np.array(sorted(set(begin_suppress)), dtype=np.int64)
        self.max_initial = (None if opts.max_initial_timestamp is None
                            else int(round(opts.max_initial_timestamp / 0.02)))

    def apply(self, logits: np.ndarray, seqs: list[list[int]]) -> None:
        """logits f64[B, V] in place; seqs: each beam's tokens so far (prompt included)."""
        tok = self.tok
        n = len(seqs[0])
        if self.opts.suppress_blank and n == self.sample_begin and self.begin_suppress.size:
            logits[:, self.begin_suppress] = NEG_INF
        if self.suppress.size:
            logits[:, self.suppress] = NEG_INF
        if self.opts.without_timestamps:
            logits[:, tok.timestamp_begin:] = NEG_INF
            return
        tb = tok.timestamp_begin
        logits[:, tok.no_timestamps] = NEG_INF
        for b, seq in enumerate(seqs):
            sampled = seq[self.sample_begin:]
            last_ts = len(sampled) >= 1 and sampled[-1] >= tb
            penult_ts = len(sampled) < 2 or sampled[-2] >= tb
            if last_ts:
                if penult_ts:   # a closed pair: text must follow
                    logits[b, tb:] = NEG_INF
                else:           # an open timestamp: it must be closed (or the window ends)
                    logits[b, :tok.eot] = NEG_INF
            stamps = [t for t in sampled if t >= tb]
            if stamps:          # timestamps never go backwards
                last = stamps[-1] if (last_ts and not penult_ts) else stamps[-1] + 1
                logits[b, tb:last] = NEG_INF
        if n == self.sample_begin:  # the first token is a timestamp, not too late
            logits[:, :tb] = NEG_INF
            if self.max_initial is not None:
                logits[:, tb + self.max_initial + 1:] = NEG_INF
        lp = log_softmax(logits)
        ts_mass = np.logaddexp.reduce(lp[:, tb:], axis=-1)
        text_max = lp[:, :tb].max(axis=-1)
        logits[ts_mass > text_max, :tb] = NEG_INF


class WindowDecoder:
    """Decodes one window given its DecoderState factory (model.new_state) and a prompt."""

    def __init__(self, model, tok, suppress, begin_suppress):
        self.model, self.tok = model, tok
        self.suppress, self.begin_suppress = suppress, begin_suppress

    def no_speech_and_prefill(self, audio, prompt: list[int], batch: int):
        """Run the prompt once; returns (state with batch copies, last logits f64[V], p_nospeech)."""
        st = self.model.new_state(audio, batch=1)
        logits = self.model.decode(np.array([prompt]), st)[0]
        sot_at = prompt.index(self.tok.sot)
        p_ns = float(np.exp(log_softmax(logits[sot_at])[self.tok.no_speech]))
        if batch > 1:
            st.reorder([0] * batch)
        return st, logits[-1].astype(np.float64), p_ns

    def run(self, audio, prompt, sample_begin, temperature, opts, rng) -> DecodeResult:
        t0 = time.perf_counter()
        tok = self.tok
        beam = opts.beam_size if temperature == 0 and opts.beam_size > 1 else 1
        n_seq = beam if beam > 1 else (opts.best_of if temperature > 0 else 1)
        max_len = self.model.args.n_text_ctx
        budget = min(max_len // 2, max_len - len(prompt))
        if opts.max_new_tokens:
            budget = min(budget, opts.max_new_tokens)
        rules = LogitRules(tok, self.suppress, self.begin_suppress, sample_begin, opts)
        st, last, p_ns = self.no_speech_and_prefill(audio, prompt, 1)
        if beam > 1:
            toks, lp, calls = self._beam(st, last, prompt, rules, beam, budget, opts)
        else:
            toks, lp, calls = self._sample(st, last, prompt, rules, n_seq, budget, temperature, rng)
        text = tok.decode([t for t in toks if t < tok.eot])
        return DecodeResult(tokens=toks, text=text, avg_logprob=lp / (len(toks) + 1),
                            no_speech_prob=p_ns, compression_ratio=compression_ratio(text),
                            temperature=temperature, n_forward=calls + 1,
                            seconds=time.perf_counter() - t0)

    def _sample(self, st, last, prompt, rules, n_seq, budget, temperature, rng):
        """Greedy (temperature 0) or best-of-n sampling; the best by length-normalised logprob."""
        if n_seq > 1:
            st.reorder([0] * n_seq)
        seqs = [list(prompt) for _ in range(n_seq)]
        sum_lp = np.zeros(n_seq)
        done = np.zeros(n_seq, bool)
        logits = np.repeat(last[None], n_seq, axis=0)
        calls = 0
        for _ in range(budget):
            rules.apply(logits, seqs)
            lp = log_softmax(logits)
            if temperature == 0:
                nxt = np.argmax(logits, axis=-1)
            else:
                g = rng.gumbel(size=logits.shape)
                nxt = np.argmax(logits / temperature + g, axis=-1)
            for b in range(n_seq):
                if done[b]:
                    nxt[b] = self.tok.eot
                    continue
                sum_lp[b] += lp[b, nxt[b]]
                seqs[b].append(int(nxt[b]))
                done[b] = nxt[b] == self.tok.eot
            if done.all() or st.n + 1 > self.model.args.n_text_ctx:
                break
            logits = self.model.decode(nxt[:, None], st)[:, -1].astype(np.float64)
            calls += 1
        outs = [self._strip(s[len(prompt):]) for s in seqs]
        best = int(np.argmax([sum_lp[b] / max(len(outs[b]), 1) for b in range(n_seq)]))
        return outs[best], float(sum_lp[best]), calls

    def _strip(self, toks):
        return toks[:toks.index(self.tok.eot)] if self.tok.eot in toks else toks

    def _beam(self, st, last, prompt, rules, beam, budget, opts):
        """Beam search with patience (ref: openai BeamSearchDecoder), ranked by length penalty."""
        eot = self.tok.eot
        st.reorder([0] * beam)
        seqs = [list(prompt)]
        scores = [0.0]
        logits = last[None]
        finished: dict[tuple, float] = {}
        max_finished = int(round(beam * opts.patience))
        calls = 0
        for step in range(budget):
            rules.apply(logits, seqs)
            lp = log_softmax(logits)
            cands = []
            for b, seq in enumerate(seqs):
                top = np.argsort(-lp[b])[:beam + 1]
                for t in top:
                    if np.isfinite(lp[b, t]):
                        cands.append((scores[b] + float(lp[b, t]), b, int(t)))
            cands.sort(key=lambda c: -c[0])
            keep, new_seqs, new_scores = [], [], []
            for score, b, t in cands:
                seq = tuple(seqs[b][len(prompt):]) + (t,)
                if t == eot:
                    if len(finished) < max_finished and seq[:-1] not in finished:
                        finished[seq[:-1]] = score
                    continue
                keep.append(b)
                new_seqs.append(seqs[b] + [t])
                new_scores.append(score)
                if len(keep) == beam:
                    break
            if len(finished) >= max_finished or not keep or step == budget - 1 \
                    or st.n + 1 > self.model.args.n_text_ctx:
                break
            st.reorder(keep + [keep[-1]] * (beam - len(keep)))
            seqs, scores = new_seqs, new_scores
            nxt = np.array([s[-1] for s in seqs] + [seqs[-1][-1]] * (beam - len(seqs)))
            logits = self.model.decode(nxt[:, None], st)[:len(seqs), -1].astype(np.float64)
            calls += 1
        if not finished:  # nothing ended: take the live beams as they are
            for s, sc in zip(new_seqs or seqs, new_scores or scores):
                finished.setdefault(tuple(s[len(prompt):]), sc)
        ranked = sorted(finished.items(), key=lambda kv: -_length_norm(kv[1], len(kv[0]),
                                                                        opts.length_penalty))
        toks, score = ranked[0]
        return list(toks), float(score), calls


def _length_norm(logprob: float, length: int, penalty: float | None) -> float:
    if penalty is None:
        return logprob / max(length, 1)
    return logprob / (((5 + length) / 6) ** penalty)


def decode_with_fallback(dec: WindowDecoder, audio, prompt, sample_begin, opts: DecodeOptions,
                         rng) -> DecodeResult:
    """Try each temperature until the result is neither repetitive nor improbable."""
    results = []
    for t in opts.temperatures:
        r = dec.run(audio, prompt, sample_begin, t, opts, rng)
        results.append(r)
        fail = False
        if opts.compression_ratio_threshold is not None and \
                r.compression_ratio > opts.compression_ratio_threshold:
            fail = True
        if opts.log_prob_threshold is not None and r.avg_logprob < opts.log_prob_threshold:
            fail = True
        if opts.no_speech_threshold is not None and r.no_speech_prob > opts.no_speech_threshold \
                and opts.log_prob_threshold is not None and r.avg_logprob < opts.log_prob_threshold:
            fail = False  # silence: the caller skips this window, no point in retrying
        if not fail:
            break
    else:  # every temperature failed: the most probable non-repetitive result
        ok = [r for r in results if opts.compression_ratio_threshold is None
              or r.compression_ratio <= opts.compression_ratio_threshold]
        r = max(ok or results, key=lambda x: x.avg_logprob)
    r.tried = [x.temperature for x in results]
    r.n_forward = sum(x.n_forward for x in results)
    r.seconds = sum(x.seconds for x in results)
    return r
