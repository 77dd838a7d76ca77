"""Matrix multiplication Y = X W^T on packed weights (the C micro-kernels in csrc/ukernels/matmul).

    w = PackedWeight(data, type, n, k)     # raw GGUF bytes of W[n, k] (uint8), or float32 [n, k]
    y = matmul(x, w)                       # x f32[M, K] or f32[K] -> y f32[M, N] or f32[N]

The weight is packed once, at construction, into the tile layout of the variant dispatched at that
moment (`w.layout` describes it); later calls always use that variant. A variant whose kernels run
on the raw GGUF rows (`w.layout["raw"]`, e.g. Q8_0 "avx512vnni_raw" and the scalar ones) packs
nothing: `w.packed` is then the caller's uint8 array itself (for a GGUF tensor, a slice of the
memory-mapped file, kept alive by the reference), so loading such a weight copies no bytes. For q8_0/q4_0 weights X is
quantized per call to int8 blocks exactly as GGUF Q8_0, and the integer dot products are exact.

NumPy is the face of `matmul`/`matmul_multi` (imported when they are called); PackedWeight and
`matmul_into` take any buffer (memoryview, array, mmap, NumPy array), so the LLM runtime can
run without NumPy in the process.
"""
from __future__ import annotations

import mmap
import sys
from typing import TYPE_CHECKING

from clavis import ClavisError
from clavis.kernels import _C
from clavis.kernels import formats

if TYPE_CHECKING:
    import numpy as np



HUGE_PAGE = 2 << 20      # buffers from this size start on a 2 MiB boundary (see huge_pages)
FAULT_HUGE_MIN = 64 << 20   # ... and from this size (the output heads) get huge pages at once


def aligned_buffer(nbytes: int, fault_huge: bool | None = None) -> memoryview:
    """A zeroed, writable, page-aligned buffer (a private anonymous mapping: pages are committed
    as they are written and copied on write in a forked child), as a memoryview of format "B".
    From 2 MiB it starts on a 2 MiB boundary (the mapping is 2 MiB longer; the part not used is
    never touched, so it costs address space only), so huge_pages() can back all but its last
    partial 2 MiB with huge pages.

    Below FAULT_HUGE_MIN it is faulted in 4 KiB pages: asking for huge pages at fault time
    (MADV_HUGEPAGE before the first write) for every weight made the 1B's load 0.38-0.58 s
    instead of 0.30 (2 threads, fresh process, on this VM: perf shows the time in clearing fresh
    2 MiB pages, 0.85 s of CPU against 0.18 s for 4 KiB ones); huge_pages() does it after load,
    in the background. The output heads (>= 64 MiB) do ask at once: the 1B Q8_0's 279 MB head
    loads in 0.09-0.19 s that way against 0.12-0.24 s in 4 KiB faults (also right after another
    process freed 7 GB). fault_huge: ask (True) or not (False) whatever the size."""
    n = max(int(nbytes), 1)
    if not hasattr(mmap, "MAP_PRIVATE"):
        return memoryview(mmap.mmap(-1, n))[:int(nbytes)]
    # mmap(-1, n) alone is MAP_SHARED: shmem, shared with a forked child, never huge pages
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    if n < HUGE_PAGE:
        return memoryview(mmap.mmap(-1, n, flags=flags))[:int(nbytes)]
    m = mmap.mmap(-1, n + HUGE_PAGE, flags=flags)
    off = -_C.buffer_address(m)[0] % HUGE_PAGE
    if (n >= FAULT_HUGE_MIN if fault_huge is None else fault_huge) and hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            m.madvise(mmap.MADV_HUGEPAGE)
        except OSError:
            pass
    return memoryview(m)[off:off + int(nbytes)]


def huge_pages(buf, populate: bool = False) -> int:
    """Back the whole 2 MiB pages inside `buf` with transparent huge pages now (Linux >= 6.1,
    MADV_COLLAPSE; contents and concurrent readers are unaffected); returns the bytes that are,
    0 where the kernel cannot (or it is not Linux). A decode streams every weight once per token:
    on 4 KiB pages each page is a TLB miss and a point where the hardware prefetchers stop.
    Measured (the 1B's matvecs in C, 2 threads, interleaved runs): 56-58 GB/s against 51 with
    4 KiB pages at ~49 GB/s of read bandwidth, the same at ~35 GB/s; the read probe itself reads
    62 GB/s from huge pages against 53 from 4 KiB ones. populate: fault in what is not there yet
    first (a buffer filled later: all of it is committed now)."""
    done, _err = _C.huge_pages(buf, bool(populate))
    return int(done)


def _flat_bytes(data, who: str):
    """data as a flat C-contiguous byte buffer (NumPy arrays stay NumPy: an np.memmap keeps its
    file offset), or None when it is float32 values (to be quantized)."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(data, np.ndarray):
        if data.dtype == np.float32:
            return None
        if data.dtype != np.uint8:
            raise ClavisError(f"{who}: data must be uint8 GGUF bytes or float32, got {data.dtype}")
        return data.reshape(-1) if data.flags.c_contiguous else np.ascontiguousarray(data).reshape(-1)
    try:
        mv = memoryview(data)
    except TypeError:
        raise ClavisError(f"{who}: data must be a buffer of GGUF bytes or float32 values, got "
                          f"{type(data).__name__}") from None
    if mv.format == "f":
        return None
    if not mv.c_contiguous:
        raise ClavisError(f"{who}: data must be C-contiguous")
    if mv.format not in ("B", "b", "c"):
        raise ClavisError(f"{who}: data must be uint8 GGUF bytes or float32, got format {mv.format!r}")
    return mv.cast("B") if mv.ndim != 1 or mv.format != "B" else mv


class PackedWeight:
    """A weight W[n, k] packed for the matmul kernels.

    data: raw GGUF bytes of W in `type` (uint8, n * row_bytes(type, k) bytes, any shape), or a
    float32 array of shape [n, k] that is first quantized to `type`.
    Attributes: n, k, type (name), nbytes (packed bytes), variant, layout (dict), raw (the
    variant runs on the raw rows: `packed` is `data` itself, flattened, not a copy).
    """

    def __init__(self, data, type, n: int, k: int, variant: str | None = None, out=None):
        """out: a writable buffer of exactly the packed size (64-byte aligned) to pack into, as
        pack_together does; by default a buffer of its own (aligned_buffer)."""
        self.type = formats.type_name(type)
        tid = formats.type_id(type)
        self.n, self.k = int(n), int(k)
        if self.n < 1 or self.k < 1:
            raise ClavisError(f"PackedWeight: bad shape [{n}, {k}]")
        flat = _flat_bytes(data, "PackedWeight")
        if flat is None:                        # float32 values: quantized first (NumPy)
            import numpy as np
            data = np.asarray(data, dtype=np.float32)
            if data.shape != (self.n, self.k):
                raise ClavisError(f"PackedWeight: float32 weight has shape {data.shape}, "
                                  f"expected [{self.n}, {self.k}]")
            flat = formats.quantize(data, tid).reshape(-1)
        want = formats.row_bytes(tid, self.k) * self.n
        if flat.nbytes != want:
            raise ClavisError(f"PackedWeight: a {self.type} weight [{self.n}, {self.k}] has {want} "
                              f"bytes, got {flat.nbytes}")
        try:
            info = _C.matmul_info(tid, variant)
            if self.k % info["kb"]:
                raise ClavisError(f"PackedWeight: k = {self.k} is not a multiple of {info['kb']} "
                                  f"({self.type})")
            self.variant = info["variant"]
            self.layout = dict(info, n_tiles=-(-self.n // info["nr"]))
            self.raw = bool(info["raw"])
            if self.raw:     # zero-copy: the kernels read these bytes (any alignment) directly
                self.packed = flat
            else:
                size = _C.matmul_packed_size(tid, self.variant, self.n, self.k)
                if out is not None and memoryview(out).nbytes != size:
                    raise ClavisError(f"PackedWeight: out has {memoryview(out).nbytes} bytes, the "
                                      f"packed weight {size}")
                self.packed = aligned_buffer(size) if out is None else out
                _C.matmul_pack(flat, self.packed, tid, self.variant, self.n, self.k)
        except ValueError as e:
            raise ClavisError(f"PackedWeight: {e}") from None
        self._tid = tid
        self.base = self.packed   # the whole buffer the packed bytes live in (pack_together)

    @property
    def nbytes(self) -> int:
        return self.packed.nbytes

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.k)

    def __repr__(self) -> str:
        return (f"PackedWeight({self.type}, n={self.n}, k={self.k}, variant={self.variant!r}, "
                f"layout={self.layout['layout']!r})")


def pack_together(items, packed=None) -> list[PackedWeight] | None:
    """Pack weights one after another into one buffer (a layer's: Q, K, V, Wo, gate, up, down).
    Two gains in a decode: weights that share an input and sit side by side (Q/K/V) are read as
    one weight, one stream per thread instead of three (clv_llm_layers runs a single matvec over
    adjacent weights; llama-3.2-1b's Q/K/V in the C harness, 2 threads: 91-92% of the read
    bandwidth against 75-83% as three); and the huge-page thread leaves only the buffer's last
    partial 2 MiB on 4 KiB pages, once per layer rather than once per weight (the 1B: 74 MiB of
    its layers' 516 stayed on 4 KiB pages as separate buffers). items: (data, type, n, k) as
    PackedWeight takes them; packed(i) is called as soon as part i is packed (to release its
    source). None (nothing packed) unless all have one type, a variant that packs (not raw), and
    packed sizes that keep every part 64-byte aligned."""
    types = {formats.type_id(t) for _, t, _, _ in items}
    if len(items) < 2 or len(types) != 1:
        return None
    tid = types.pop()
    try:
        info = _C.matmul_info(tid, None)
        if info["raw"] or any(int(k) % info["kb"] for _, _, _, k in items):
            return None
        sizes = [_C.matmul_packed_size(tid, info["variant"], int(n), int(k)) for _, _, n, k in items]
    except ValueError:
        return None
    if any(s % 64 for s in sizes):
        return None
    # faulted in 4 KiB pages as the weights' own buffers were (a 7B layer is over FAULT_HUGE_MIN)
    buf, out, off = aligned_buffer(sum(sizes), fault_huge=False), [], 0
    for i, ((data, t, n, k), size) in enumerate(zip(items, sizes)):
        w = PackedWeight(data, t, n, k, variant=info["variant"], out=buf[off:off + size])
        w.base = buf
        out.append(w)
        off += size
        if packed is not None:
            packed(i)
    return out


def weight_buffers(weights) -> list:
    """The distinct buffers behind packed weights (pack_together's parts share one `.base`
    object), each once, in order."""
    return list({id(w.base): w.base for w in weights}.values())


def default_variant(type) -> str:
    """The variant PackedWeight picks for `type` on this CPU now."""
    return _C.matmul_info(formats.type_id(type), None)["variant"]


def zero_copy_variant(type) -> str | None:
    """A variant of `type` that runs on the raw GGUF rows (no packing), when the default one
    packs: loading can start on it and pack later (GGUFSource.defer_pack). None otherwise."""
    tid = formats.type_id(type)
    if _C.matmul_info(tid, None)["raw"]:
        return None
    from clavis.kernels import variants
    for v in variants("matmul_" + formats.type_name(type)):
        if _C.matmul_info(tid, v)["raw"] and v != "scalar":
            return v
    return None


def matmul_into(x, w: PackedWeight, out) -> None:
    """out = X W^T without NumPy: x f32 [M, K] and out f32 [M, N] as 2-D buffers (memoryview
    casts, arrays; C-contiguous). The runtime's decode path."""
    try:
        _C.matmul(x, w.packed, out, w._tid, w.variant, w.n, w.k)
    except (ValueError, TypeError) as e:
        raise ClavisError(f"matmul: {e}") from None


def _out_array(out, shape: tuple[int, ...], who: str) -> "np.ndarray":
    """`out` checked to be a C-contiguous float32 array of `shape`, or a new one when None."""
    import numpy as np
    if out is None:
        return np.empty(shape, dtype=np.float32)
    if (not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.shape != shape
            or not out.flags.c_contiguous):
        raise ClavisError(f"{who}: out must be a C-contiguous float32 array of shape {shape}")
    return out


def matmul(x, w: PackedWeight, out: "np.ndarray | None" = None) -> "np.ndarray":
    """Y = X W^T: x f32[M, K] (or f32[K]) -> f32[M, N] (or f32[N])."""
    import numpy as np
    if not isinstance(w, PackedWeight):
        raise ClavisError(f"matmul: w must be a PackedWeight, got {type(w).__name__}")
    x = np.asarray(x)
    if x.dtype != np.float32:
        raise ClavisError(f"matmul: x must be float32, got {x.dtype}")
    vec = x.ndim == 1
    if x.ndim not in (1, 2):
        raise ClavisError(f"matmul: x must be [M, K] or [K], got shape {x.shape}")
    x2 = np.ascontiguousarray(x.reshape(1, -1) if vec else x)
    if x2.shape[1] != w.k:
        raise ClavisError(f"matmul: x has K = {x2.shape[1]} but the weight is [{w.n}, {w.k}]")
    out = _out_array(out, (w.n,) if vec else (x2.shape[0], w.n), "matmul")
    try:
        _C.matmul(x2, w.packed, out.reshape(x2.shape[0], w.n), w._tid, w.variant, w.n, w.k)
    except (ValueError, TypeError) as e:
        raise ClavisError(f"matmul: {e}") from None
    return out


def matmul_multi(x, ws, outs=None) -> "list[np.ndarray]":
    """[X W_i^T for W_i in ws]: x f32[M, K] -> f32[M, N_i] each (or f32[N_i] for x f32[K]).
    Weights of one type, variant and K (Q/K/V, gate/up) share ONE quantization of X and one
    pool job, which saves per-call work in decode; results equal matmul(x, w_i) bit for bit.
    Mixed weights fall back to one matmul each."""
    ws = list(ws)
    if not ws or not all(isinstance(w, PackedWeight) for w in ws):
        raise ClavisError("matmul_multi: ws must be a non-empty list of PackedWeight")
    if outs is None:
        outs = [None] * len(ws)
    w0 = ws[0]
    same = all(w._tid == w0._tid and w.variant == w0.variant and w.k == w0.k for w in ws)
    if not same or len(ws) > 8:
        return [matmul(x, w, o) for w, o in zip(ws, outs)]
    import numpy as np
    x = np.asarray(x)
    if x.dtype != np.float32 or x.ndim not in (1, 2) or x.shape[-1] != w0.k:
        raise ClavisError(f"matmul_multi: x must be float32 [M, {w0.k}] or [{w0.k}], got "
                          f"{x.dtype} {x.shape}")
    vec = x.ndim == 1
    x2 = np.ascontiguousarray(x.reshape(1, -1) if vec else x)
    res = [_out_array(o, (w.n,) if vec else (x2.shape[0], w.n), "matmul_multi")
           for w, o in zip(ws, outs)]
    try:
        _C.matmul_multi(x2, tuple(w.packed for w in ws),
                        tuple(o.reshape(x2.shape[0], w.n) for o, w in zip(res, ws)),
                        w0._tid, w0.variant, tuple(w.n for w in ws), w0.k)
    except (ValueError, TypeError) as e:
        raise ClavisError(f"matmul_multi: {e}") from None
    return res
