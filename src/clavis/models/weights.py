"""Where a model's weights come from: a GGUF file (raw quantized bytes, memory-mapped) or a
Hugging Face folder (safetensors, quantized at load). Both answer in GGUF tensor names and the
GGUF layout, so the model code sees one convention.

`WeightSource.packed(name)` -> kernels.matmul.PackedWeight, `.f32(name)` -> small f32 arrays
(norms, biases), `.table(name)` -> (raw bytes, type) for embedding row lookups.

A GGUF source needs no NumPy (buffers: memoryviews of the mapped file, array("f") for the small
f32 tensors); an HF source works in NumPy arrays.
"""
from __future__ import annotations

import os
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Callable

from clavis import ClavisError
from clavis.formats.gguf import SUPPORTED_TYPES
from clavis.formats.mapped import mapped_file, mapped_file_offset, release_mapped

if TYPE_CHECKING:
    import numpy as np

QUANTS = ("f32", "f16", "q8_0", "q4_0")


class WeightSource:
    path: str

    def has(self, name: str) -> bool:
        raise NotImplementedError

    def shape(self, name: str) -> tuple[int, ...]:
        raise NotImplementedError

    def packed(self, name: str):
        raise NotImplementedError

    def packed_group(self, names: list[str]) -> list:
        """The weights `names` (a layer's), packed one after another into one buffer where the
        source can (kernels.matmul.pack_together), else one by one."""
        return [self.packed(n) for n in names]

    def f32(self, name: str):
        raise NotImplementedError

    def table(self, name: str) -> tuple[object, str]:
        raise NotImplementedError

    def table_rows(self, name: str) -> "TableRows":
        """Row lookups in an embedding table (see TableRows)."""
        data, type_ = self.table(name)
        return TableRows(data, type_, self.shape(name)[0], self.path)

    def check_type(self, name: str) -> None:
        """ClavisError when the tensor's storage type cannot be run."""


class GGUFSource(WeightSource):
    """Tensors in the kernels' types (f32/f16/bf16/q8_0/q4_0) are used as stored. Others that
    gguf-py can dequantize (K-quants such as the Q6_K output layer of llama.cpp's "Q4_0" files,
    Q4_1/Q5_x, IQ*) are re-quantized at load to REQUANT; `.requantized` lists them."""

    REQUANT = "q8_0"
    # Q8_0 layer weights start on a zero-copy variant (straight from the mapped file, so loading
    # copies nothing) and the model packs them into tiles afterwards, in the background
    # (LlamaModel.pack_deferred): the packed tiles decode faster (1B Q8_0: 1.47x at ~66 GB/s).
    # The output head (a fifth of a 1B's bytes, used by every forward) is packed at load.
    DEFER_TYPES = ("q8_0",)
    defer_pack = True

    def __init__(self, gf):
        self.gf, self.path = gf, gf.path
        self.requantized: list[tuple[str, str]] = []

    def has(self, name):
        return name in self.gf.tensors

    def shape(self, name):
        return self.gf.tensor(name).shape

    def check_type(self, name):
        t = self.gf.tensor(name)
        if t.type not in SUPPORTED_TYPES:
            self._dequant(t, rows=1)

    def _dequant(self, t, rows: int | None = None) -> "np.ndarray":
        """f32 values of a tensor in a type the kernels lack (gguf-py's NumPy dequantizers)."""
        import gguf
        import numpy as np
        from clavis.formats.gguf import TYPE_IDS
        n_rows = int(np.prod(t.shape[:-1], dtype=np.int64)) if len(t.shape) > 1 else 1
        data = np.asarray(t.data).reshape(n_rows, -1)
        try:
            qtype = gguf.GGMLQuantizationType(TYPE_IDS[t.type])
            out = gguf.quants.dequantize(data[:rows] if rows else data, qtype)
        except (NotImplementedError, ValueError, KeyError, gguf.quants.QuantError):
            raise ClavisError(f"{self.path}: tensor {t.name!r} has type {t.type.upper()}, which "
                              f"clavis cannot run or convert (kernels: "
                              f"{', '.join(SUPPORTED_TYPES)}); use a Q4_0/Q8_0/F16 file") from None
        return np.ascontiguousarray(out, dtype=np.float32).reshape(-1 if rows else t.shape[0],
                                                                    *t.shape[1:])

    def _requant(self, name) -> "np.ndarray":
        t = self.gf.tensor(name)
        self.requantized.append((name, t.type))
        return self._dequant(t)

    def packed(self, name):
        from clavis.kernels import matmul as kmm
        t = self.gf.tensor(name)
        n, k = t.shape
        if t.type in SUPPORTED_TYPES:
            raw = (kmm.zero_copy_variant(t.type) if self.defer_pack and t.type in self.DEFER_TYPES
                   and name.startswith("blk.") else None)   # the output head is packed now
            if raw is not None:
                return kmm.PackedWeight(t.view, t.type, n, k, variant=raw)  # its pages stay
            w = kmm.PackedWeight(t.view, t.type, n, k)
        else:
            w = kmm.PackedWeight(self._requant(name), self.REQUANT if k % 32 == 0 else "f16", n, k)
        if not w.raw:
            release_mapped(t.view)   # packed: the file's copy need not stay resident (peak RSS)
        return w   # raw (zero-copy): w.packed IS the mapped file slice; its pages are the weight

    def packed_group(self, names):
        from clavis.kernels import matmul as kmm
        ts = [self.gf.tensor(n) for n in names]
        deferred = self.defer_pack and any(t.type in self.DEFER_TYPES for t in ts)
        if deferred or any(t.type not in SUPPORTED_TYPES or len(t.shape) != 2 for t in ts):
            return super().packed_group(names)   # zero-copy first (Q8_0) or re-quantized
        # each tensor's file pages are released once it is packed (peak RSS)
        ws = kmm.pack_together([(t.view, t.type, t.shape[0], t.shape[1]) for t in ts],
                               packed=lambda i: release_mapped(ts[i].view))
        return super().packed_group(names) if ws is None else ws

    def f32(self, name):
        """The tensor's values as a flat array("f") (norms, biases: small; no NumPy)."""
        from array import array
        from clavis.kernels import formats as kformats
        t = self.gf.tensor(name)
        if t.type not in SUPPORTED_TYPES:
            return array("f", self._dequant(t).reshape(-1).tobytes())
        n = 1
        for d in t.shape:
            n *= d
        return kformats.dequantize_values(t.read(), t.type, n)   # pread: no folio mapped

    def table(self, name):
        from clavis.kernels import formats as kformats
        t = self.gf.tensor(name)
        if t.type in SUPPORTED_TYPES:
            return t.view, t.type
        import numpy as np
        arr = self._requant(name)
        q = self.REQUANT if arr.shape[-1] % 32 == 0 else "f16"
        return np.ascontiguousarray(kformats.quantize(arr, q)).reshape(-1), q


class HFSource(WeightSource):
    """`mapping`: GGUF name -> (HF name, transform of the f32 array into the GGUF layout)."""

    def __init__(self, folder, mapping: dict[str, tuple[str, Callable | None]], quant: str,
                 computed: "dict[str, np.ndarray] | None" = None):
        if quant not in QUANTS:
            raise ClavisError(f"unknown quant {quant!r}; choose one of {', '.join(QUANTS)}")
        self.folder, self.path, self.mapping, self.quant = folder, folder.path, mapping, quant
        self.computed = computed or {}

    def has(self, name):
        if name in self.computed:
            return True
        return name in self.mapping and self.mapping[name][0] in self.folder.tensors

    def shape(self, name):
        if name in self.computed:
            return self.computed[name].shape
        return tuple(self.folder.tensor(self.mapping[name][0]).shape)

    def f32(self, name):
        if name in self.computed:
            return self.computed[name]
        if name not in self.mapping:
            raise ClavisError(f"{self.path}: no Hugging Face tensor maps to {name!r}")
        import numpy as np
        hf_name, fn = self.mapping[name]
        arr = self.folder.tensor(hf_name).to_f32()
        return np.ascontiguousarray(fn(arr) if fn else arr, dtype=np.float32)

    def packed(self, name):
        from clavis.kernels import matmul as kmm
        arr = self.f32(name)
        n, k = arr.shape
        return kmm.PackedWeight(arr, self.quant, n, k)

    def table(self, name):
        import numpy as np
        from clavis.kernels import formats as kformats
        arr = self.f32(name)
        if self.quant == "f32":
            return arr.reshape(-1).view(np.uint8), "f32"
        return np.ascontiguousarray(kformats.quantize(arr, self.quant)).reshape(-1), self.quant


def int_list(ids) -> list[int]:
    """Token ids (a sequence, or a NumPy array of any shape) as a flat list of Python ints."""
    return [int(i) for i in (ids.reshape(-1).tolist() if hasattr(ids, "reshape") else ids)]


class TableRows:
    """An embedding table [n_rows, row_bytes] in `type`, read a few rows at a time.

    A table that lives in a memory-mapped file (a GGUF tensor's view, an np.memmap) is read with
    pread(2): touching the mapping would map whole page-cache folios (up to 2 MiB each with
    large folios) into this process, and a 150k-row table touched at random by a prompt would
    grow the RSS by up to its full size. Anything else (memory, or a platform without pread) is
    indexed directly. No NumPy: rows come back as one flat byte memoryview."""

    def __init__(self, data, type_: str, n_rows: int, path: str):
        from clavis.kernels import formats as kformats
        self.type, self.n_rows, self.path = type_, int(n_rows), path
        self.type_id = kformats.type_id(type_)
        mv = memoryview(data)
        if not mv.c_contiguous:
            raise ClavisError(f"{path}: embedding table is not contiguous")
        mv = mv.cast("B") if mv.ndim != 1 or mv.format != "B" else mv
        if mv.nbytes % self.n_rows:
            raise ClavisError(f"{path}: embedding table of {mv.nbytes} bytes is not {n_rows} rows")
        self.row_bytes = mv.nbytes // self.n_rows
        self._data, self._fd, self._off = mv, None, 0
        fd = off = None
        if hasattr(os, "preadv"):
            np = sys.modules.get("numpy")
            if np is not None and isinstance(data, np.memmap):
                if getattr(data, "filename", None):
                    fd, off = os.open(data.filename, os.O_RDONLY), mapped_file_offset(data)
            else:
                found = mapped_file(mv)
                if found is not None and found[0].fd is not None:
                    # the mapped file itself, whatever its path now
                    fd, off = os.dup(found[0].fd), found[1]
        if fd is not None:
            self._off, self._fd = off, fd
            weakref.finalize(self, os.close, fd)

    def gather(self, ids) -> memoryview:
        """The rows `ids` (already range-checked) one after another: a flat byte memoryview of
        len(ids) * row_bytes."""
        ids = int_list(ids)
        rb = self.row_bytes
        out = bytearray(len(ids) * rb)
        if self._fd is None:
            for i, r in enumerate(ids):
                out[i * rb:(i + 1) * rb] = self._data[r * rb:(r + 1) * rb]
        else:
            off, fd, view = self._off, self._fd, memoryview(out)
            for i, r in enumerate(ids):
                if os.preadv(fd, [view[i * rb:(i + 1) * rb]], off + r * rb) != rb:
                    raise ClavisError(f"{self.path}: short read of embedding row {r} (file changed "
                                      "or truncated since it was opened)")
        return memoryview(out)


def permute_qk(w: "np.ndarray", n_head: int) -> "np.ndarray":
    """HF (rotate_half, pairs i and i+D/2) -> GGUF "normal" rope (pairs 2i and 2i+1): within each
    head, new row 2i+j is old row j*D/2+i. Works on weights [H*D, K] and biases [H*D]."""
    hd = w.shape[0] // n_head
    return w.reshape(n_head, 2, hd // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute_qk(w: "np.ndarray", n_head: int) -> "np.ndarray":
    """The inverse of permute_qk (GGUF -> HF)."""
    hd = w.shape[0] // n_head
    return w.reshape(n_head, hd // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


class SwapQueue:
    """Packed copies of zero-copy weights waiting to be swapped in between forwards
    (LlamaModel.pack_deferred). Until swapped, a weight exists twice (the copy, and the file pages
    the forwards still read), so at most `limit` bytes of copies are made ahead: reserve() blocks
    the packer until there is room (a copy larger than the limit goes alone)."""

    def __init__(self, limit: int):
        self.limit, self._bytes, self._items = int(limit), 0, []
        self._cv = threading.Condition()

    def reserve(self, nbytes: int, timeout: float | None = None) -> bool:
        """Room for nbytes more (True), or False after timeout seconds without it."""
        with self._cv:
            if not self._cv.wait_for(lambda: self._bytes == 0 or self._bytes + nbytes <= self.limit,
                                     timeout):
                return False
            self._bytes += nbytes
            return True

    def put(self, item, nbytes: int) -> None:
        with self._cv:
            self._items.append((item, nbytes))

    def take(self) -> list:
        """The copies made so far (their room is given back)."""
        with self._cv:
            items, self._items = self._items, []
            self._bytes -= sum(n for _, n in items)
            self._cv.notify_all()
        return [item for item, _ in items]

    def empty(self) -> bool:
        with self._cv:
            return not self._items
