"""Greedy and beam-search decoding (timestamp rules, suppression, patience, length-normalised
ranking) against CTranslate2's Whisper (faster-whisper's engine) on the same random weights,
converted by its own converter and run in float32."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SEED = 4242
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "audio"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import ctranslate2

    from clavis.audio.decode import load_audio, pad_or_trim
    from clavis.audio.mel import N_SAMPLES, log_mel_spectrogram
    from clavis.models.whisper_zoo import make
    from clavis.runtime.whisper import WhisperModel
    d = tmp_path_factory.mktemp("ct2")
    folder = make("whisper-tiny", d / "hf", seed=SEED)
    conv = shutil.which("ct2-transformers-converter") or str(Path(sys.executable).parent /
                                                            "ct2-transformers-converter")
    subprocess.run([conv, "--model", str(folder), "--output_dir", str(d / "ct2"), "--force"],
                   check=True, capture_output=True)
    ct = ctranslate2.models.Whisper(str(d / "ct2"), device="cpu", compute_type="float32")
    ours = WhisperModel.load(folder, quant="f32")
    mel = log_mel_spectrogram(pad_or_trim(load_audio(DATA / "jfk.flac"), N_SAMPLES), 80)
    return ours, ct, mel, ours.model.encode(mel)


@pytest.mark.parametrize("beam", [1, 5])
def test_decoding_matches_ctranslate2(setup, beam):
    import ctranslate2

    from clavis.runtime.whisper_decode import DecodeOptions, WindowDecoder
    ours, ct, mel, enc = setup
    tok = ours.tokenizer
    prompt = tok.sot_sequence("en", "transcribe")
    dec = WindowDecoder(ours.model, tok, ours.loaded.suppress_tokens,
                        ours.loaded.begin_suppress_tokens)
    r = dec.run(enc, prompt, len(prompt), 0.0, DecodeOptions(beam_size=beam, max_new_tokens=48),
                np.random.default_rng(0))
    ref = ct.generate(ctranslate2.StorageView.from_array(mel[None]), [prompt], beam_size=beam,
                      patience=1, length_penalty=1, max_length=len(prompt) + 48,
                      suppress_blank=True, suppress_tokens=ours.loaded.suppress_tokens,
                      max_initial_timestamp_index=50)[0].sequences_ids[0]
    n = min(len(ref), len(r.tokens))
    assert n >= 16, (SEED, ref, r.tokens)
    assert r.tokens[:n] == ref[:n], f"seed {SEED}: ours {r.tokens} vs CTranslate2 {ref}"
    assert r.tokens[0] >= tok.timestamp_begin  # the window opens with a timestamp
