"""Packed weights on transparent huge pages (kernels.matmul.aligned_buffer / huge_pages, and the
LLM's background thread that moves a loaded model's weights there): buffers from 2 MiB start on
a 2 MiB boundary, huge_pages() backs their whole 2 MiB pages with huge pages (checked in
/proc/self/smaps), and nothing a kernel computes from them changes."""
import os
import platform
import re
import sys

import numpy as np
import pytest

from clavis.kernels import _C
from clavis.kernels import matmul as mm

H = 2 << 20
THP = "/sys/kernel/mm/transparent_hugepage/enabled"


def thp_mode() -> str:
    try:
        return re.search(r"\[(\w+)\]", open(THP).read()).group(1)
    except (OSError, AttributeError):
        return "none"


def kernel_version() -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", platform.release())
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def no_thp_reason() -> str | None:
    if sys.platform != "linux":
        return f"transparent huge pages are Linux's ({sys.platform})"
    if thp_mode() not in ("always", "madvise"):
        return f"transparent huge pages are off here ({THP}: {thp_mode()})"
    if kernel_version() < (6, 1):
        return f"MADV_COLLAPSE needs Linux 6.1, this is {platform.release()}"
    return None


_NO_THP = no_thp_reason()
needs_thp = pytest.mark.skipif(_NO_THP is not None, reason=str(_NO_THP))


def anon_huge_kb(addr: int) -> int:
    """AnonHugePages (kB) of the mapping that holds addr, from /proc/self/smaps."""
    inside = False
    for line in open("/proc/self/smaps"):
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", line)
        if m:
            inside = int(m.group(1), 16) <= addr < int(m.group(2), 16)
        elif inside and line.startswith("AnonHugePages:"):
            return int(line.split()[1])
    raise AssertionError(f"no mapping holds {addr:#x}")


@pytest.mark.parametrize("n", [1, 4096, H - 1, H, H + 1, 9 * H + 12345])
def test_aligned_buffer(n):
    b = mm.aligned_buffer(n)
    addr, nbytes = _C.buffer_address(b)
    assert nbytes == n and addr % 4096 == 0
    if n >= H:
        assert addr % H == 0
    assert not any(b[:: max(1, n // 1000)])           # zeroed
    b[0] = b[n - 1] = 7                                # writable to the last byte
    assert b[0] == b[n - 1] == 7


@needs_thp
def test_huge_pages_backs_whole_pages_and_keeps_results():
    rng = np.random.default_rng(5)
    n, k = 4096, 1024                                  # Q4_0: 2.25 MiB packed
    data = rng.integers(0, 256, (n, k // 32, 18), dtype=np.uint8)
    data[:, :, :2] = np.frombuffer(np.float16(0.01).tobytes(), np.uint8)
    w = mm.PackedWeight(data.reshape(-1), "q4_0", n, k)
    x = rng.standard_normal((3, k)).astype(np.float32)
    before = bytes(w.packed)
    want = mm.matmul(x, w)
    addr, nbytes = _C.buffer_address(w.packed)
    assert anon_huge_kb(addr) == 0                     # faulted in 4 KiB pages at pack time
    done = mm.huge_pages(w.packed)
    assert done == nbytes // H * H > 0                 # every whole 2 MiB page (start aligned)
    assert anon_huge_kb(addr) * 1024 >= done
    assert bytes(w.packed) == before
    np.testing.assert_array_equal(mm.matmul(x, w), want)
    assert mm.huge_pages(w.packed) == done             # again: already huge, nothing to do
    assert mm.huge_pages(mm.aligned_buffer(H - 1)) == 0


@needs_thp
def test_llm_moves_its_weights_to_huge_pages(monkeypatch, tmp_path):
    from clavis.models import zoo
    from clavis.runtime.llm import LLM
    gguf = str(tmp_path / "m.gguf")
    tiny = zoo.SHAPES["tiny-llama"]                    # wider: FFN weights of 1024 x 6144, 3.4 MiB
    monkeypatch.setitem(zoo.SHAPES, "tiny-llama-wide", zoo.Shape(
        tiny.arch, dict(tiny.args, dim=1024, n_heads=8, head_dim=128, ffn_dim=6144, n_layers=1),
        tiny.vocab))
    zoo.make("tiny-llama-wide", gguf, "q4_0", seed=11)
    ids = [int(i) for i in np.random.default_rng(2).integers(1, 300, 24)]
    real = mm.huge_pages
    monkeypatch.setattr(mm, "huge_pages", lambda buf, populate=False: 0)
    ref = LLM.load(gguf, n_ctx=64)
    assert ref.wait_huge_pages(60) and ref.huge_page_bytes == 0
    want = ref.logits(ids)
    monkeypatch.setattr(mm, "huge_pages", real)
    llm = LLM.load(gguf, n_ctx=4096)                  # its KV cache: 4 MiB
    assert llm.wait_huge_pages(60)
    assert llm.huge_page_error is None and llm.huge_page_bytes >= H
    kv = _C.buffer_address(llm.kv.arena)       # the KV cache (small): committed, huge pages
    assert kv[1] >= 2 * H and anon_huge_kb(kv[0]) * 1024 == kv[1] // H * H
    layer = llm.model.layers[0].w_gate.base         # the layer's weights: one buffer
    assert anon_huge_kb(_C.buffer_address(layer)[0]) * 1024 == layer.nbytes // H * H
    np.testing.assert_array_equal(llm.logits(ids), want)
    assert os.getpriority(os.PRIO_PROCESS, 0) == 0     # only the background thread was niced
