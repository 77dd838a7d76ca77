"""The energy gate: speech bursts are found where they are, silence and clicks are not speech."""
import numpy as np

from clavis.runtime import vad

SR = 16000


def signal(bursts, total_s=10.0, noise_db=-65.0, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(total_s * SR)) * 10 ** (noise_db / 20)
    t = np.arange(x.size) / SR
    for a, b in bursts:  # a voiced-like signal: 150 Hz harmonics, -20 dBFS
        m = (t >= a) & (t < b)
        x[m] += 0.1 * (np.sin(2 * np.pi * 150 * t[m]) + 0.5 * np.sin(2 * np.pi * 450 * t[m]))
    return x.astype(np.float32)


def test_bursts_are_found_with_hangover():
    o = vad.VadOptions()
    spans = vad.speech_spans(vad.speech_mask(signal([(1.0, 2.5), (6.0, 6.8)]), o))
    assert len(spans) == 2
    for (a, b), (ra, rb) in zip(spans, [(1.0, 2.5), (6.0, 6.8)]):
        # the hangover pads each side by pad_s; frames are 10 ms and windows 25 ms wide
        assert abs(a - (ra - o.pad_s)) <= 0.03 and abs(b - (rb + o.pad_s)) <= 0.03


def test_silence_and_noise_are_not_speech():
    assert not vad.speech_mask(np.zeros(SR * 5, np.float32)).any()
    assert not vad.speech_mask(signal([], noise_db=-60)).any()


def test_clicks_are_dropped():
    x = signal([(3.0, 3.03)])   # 30 ms: shorter than min_speech_s
    assert not vad.speech_mask(x).any()
    assert vad.speech_mask(signal([(3.0, 3.3)])).any()


def test_helpers():
    m = vad.speech_mask(signal([(2.0, 3.0)]))
    assert vad.has_speech(m, 2.2, 2.4) and not vad.has_speech(m, 5.0, 9.0)
    # +-2 frames: a 25-ms window centred on a frame already overlaps a burst 12.5 ms before it
    assert abs(vad.first_speech_frame(m, 0, m.size) - (2.0 - 0.25) * 100) <= 2
    assert vad.first_speech_frame(m, 400, m.size) is None
