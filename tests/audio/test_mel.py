"""Whisper log-mel features against transformers' WhisperFeatureExtractor (an independent
implementation), on the real recording in shared/data."""
from pathlib import Path

import numpy as np
import pytest

from clavis.audio.decode import load_audio, pad_or_trim
from clavis.audio.mel import N_FRAMES, N_SAMPLES, log_mel_spectrogram, mel_filters

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "audio"
JFK = DATA / "jfk.flac"


@pytest.fixture(scope="module")
def jfk():
    assert JFK.exists(), f"missing test recording {JFK}"
    return load_audio(JFK)


@pytest.mark.parametrize("n_mels", [80, 128])
def test_filterbank_matches_transformers(n_mels):
    from transformers.audio_utils import mel_filter_bank
    ref = mel_filter_bank(num_frequency_bins=201, num_mel_filters=n_mels, min_frequency=0.0,
                          max_frequency=8000.0, sampling_rate=16000, norm="slaney",
                          mel_scale="slaney")
    np.testing.assert_allclose(mel_filters(n_mels), ref.T, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n_mels", [80, 128])
def test_log_mel_matches_feature_extractor(jfk, n_mels):
    from transformers import WhisperFeatureExtractor
    assert 10.9 < jfk.size / 16000 < 11.1  # jfk.flac is 11 s
    ref = WhisperFeatureExtractor(feature_size=n_mels)(
        jfk, sampling_rate=16000, return_tensors="np").input_features[0]
    ours = log_mel_spectrogram(pad_or_trim(jfk, N_SAMPLES), n_mels)
    assert ours.shape == ref.shape == (n_mels, N_FRAMES)
    assert ours.dtype == np.float32
    assert np.abs(ours - ref).max() <= 1e-4


def test_log_mel_short_and_padded(jfk):
    """Whisper pads a file with 30 s of silence before slicing windows; frames = samples // hop."""
    x = jfk[:16000]
    m = log_mel_spectrogram(x, 80, padding=N_SAMPLES)
    assert m.shape == (80, (16000 + N_SAMPLES) // 160)
    # the silent tail is floored at max - 8 in log10 units, i.e. 2 below the top after scaling
    assert np.isclose(m[:, -500:].min(), m.max() - 2.0, atol=1e-5)
