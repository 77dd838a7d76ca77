"""Whisper on the clavis kernels against transformers' WhisperForConditionalGeneration on the same
random weights (whisper-tiny and whisper-base shapes, f32): encoder output, decoder logits and 32
greedy tokens. The input is the log-mel of a real recording (shared/data/audio/jfk.flac)."""
from pathlib import Path

import numpy as np
import pytest

from clavis import ClavisError

SEED = 20240  # printed on failure
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "audio"
# f32 kernels vs PyTorch: both accumulate in f32 over K <= 2048 terms per product and ~40 ops
# deep; 1e-3 of the largest magnitude is ~100x the rounding we expect (K * eps ~ 2e-4 worst case).
REL = 1e-3


def zoo_folder(tmp_path_factory, shape):
    from clavis.models.whisper_zoo import make
    out = tmp_path_factory.getbasetemp() / "whisper-zoo" / f"{shape}-{SEED}"
    if not (out / "generation_config.json").exists():
        make(shape, out, seed=SEED)
    return out


@pytest.fixture(scope="module")
def mel():
    from clavis.audio.decode import load_audio, pad_or_trim
    from clavis.audio.mel import N_SAMPLES, log_mel_spectrogram
    return log_mel_spectrogram(pad_or_trim(load_audio(DATA / "jfk.flac"), N_SAMPLES), 80)


def rel_err(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


class Pair:
    """Our model and transformers' on one folder, with both encoder outputs cached."""

    def __init__(self, folder, mel):
        import torch
        from transformers import WhisperForConditionalGeneration

        from clavis.models.whisper_load import load_whisper
        self.torch = torch
        self.lw = load_whisper(folder)
        self.ours = self.lw.model
        self.hf = WhisperForConditionalGeneration.from_pretrained(folder, torch_dtype=torch.float32).eval()
        self.enc = self.ours.encode(mel)
        with torch.no_grad():
            self.hf_enc = self.hf.model.encoder(torch.from_numpy(mel)[None]).last_hidden_state

    def hf_logits(self, ids):
        with self.torch.no_grad():
            return self.hf(encoder_outputs=(self.hf_enc,), decoder_input_ids=self.torch.tensor([ids]),
                           use_cache=False).logits[0].numpy()

    def hf_greedy(self, prompt, n):
        """transformers' own incremental decoding (its KV cache), argmax each step."""
        out, past, ids = [], None, prompt
        with self.torch.no_grad():
            for _ in range(n):
                r = self.hf(encoder_outputs=(self.hf_enc,), decoder_input_ids=self.torch.tensor([ids]),
                            past_key_values=past, use_cache=True)
                past = r.past_key_values
                ids = [int(self.torch.argmax(r.logits[0, -1]))]
                out.append(ids[0])
        return out


@pytest.fixture(scope="module", params=["whisper-tiny", "whisper-base"])
def pair(request, tmp_path_factory, mel):
    return Pair(zoo_folder(tmp_path_factory, request.param), mel)


def test_shapes_are_the_real_ones(pair):
    cfg = pair.hf.config
    n_params = sum(p.numel() for p in pair.hf.parameters())
    expected = {384: 37_760_640, 512: 72_593_920}[cfg.d_model]  # openai/whisper-tiny, -base
    assert n_params == expected, f"seed {SEED}"
    assert pair.ours.args.n_vocab == 51865 and pair.ours.args.n_audio_ctx == 1500


def test_encoder_matches_transformers(pair):
    ref = pair.hf_enc[0].numpy()
    assert pair.enc.shape == ref.shape
    assert rel_err(pair.enc, ref) <= REL, f"seed {SEED}"


def test_decoder_logits_match_transformers(pair):
    tok = pair.lw.tokenizer
    ids = tok.sot_sequence("en", "transcribe") + [tok.no_timestamps] + tok.encode(" And so my fellow")
    st = pair.ours.new_state(pair.enc)
    # the prompt in two pieces, so the KV cache path (pos0 > 0) is compared too
    ours = np.concatenate([pair.ours.decode([ids[:3]], st)[0], pair.ours.decode([ids[3:]], st)[0]])
    ref = pair.hf_logits(ids)
    assert ours.shape == ref.shape == (len(ids), 51865)
    assert rel_err(ours, ref) <= REL, f"seed {SEED}"


@pytest.mark.filterwarnings("ignore:.*past_key_values.*:FutureWarning")
def test_32_greedy_tokens_identical(pair):
    tok = pair.lw.tokenizer
    prompt = tok.sot_sequence("en", "transcribe") + [tok.no_timestamps]
    st = pair.ours.new_state(pair.enc)
    logits = pair.ours.decode([prompt], st)[0, -1]
    ours = []
    for _ in range(32):
        t = int(np.argmax(logits))
        ours.append(t)
        logits = pair.ours.decode([[t]], st)[0, -1]
    ref = pair.hf_greedy(prompt, 32)
    assert ours == ref, f"seed {SEED}"


def test_beams_share_cross_cache_and_reorder(pair):
    """Three sequences decoded as one batch give each sequence's own logits."""
    tok = pair.lw.tokenizer
    prompt = tok.sot_sequence("en", "transcribe")
    seqs = [prompt + [400, 401], prompt + [500, 502], prompt + [600, 603]]
    st = pair.ours.new_state(pair.enc, batch=3)
    got = pair.ours.decode(np.array(seqs), st)[:, -1]
    st.reorder([2, 2, 0])
    nxt = pair.ours.decode(np.array([[7], [8], [9]]), st)[:, -1]
    for i, s in enumerate(seqs):
        assert rel_err(got[i], pair.hf_logits(s)[-1]) <= REL
    for row, (src, t) in enumerate([(2, 7), (2, 8), (0, 9)]):
        assert rel_err(nxt[row], pair.hf_logits(seqs[src] + [t])[-1]) <= REL


def test_q8_0_weights_stay_close(tmp_path_factory, mel):
    """Quantized at load: q8_0 keeps ~2 significant digits per weight (scale/127 steps), so
    logits stay within a few percent of f32 and the argmax of a confident position holds."""
    from clavis.models.whisper_load import load_whisper
    folder = zoo_folder(tmp_path_factory, "whisper-tiny")
    f32, q8 = load_whisper(folder).model, load_whisper(folder, quant="q8_0").model
    assert q8.lm_head.type == "q8_0"
    enc32, enc8 = f32.encode(mel), q8.encode(mel)
    assert rel_err(enc8, enc32) < 0.05
    ids = [50258, 50259, 50359, 50363]
    l32 = f32.decode([ids], f32.new_state(enc32))[0]
    l8 = q8.decode([ids], q8.new_state(enc8))[0]
    assert rel_err(l8, l32) < 0.05


def test_quantized_models_keep_cross_kv_in_f16(tmp_path_factory, mel):
    """q8_0 weights: the cross-attention K/V default to float16 (half the bytes read per token).
    The f16 rounding itself moves f32-weight logits by ~1e-5 (bound 1e-4); with q8_0 weights the
    logits stay within q8_0's own bound of the f32 model (q8_0 re-quantizes each activation, so
    any perturbation shows up at q8_0's scale, not f16's)."""
    from clavis.models.whisper_load import load_whisper
    folder = zoo_folder(tmp_path_factory, "whisper-tiny")
    f32, q8 = load_whisper(folder).model, load_whisper(folder, quant="q8_0").model
    enc32 = f32.encode(mel)
    st16 = q8.new_state(q8.encode(mel))
    assert st16.cross_k[0].dtype == np.float16 and st16.cross_v[0].dtype == np.float16
    st32 = f32.new_state(enc32)
    assert st32.cross_k[0].dtype == np.float32
    ids = [50258, 50259, 50359, 50363]
    l32 = f32.decode([ids], st32)[0]
    l32h = f32.decode([ids], f32.new_state(enc32, cross_dtype=np.float16))[0]
    assert rel_err(l32h, l32) < 1e-4
    assert rel_err(q8.decode([ids], st16)[0], l32) < 0.05
    for _ in range(4):   # single-token steps read the f16 cross K/V too
        tok = [[int(l32[-1].argmax())]]
        l32 = f32.decode(tok, st32)[0]
        assert rel_err(q8.decode(tok, st16)[0], l32) < 0.05


@pytest.mark.parametrize("n", [3000, 7, 8, 1])
def test_im2col_conv2_matches_torch_conv1d(n):
    """conv2 of quantized models is a GEMM over _im2col_s2's columns: with those columns the
    product equals torch's conv1d (kernel 3, stride 2, padding 1), odd and even lengths."""
    import torch
    from clavis.models.whisper import Whisper
    rng = np.random.default_rng(n)
    x = rng.standard_normal((5, n)).astype(np.float32)
    w = rng.standard_normal((4, 5, 3)).astype(np.float32)
    cols = Whisper._im2col_s2(x)
    ref = torch.nn.functional.conv1d(torch.from_numpy(x)[None].double(),
                                     torch.from_numpy(w).double(), stride=2, padding=1)[0].numpy()
    assert cols.shape == (ref.shape[1], 15)
    np.testing.assert_allclose(cols.astype(np.float64) @ w.reshape(4, 15).T.astype(np.float64),
                               ref.T, rtol=0, atol=1e-12)


def test_bad_model_paths(tmp_path):
    from clavis.models.whisper_load import load_whisper
    with pytest.raises(ClavisError, match="no such"):
        load_whisper(tmp_path / "nope")
    junk = tmp_path / "model.bin"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ClavisError, match="model.bin: not a Whisper model"):
        load_whisper(junk)
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text('{"model_type": "whisper", "d_model": 384}')
    (tmp_path / "cfg" / "model.safetensors").write_bytes(b"\x08" + b"\x00" * 7 + b"{}      ")
    with pytest.raises(ClavisError, match="config.json: missing field 'num_mel_bins'"):
        load_whisper(tmp_path / "cfg")
