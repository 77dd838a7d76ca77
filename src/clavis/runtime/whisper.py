"""Speech to text with Whisper, faster-whisper's shape:

    model = WhisperModel.load("openai/whisper-base" folder or ggml .bin)
    segments, info = model.transcribe("note.opus", language=None, task="transcribe", beam_size=5)
    for s in segments: print(s.start, s.end, s.text)      # lazy: decoding happens here

ref: openai/whisper whisper/transcribe.py (seeking through 30-s windows, timestamp tokens ->
segments, conditioning on previous text) and faster-whisper (the generator + info object).
An energy gate (runtime/vad.py) keeps silent windows away from the decoder.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from clavis import ClavisError
from clavis.audio.decode import load_audio
from clavis.audio.mel import FRAMES_PER_SECOND, HOP_LENGTH, N_FRAMES, N_SAMPLES, SAMPLE_RATE
from clavis.audio.mel import log_mel_spectrogram
from clavis.models.whisper_load import LoadedWhisper, load_whisper
from clavis.runtime import vad
from clavis.runtime.whisper_decode import (
    DecodeOptions, WindowDecoder, decode_with_fallback, log_softmax)

TIME_PRECISION = 0.02
INPUT_STRIDE = 2   # mel frames per encoder position


@dataclass
class Segment:
    id: int
    start: float
    end: float
    text: str
    tokens: list[int]
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float = 0.0
    seek: int = 0


@dataclass
class TranscriptionInfo:
    language: str
    language_probability: float
    duration: float
    all_language_probs: list[tuple[str, float]] | None
    task: str = "transcribe"
    speech_spans: list[tuple[float, float]] = field(default_factory=list)
    duration_speech: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    source: str = ""


class WhisperModel:
    def __init__(self, loaded: LoadedWhisper):
        self.loaded = loaded
        self.model, self.tokenizer = loaded.model, loaded.tokenizer
        self.args = loaded.model.args
        self.path = loaded.path
        self.load_seconds = 0.0

    @classmethod
    def load(cls, path: str | os.PathLike, quant: str | None = None,
             threads: int | None = None) -> "WhisperModel":
        """A Hugging Face folder, a hub repo id (openai/whisper-base) or a whisper.cpp .bin."""
        t0 = time.perf_counter()
        if threads:
            from clavis import kernels
            kernels.set_num_threads(threads)
        from clavis.runtime import hub
        if hub.looks_like_repo(os.fspath(path)):   # openai/whisper-base: the hub cache, or download
            path = hub.download(os.fspath(path))
        m = cls(load_whisper(path, quant))
        m.load_seconds = time.perf_counter() - t0
        return m

    @property
    def is_multilingual(self) -> bool:
        return self.tokenizer.multilingual

    # ---- features and language ---------------------------------------------------------------
    def features(self, audio: np.ndarray) -> np.ndarray:
        """The whole file's log-mel, padded with 30 s of silence (so every window is full)."""
        return log_mel_spectrogram(audio, self.args.n_mels, padding=N_SAMPLES,
                                   filters=self.loaded.mel_filters)

    def detect_language(self, encoded: np.ndarray) -> tuple[str, float, list[tuple[str, float]]]:
        """Probabilities of every language token after <|startoftranscript|>."""
        tok = self.tokenizer
        if not tok.multilingual:
            return "en", 1.0, [("en", 1.0)]
        st = self.model.new_state(encoded)
        logits = self.model.decode(np.array([[tok.sot]]), st)[0, -1]
        ids = np.array([tok.sp[lang] for lang in tok.languages])
        lp = log_softmax(logits[ids][None])[0]
        probs = np.exp(lp)
        order = np.argsort(-probs)
        ranked = [(tok.languages[i], float(probs[i])) for i in order]
        return ranked[0][0], ranked[0][1], ranked

    # ---- transcription -------------------------------------------------------------------------
    def transcribe(self, audio, language: str | None = None, task: str = "transcribe",
                   beam_size: int = 1, best_of: int = 5, temperature=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
                   compression_ratio_threshold: float | None = 2.4,
                   log_prob_threshold: float | None = -1.0,
                   no_speech_threshold: float | None = 0.6,
                   condition_on_previous_text: bool = True, initial_prompt: str | None = None,
                   without_timestamps: bool = False, vad_filter: bool = True,
                   max_new_tokens: int | None = None, seed: int = 0,
                   ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        """`audio`: a file path or 16-kHz mono float32 samples. Returns (lazy segments, info)."""
        timings: dict[str, float] = {"load": self.load_seconds}
        t0 = time.perf_counter()
        source = ""
        if isinstance(audio, (str, os.PathLike)):
            source = os.fspath(audio)
            audio = load_audio(audio)
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ClavisError(f"audio must be mono 16-kHz samples (1-D), got shape {audio.shape}")
        timings["audio_decode"] = time.perf_counter() - t0
        if task not in ("transcribe", "translate"):
            raise ClavisError(f"task must be 'transcribe' or 'translate', got {task!r}")
        if beam_size < 1 or best_of < 1:
            raise ClavisError("beam_size and best_of must be at least 1")
        if language is not None:
            language = language.lower()
            self.tokenizer.language_token(language)  # validates
        temps = (temperature,) if isinstance(temperature, (int, float)) else tuple(temperature)
        opts = DecodeOptions(task=task, language=language, beam_size=beam_size, best_of=best_of,
                             temperatures=temps, compression_ratio_threshold=compression_ratio_threshold,
                             log_prob_threshold=log_prob_threshold,
                             no_speech_threshold=no_speech_threshold,
                             without_timestamps=without_timestamps, max_new_tokens=max_new_tokens,
                             seed=seed)
        t1 = time.perf_counter()
        mel = self.features(audio)
        timings["mel"] = time.perf_counter() - t1
        duration = audio.size / SAMPLE_RATE
        mask = vad.speech_mask(audio) if vad_filter else np.ones(mel.shape[1], bool)
        spans = vad.speech_spans(mask)
        info = TranscriptionInfo(language=language or "en", language_probability=1.0,
                                 duration=duration, all_language_probs=None, task=task,
                                 speech_spans=spans, timings=timings, source=source,
                                 duration_speech=float(sum(e - s for s, e in spans)))
        content = mel.shape[1] - N_FRAMES
        first = self._first_window(mel, mask, content)
        cached = None   # (seek, encoder output) of the window language detection encoded
        if language is None and first is not None:
            t2 = time.perf_counter()
            enc = self.model.encode(mel[:, first:first + N_FRAMES])
            t3 = time.perf_counter()
            timings["encode"] = t3 - t2    # this window's encoding is reused by the decoder
            info.language, info.language_probability, info.all_language_probs = \
                self.detect_language(enc)
            timings["language"] = time.perf_counter() - t3
            opts.language = info.language
            cached = (first, enc)
        elif language is None:
            info.language = None if self.is_multilingual else "en"
        gen = self._generate(mel, mask, content, first, cached, opts, initial_prompt,
                             condition_on_previous_text, info)
        return gen, info

    def _first_window(self, mel, mask, content):
        f = vad.first_speech_frame(mask, 0, content)
        return None if f is None else max(0, f - 10)

    def _prompt(self, prev: list[int], opts: DecodeOptions) -> list[int]:
        tok = self.tokenizer
        p = []
        if prev:
            p = [tok.sot_prev] + prev[-(self.args.n_text_ctx // 2 - 1):]
        p += tok.sot_sequence(opts.language, opts.task)
        if opts.without_timestamps:
            p.append(tok.no_timestamps)
        return p

    def _generate(self, mel, mask, content, seek, cached, opts, initial_prompt, condition, info):
        """The window loop (a generator: nothing runs until the caller iterates). Per-call state
        only, so one WhisperModel can serve several transcriptions."""
        tok, timings = self.tokenizer, info.timings
        timings.setdefault("encode", 0.0)
        timings.setdefault("decode", 0.0)
        timings.setdefault("decode_tokens", 0)
        dec = WindowDecoder(self.model, tok, self.loaded.suppress_tokens,
                            self.loaded.begin_suppress_tokens)
        rng = np.random.default_rng(opts.seed)
        all_tokens = tok.encode(" " + initial_prompt.strip()) if initial_prompt else []
        reset_since = 0
        seg_id = 0
        while seek is not None and seek < content:
            nxt = vad.first_speech_frame(mask, seek, content)
            if nxt is None:          # nothing left but silence
                break
            if nxt - seek > 100:     # skip leading silence (keep 100 ms of context)
                seek = nxt - 10
            size = min(N_FRAMES, content - seek)
            t0 = time.perf_counter()
            enc = cached[1] if cached and cached[0] == seek else \
                self.model.encode(mel[:, seek:seek + N_FRAMES])
            cached = None
            timings["encode"] += time.perf_counter() - t0
            prompt = self._prompt(all_tokens[reset_since:] if condition else [], opts)
            r = decode_with_fallback(dec, enc, prompt, len(prompt), opts, rng)
            timings["decode"] += r.seconds
            timings["decode_tokens"] += r.n_forward
            offset = seek / FRAMES_PER_SECOND
            if opts.no_speech_threshold is not None and r.no_speech_prob > opts.no_speech_threshold \
                    and (opts.log_prob_threshold is None or r.avg_logprob < opts.log_prob_threshold):
                seek += size
                continue
            pieces, advance = self._split(r.tokens, size, opts.without_timestamps)
            seek += advance
            kept: list[int] = []   # what later windows are conditioned on (openai: the segments)
            for local_start, local_end, toks in pieces:
                start, end = offset + local_start, min(offset + local_end, info.duration)
                text = tok.decode(toks)
                if not text.strip() or end <= start or not vad.has_speech(mask, start, end):
                    continue       # nothing said there: never keep or condition on invented text
                kept += toks if opts.without_timestamps else \
                    [self._stamp(local_start)] + toks + [self._stamp(local_end)]
                yield Segment(id=seg_id, start=round(start, 3), end=round(end, 3), text=text,
                              tokens=toks, avg_logprob=r.avg_logprob, no_speech_prob=r.no_speech_prob,
                              compression_ratio=r.compression_ratio, temperature=r.temperature,
                              seek=seek)
                seg_id += 1
            all_tokens += kept
            if not condition or r.temperature > 0.5:
                reset_since = len(all_tokens)

    def _stamp(self, seconds: float) -> int:
        i = int(round(seconds / TIME_PRECISION))
        return self.tokenizer.timestamp_begin + min(max(i, 0), 1500)

    def _split(self, tokens: list[int], size: int, no_ts: bool):
        """Timestamp tokens -> [(start_s, end_s, text_tokens)] and how far to seek (frames)."""
        tb = self.tokenizer.timestamp_begin
        window_s = size / FRAMES_PER_SECOND
        text = [t for t in tokens if t < self.tokenizer.eot]
        is_ts = [t >= tb for t in tokens]
        if no_ts or not any(is_ts):
            return [(0.0, window_s, text)], size
        single_end = len(is_ts) >= 2 and is_ts[-1] and not is_ts[-2]
        cuts = [i + 1 for i in range(len(is_ts) - 1) if is_ts[i] and is_ts[i + 1]]
        if cuts:
            pieces, last = [], 0
            slices = cuts + ([len(tokens)] if single_end else [])
            for cut in slices:
                part = tokens[last:cut]
                if part and part[0] >= tb and part[-1] >= tb:
                    body = [t for t in part if t < self.tokenizer.eot]
                    pieces.append(((part[0] - tb) * TIME_PRECISION, (part[-1] - tb) * TIME_PRECISION,
                                   body))
                last = cut
            if single_end:
                return pieces, size
            last_ts = tokens[cuts[-1] - 1] - tb
            return pieces, max(1, last_ts * INPUT_STRIDE)
        stamps = [t - tb for t in tokens if t >= tb]
        end = window_s
        if stamps and stamps[-1] != 0:
            end = stamps[-1] * TIME_PRECISION
        start = stamps[0] * TIME_PRECISION if stamps and stamps[0] * TIME_PRECISION < end else 0.0
        return [(start, end, text)], size
