"""`clavis bench kernels`: the measurement code on small shapes and the command's plumbing."""
from __future__ import annotations

import json

import numpy as np
import pytest

from clavis import cli
from clavis.kernels import _C, bench, formats

_REAL_BW = bench.read_bandwidth


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(bench, "DECODE_SHAPES", [(64, 256), (48, 512)])
    monkeypatch.setattr(bench, "PREFILL_SHAPES", [(64, 256)])
    monkeypatch.setattr(bench, "PREFILL_M", 16)
    monkeypatch.setattr(bench, "CACHE_BYTES", 1 << 16)
    monkeypatch.setattr(bench, "read_bandwidth", lambda: _REAL_BW(8 << 20, 2))


def test_random_gguf_is_valid_and_finite():
    rng = np.random.default_rng(0)
    for t in ("q4_0", "q8_0", "f16"):
        data = bench.random_gguf(t, 8, 64, rng)
        assert data.size == formats.row_bytes(t, 64) * 8
        assert np.isfinite(formats.dequantize(data, t, (8, 64))).all()


def test_read_bandwidth_kernel_reads_everything():
    buf = np.ones(2 << 20, np.uint8)
    times = _C.read_bandwidth(buf, 3)
    assert len(times) == 3 and all(t > 0 for t in times)
    with pytest.raises(ValueError, match="reps"):
        _C.read_bandwidth(np.ones(10, np.uint8), 1)


def test_json_output_has_the_documented_fields(small, capsys):
    assert cli.main(["bench", "kernels", "--json", "--threads", "2"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["threads"] == 2 and res["read_bw_gbs"] > 0 and res["read_bw_after_gbs"] > 0
    assert [(d["format"], d["n"], d["k"]) for d in res["decode"]] == [
        (t, n, k) for t in ("q4_0", "q8_0", "f16") for n, k in [(64, 256), (48, 512)]]
    bw = max(res["read_bw_gbs"], res["read_bw_after_gbs"])
    for d in res["decode"]:
        assert d["gbs"] > 0 and d["bw_fraction"] == pytest.approx(d["gbs"] / bw, abs=2e-3)
        assert d["copies"] >= 2
    assert {p["format"] for p in res["prefill"]} == {"q4_0", "q8_0", "f16"}
    assert all(p["m"] == 16 and p["gops"] > 0 for p in res["prefill"])


def test_table_output(small, capsys):
    assert cli.main(["bench", "kernels"]) == 0
    out = capsys.readouterr().out
    assert "memory read bandwidth" in out and "of read bw" in out and "GOP/s" in out
    assert out.count("q4_0") >= 3


def test_bad_threads_is_a_clean_error(capsys):
    assert cli.main(["bench", "kernels", "--threads", "0"]) == 1
    assert "--threads must be between 1 and 1024" in capsys.readouterr().err


def test_help_and_missing_subcommand(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["bench", "kernels", "--help"])
    assert e.value.code == 0 and "read bandwidth" in capsys.readouterr().out
    assert cli.main(["bench"]) == 2


def test_read_bandwidth_stats_best_and_sustained():
    st = bench.read_bandwidth_stats(4 << 20, 4)
    assert st["best"] >= st["sustained"] > 0
