"""Whisper decoding against transformers' generate() on the same random weights (timestamp rules,
suppression, greedy and beam search), language detection, and the transcription loop's
behaviour on silence and long audio."""
from pathlib import Path

import numpy as np
import pytest

SEED = 777  # printed on failure
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "audio"


def zoo_folder(tmp_path_factory, shape="whisper-tiny"):
    from clavis.models.whisper_zoo import make
    out = tmp_path_factory.getbasetemp() / "whisper-zoo" / f"{shape}-{SEED}"
    if not (out / "generation_config.json").exists():
        make(shape, out, seed=SEED)
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return zoo_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def jfk():
    from clavis.audio.decode import load_audio
    return load_audio(DATA / "jfk.flac")


@pytest.fixture(scope="module")
def f32(folder, jfk):
    """Our f32 model and transformers' on one folder, with the jfk window encoded by both."""
    import torch
    from transformers import WhisperForConditionalGeneration

    from clavis.audio.decode import pad_or_trim
    from clavis.audio.mel import N_SAMPLES, log_mel_spectrogram
    from clavis.runtime.whisper import WhisperModel
    ours = WhisperModel.load(folder, quant="f32")
    hf = WhisperForConditionalGeneration.from_pretrained(folder).eval()
    mel = log_mel_spectrogram(pad_or_trim(jfk, N_SAMPLES), 80)
    return ours, hf, mel, ours.model.encode(mel)


@pytest.fixture(scope="module")
def q8(folder):
    from clavis.runtime.whisper import WhisperModel
    return WhisperModel.load(folder, quant="q8_0")


def _first_pass(tokens, tb):
    """openai/transformers keep a window's tokens up to its last closed timestamp pair."""
    cut = [i + 1 for i in range(len(tokens) - 1) if tokens[i] >= tb and tokens[i + 1] >= tb]
    return tokens[:cut[-1]] if cut else tokens


def test_timestamp_decoding_matches_transformers_generate(f32):
    """Greedy decoding with the timestamp rules and suppression lists. (Beam search is openai's,
    which renormalises the filtered log-probabilities; transformers' beam scores do not, so the
    beams are tested on a model with known probabilities below instead.)"""
    beams = 1
    import torch

    from clavis.runtime.whisper_decode import DecodeOptions, WindowDecoder
    ours, hf, mel, enc = f32
    tok = ours.tokenizer
    dec = WindowDecoder(ours.model, tok, ours.loaded.suppress_tokens,
                        ours.loaded.begin_suppress_tokens)
    prompt = tok.sot_sequence("en", "transcribe")
    r = dec.run(enc, prompt, len(prompt), 0.0, DecodeOptions(beam_size=beams, max_new_tokens=48),
                np.random.default_rng(0))
    with torch.no_grad():
        ref = hf.generate(torch.from_numpy(mel)[None], language="en", task="transcribe",
                          return_timestamps=True, max_new_tokens=48, do_sample=False,
                          num_beams=beams)[0].tolist()
    ref = [t for t in ref if t not in prompt]
    mine = _first_pass(r.tokens, tok.timestamp_begin)
    assert len(mine) >= 3 and mine[0] >= tok.timestamp_begin, (SEED, r.tokens)
    assert mine == ref[:len(mine)], f"seed {SEED}: ours {r.tokens} vs transformers {ref}"


def test_language_detection_matches_transformers(f32):
    import torch
    ours, hf, mel, enc = f32
    tok = ours.tokenizer
    lang, p, ranked = ours.detect_language(enc)
    with torch.no_grad():
        logits = hf(input_features=torch.from_numpy(mel)[None],
                    decoder_input_ids=torch.tensor([[tok.sot]])).logits[0, -1].double()
        ids = torch.tensor([tok.sp[code] for code in tok.languages])
        ref = torch.softmax(logits[ids], -1).numpy()
        hf_top = int(hf.detect_language(torch.from_numpy(mel)[None])[0])
    got = dict(ranked)
    assert len(got) == 99 and abs(sum(got.values()) - 1) < 1e-6
    np.testing.assert_allclose([got[c] for c in tok.languages], ref, rtol=1e-3, atol=1e-6)
    assert tok.sp[lang] == hf_top and p == max(got.values())


def test_silence_never_reaches_the_decoder(q8):
    rng = np.random.default_rng(SEED)
    quiet = (rng.standard_normal(16000 * 25) * 10 ** (-70 / 20)).astype(np.float32)  # -70 dBFS
    segs, info = q8.transcribe(quiet, temperature=0.0)
    assert list(segs) == [] and info.speech_spans == []
    assert info.timings["decode_tokens"] == 0 and info.timings["encode"] == 0


def test_long_audio_seeks_past_silence(q8, jfk):
    gap = np.zeros(16000 * 40, np.float32)
    audio = np.concatenate([jfk, gap, jfk])            # 11 s speech, 40 s silence, 11 s speech
    segs, info = q8.transcribe(audio, language="en", temperature=0.0, without_timestamps=True,
                               max_new_tokens=8)
    segs = list(segs)
    assert info.duration == pytest.approx(62.0, abs=0.1)
    assert [round(s, 0) for s, _ in info.speech_spans[:1]] == [0.0]
    starts = [s.start for s in segs]
    assert starts and starts[0] < 1.0, starts
    assert any(s >= 50.5 for s in starts), starts      # the second burst got its own window
    for s in segs:                                     # nothing invented inside the gap
        assert not (11.5 < s.start and s.end < 50.5), (s.start, s.end)
        assert 0 <= s.start < s.end <= info.duration
    assert info.timings["encode"] > 0


def test_split_timestamp_tokens(q8):
    tok = q8.tokenizer
    tb = tok.timestamp_begin
    ts = lambda sec: tb + int(round(sec / 0.02))  # noqa: E731
    split = q8._split
    # a closed segment, then text that never closes: that text is dropped and the next window
    # starts at the last closed timestamp (2 mel frames per 20-ms timestamp step)
    pieces, adv = split([ts(0), 100, 101, ts(2.0), ts(2.0), 102, ts(4.5), 103], 3000, False)
    assert pieces == [(0.0, 2.0, [100, 101])]
    assert adv == int(round(2.0 / 0.02)) * 2
    # ends with a single timestamp: the whole window is consumed
    pieces, adv = split([ts(0), 100, ts(3.0), ts(3.0), 101, ts(5.0)], 1200, False)
    assert [p[:2] for p in pieces] == [(0.0, 3.0), (3.0, 5.0)] and adv == 1200
    # no consecutive pair: one segment up to the last timestamp
    pieces, adv = split([ts(0.4), 100, 101, ts(6.0)], 3000, False)
    assert pieces == [(0.4, 6.0, [100, 101])] and adv == 3000
    pieces, adv = split([100, 101], 800, True)
    assert pieces == [(0.0, 8.0, [100, 101])] and adv == 800


class ToyModel:
    """The scores make greedy pick A first and end badly, while the
    beam finds B C, a much more probable sequence (ref: the textbook beam-search example)."""

    class Args:
        n_text_ctx = 448

    args = Args()

    def __init__(self, tok):
        self.tok = tok

    def new_state(self, audio, batch=1):
        from clavis.models.whisper import DecoderState
        st = DecoderState([], [], [np.zeros((batch, 1, 1, 1))], [np.zeros((batch, 1, 1, 1))])
        st.extra["seqs"] = [[] for _ in range(batch)]
        return st

    def _logits(self, seq):
        v = np.full(self.tok.vocab_size, -30.0)
        body = [t for t in seq if t < self.tok.eot]
        a, b, c = 10, 11, 12
        if not body:
            v[a], v[b] = np.log(0.55), np.log(0.45)
        elif body == [a]:
            v[20:30] = np.log(0.1)            # A is followed by ten equally unlikely tokens
        elif body == [b]:
            v[c] = np.log(0.95)
        else:
            v[self.tok.eot] = 0.0
        return v

    def decode(self, tokens, state):
        tokens = np.asarray(tokens)
        seqs = state.extra["seqs"]
        if len(seqs) != tokens.shape[0]:
            seqs = [list(seqs[0]) for _ in range(tokens.shape[0])]
        out = []
        for b in range(tokens.shape[0]):
            seqs[b] = seqs[b] + tokens[b].tolist()
            out.append([self._logits(seqs[b][:i + 1]) for i in range(len(seqs[b]) - len(tokens[b]), len(seqs[b]))])
        state.extra["seqs"] = seqs
        state.n += tokens.shape[1]
        return np.array(out)


def test_beam_search_finds_the_more_probable_sequence(q8, monkeypatch):
    from clavis.models.whisper import DecoderState
    from clavis.runtime.whisper_decode import DecodeOptions, WindowDecoder
    tok = q8.tokenizer
    monkeypatch.setattr(DecoderState, "reorder", lambda self, idx: self.extra.__setitem__(
        "seqs", [list(self.extra["seqs"][min(i, len(self.extra["seqs"]) - 1)]) for i in idx]))
    toy = ToyModel(tok)
    dec = WindowDecoder(toy, tok, [], [])
    prompt = [tok.sot]
    opts = DecodeOptions(without_timestamps=True, suppress_blank=False)
    greedy = dec.run(None, prompt, 1, 0.0, opts, np.random.default_rng(0))
    beam = dec.run(None, prompt, 1, 0.0, DecodeOptions(without_timestamps=True, beam_size=5,
                                                         suppress_blank=False), np.random.default_rng(0))
    assert greedy.tokens[0] == 10 and len(greedy.tokens) == 2
    assert beam.tokens == [11, 12]
    assert beam.avg_logprob > greedy.avg_logprob


def test_english_only_model(tmp_path, jfk):
    """whisper-tiny.en's layout (51864 ids, <|endoftext|> = 50256): no language or task tokens in
    the prompt, language is always English, transformers reads the same special ids."""
    from transformers import GenerationConfig, WhisperConfig

    from clavis.models.whisper_zoo import make
    from clavis.runtime.whisper import WhisperModel
    folder = make("whisper-tiny.en", tmp_path / "tiny.en", seed=SEED)
    cfg, gen = WhisperConfig.from_pretrained(folder), GenerationConfig.from_pretrained(folder)
    m = WhisperModel.load(folder, quant="q8_0")
    tok = m.tokenizer
    assert (tok.eot, tok.sot, tok.no_timestamps, tok.timestamp_begin) == (50256, 50257, 50362, 50363)
    assert cfg.decoder_start_token_id == tok.sot and gen.no_timestamps_token_id == tok.no_timestamps
    assert not m.is_multilingual and tok.sot_sequence(None, "transcribe") == [tok.sot]
    segs, info = m.transcribe(jfk[:16000 * 3], temperature=0.0, max_new_tokens=4)
    list(segs)
    assert info.language == "en" and info.language_probability == 1.0


def test_seek_loop_and_conditioning(q8, jfk, monkeypatch):
    """The window loop with a scripted decoder: each window says one closed segment then an
    unfinished one, so the next window starts at the last closed timestamp and is prompted with
    <|startofprev|> + the kept segment (timestamps included), not with the unfinished text."""
    import clavis.runtime.whisper as rw
    from clavis.runtime.whisper_decode import DecodeResult
    tok = q8.tokenizer
    tb = tok.timestamp_begin
    prompts = []

    def scripted(dec, enc, prompt, sample_begin, opts, rng):
        prompts.append(list(prompt))
        k = len(prompts)
        toks = [tb, 1000 + k, tb + 250, tb + 250, 2000 + k, tb + 400, 3000 + k]  # 0-5 s closed
        return DecodeResult(toks, "x", -0.2, 0.01, 1.0, 0.0, n_forward=len(toks))

    monkeypatch.setattr(rw, "decode_with_fallback", scripted)
    audio = np.concatenate([jfk, jfk])                       # 22 s of speech
    segs = list(q8.transcribe(audio, language="en")[0])
    starts = [s.start for s in segs]
    assert starts[:3] == [0.0, 5.0, 10.0]                     # seek = last closed stamp, 5 s
    assert [(s.start, s.end) for s in segs] == [(0.0, 5.0), (5.0, 10.0), (10.0, 15.0),
                                                (15.0, 20.0), (20.0, 22.0)]  # clipped at the end
    assert [s.tokens for s in segs[:2]] == [[1001], [1002]]
    assert prompts[0] == tok.sot_sequence("en", "transcribe")
    assert prompts[1] == [tok.sot_prev, tb, 1001, tb + 250] + tok.sot_sequence("en", "transcribe")
    assert 2001 not in prompts[2] and 1002 in prompts[2]
    assert len(prompts) == 5                                 # 22 s / 5 s per window
