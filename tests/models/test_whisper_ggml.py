"""whisper.cpp ggml .bin files (f16, q8_0, q4_0): written in the test from a random-weight
whisper-tiny, read back, and run against transformers on the same weights. The quantized bytes
are checked against gguf-py's quantizer (an independent implementation of the GGML blocks)."""
from pathlib import Path

import numpy as np
import pytest

from clavis import ClavisError

SEED = 31337
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "audio"


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    from clavis.formats.hf import HFFolder
    from clavis.models.whisper_load import load_whisper
    from clavis.models.whisper_zoo import make
    folder = tmp_path_factory.getbasetemp() / "whisper-zoo" / f"whisper-tiny-{SEED}"
    if not (folder / "generation_config.json").exists():
        make("whisper-tiny", folder, seed=SEED)
    f = HFFolder(folder)
    return folder, f.config, {k: v.to_f32() for k, v in f.tensors.items()}, \
        load_whisper(folder, quant="q8_0").tokenizer


@pytest.fixture(scope="module")
def bins(src, tmp_path_factory):
    from clavis.audio.mel import mel_filters
    from clavis.models.whisper_ggml import write_ggml
    folder, cfg, tensors, tok = src
    d = tmp_path_factory.mktemp("ggml")
    out = {}
    for wtype in ("f16", "q8_0", "q4_0"):
        out[wtype] = d / f"ggml-tiny-{wtype}.bin"
        write_ggml(out[wtype], cfg, tensors, tok.token_bytes, mel_filters(80), wtype)
    return out


@pytest.fixture(scope="module")
def hf(src):
    import torch
    from transformers import WhisperForConditionalGeneration

    from clavis.audio.decode import load_audio, pad_or_trim
    from clavis.audio.mel import N_SAMPLES, log_mel_spectrogram
    model = WhisperForConditionalGeneration.from_pretrained(src[0]).eval()
    mel = log_mel_spectrogram(pad_or_trim(load_audio(DATA / "jfk.flac"), N_SAMPLES), 80)
    ids = [50258, 50259, 50359, 50363, 400, 1000, 2000]
    with torch.no_grad():
        enc = model.model.encoder(torch.from_numpy(mel)[None]).last_hidden_state
        logits = model(encoder_outputs=(enc,), decoder_input_ids=torch.tensor([ids])).logits[0]
    return mel, enc[0].numpy(), ids, logits.numpy()


def corr(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_quantized_blocks_match_gguf_py(src, bins):
    import gguf

    from clavis.models.whisper_ggml import GGMLWhisperFile
    tensors = src[2]
    for wtype, qt in (("q8_0", gguf.GGMLQuantizationType.Q8_0),
                      ("q4_0", gguf.GGMLQuantizationType.Q4_0)):
        f = GGMLWhisperFile(bins[wtype])
        for name in ("model.encoder.layers.0.fc1.weight", "model.decoder.embed_tokens.weight"):
            typ, shape, data = f.tensors[name]
            assert typ == wtype and shape == tensors[name].shape
            ref = gguf.quants.quantize(tensors[name], qt)
            assert np.array_equal(np.asarray(data), ref.reshape(-1)), (SEED, wtype, name)
        assert f.tensors["model.encoder.conv1.weight"][0] == "f16"
        assert f.tensors["model.encoder.embed_positions.weight"][0] == "f32"


def test_vocab_and_filters_come_from_the_file(src, bins):
    from clavis.audio.mel import log_mel_spectrogram, mel_filters
    from clavis.models.whisper_load import load_whisper
    g = load_whisper(bins["q8_0"])
    tok = src[3]
    ids = tok.encode(" The quick brown fox, 1961.")
    assert g.tokenizer.decode(ids) == " The quick brown fox, 1961."
    assert g.tokenizer.encode(" The quick") and g.tokenizer.eot == 50257
    np.testing.assert_array_equal(g.mel_filters, mel_filters(80).astype(np.float32))
    x = np.sin(np.arange(16000) * 0.05).astype(np.float32)
    from clavis.runtime.whisper import WhisperModel
    m = WhisperModel(g)
    np.testing.assert_array_equal(m.features(x), log_mel_spectrogram(x, 80, 480000, g.mel_filters))


def test_f16_file_matches_transformers(bins, hf):
    """f16 weights (11-bit mantissa, 2^-12 relative rounding) through 4+4 layers: the logits stay
    within 1% of f32 transformers on the same features."""
    from clavis.models.whisper_load import load_whisper
    mel, enc, ids, ref = hf
    g = load_whisper(bins["f16"])
    assert g.model.lm_head.type == "f16"
    logits = g.model.decode([ids], g.model.new_state(enc))[0]
    assert np.abs(logits - ref).max() / np.abs(ref).max() < 1e-2


@pytest.mark.parametrize("wtype,min_corr", [("q8_0", 0.999), ("q4_0", 0.97)])
def test_quantized_files_track_transformers(bins, hf, wtype, min_corr):
    """q8_0 keeps ~8 bits per weight, q4_0 ~4: the whole pipeline's outputs stay highly
    correlated with f32 (the thresholds are what those bit widths leave, not tuned)."""
    from clavis.models.whisper_load import load_whisper
    mel, enc, ids, ref = hf
    g = load_whisper(bins[wtype])
    assert g.model.lm_head.type == wtype and g.model.enc_blocks[0].fc1.type == wtype
    ours_enc = g.model.encode(mel)
    assert corr(ours_enc, enc) >= min_corr
    logits = g.model.decode([ids], g.model.new_state(ours_enc))[0]
    assert corr(logits, ref) >= min_corr


def test_broken_files(bins, tmp_path):
    from clavis.models.whisper_load import load_whisper
    data = bins["q8_0"].read_bytes()
    for cut in (len(data) // 2, 60, 8):
        p = tmp_path / f"cut{cut}.bin"
        p.write_bytes(data[:cut])
        with pytest.raises(ClavisError, match=f"cut{cut}.bin: (truncated|not a whisper)"):
            load_whisper(p)
    bad = bytearray(data)
    bad[4:8] = (-5).to_bytes(4, "little", signed=True)
    p = tmp_path / "badvocab.bin"
    p.write_bytes(bytes(bad))
    with pytest.raises(ClavisError, match="badvocab.bin: hparam n_vocab = -5"):
        load_whisper(p)


def test_f16_hf_folder(src, hf, tmp_path):
    """An HF folder saved in float16 (as many openai/whisper-* uploads are) loads as f16 weights."""
    import json
    import shutil

    from clavis.formats.hf import write_hf_folder
    from clavis.models.whisper_load import load_whisper
    folder, cfg, tensors, _ = src
    out = tmp_path / "f16"
    write_hf_folder(out, cfg, {k: v.astype(np.float16) for k, v in tensors.items()})
    for f in ("tokenizer.json", "generation_config.json"):
        shutil.copy(folder / f, out / f)
    g = load_whisper(out)
    assert g.weights_type == "f16" and g.model.lm_head.type == "f16"
    assert json.loads((out / "config.json").read_text())["d_model"] == 384
    mel, enc, ids, ref = hf
    logits = g.model.decode([ids], g.model.new_state(enc))[0]
    assert np.abs(logits - ref).max() / np.abs(ref).max() < 1e-2   # f16 weights, as above
    assert load_whisper(out, quant="q4_0").model.lm_head.type == "q4_0"
