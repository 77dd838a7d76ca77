"""GGUF files: a validating, memory-mapped reader (checked against gguf-py's GGUFReader in the
tests) and a streaming writer (on top of gguf-py's GGUFWriter).

Every structural problem (truncated file, absurd counts, unknown tensor types, data past the end
of the file) is found by `_scan` before anything is allocated: each count is checked against the
bytes left (an array claiming 2**40 elements is refused, where gguf-py's reader would loop or
allocate forever). Every problem becomes a `ClavisError` naming the file and the key or tensor.

Tensor shapes are given in NumPy order: a GGUF weight with ne = [k, n] is shape (n, k).

Reading needs no NumPy: the file is an `mmap` (MappedFile), every tensor a memoryview of it
(`GGUFTensor.view`), so a GGUF model can load and generate in a process that never imports NumPy
(~16 MB of resident set less). `GGUFTensor.data` gives the NumPy view when asked for.
"""
from __future__ import annotations

import operator
import os
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from clavis import ClavisError
# the mapping helpers live in formats.mapped; re-exported, as callers import them from here
from clavis.formats.mapped import (MappedFile, mapped_file, mapped_file_offset,  # noqa: F401
                                   release_mapped)
from clavis.kernels import _C

if TYPE_CHECKING:
    import numpy as np

# ggml type id -> (name, block size in elements, bytes per block). Only the types the
# kernels handle are "supported"; the others are known so the error can name them.
GGML_TYPES = {
    0: ("f32", 1, 4), 1: ("f16", 1, 2), 2: ("q4_0", 32, 18), 3: ("q4_1", 32, 20),
    6: ("q5_0", 32, 22), 7: ("q5_1", 32, 24), 8: ("q8_0", 32, 34), 9: ("q8_1", 32, 36),
    10: ("q2_k", 256, 84), 11: ("q3_k", 256, 110), 12: ("q4_k", 256, 144),
    13: ("q5_k", 256, 176), 14: ("q6_k", 256, 210), 15: ("q8_k", 256, 292),
    16: ("iq2_xxs", 256, 66), 17: ("iq2_xs", 256, 74), 18: ("iq3_xxs", 256, 98),
    19: ("iq1_s", 256, 50), 20: ("iq4_nl", 32, 18), 21: ("iq3_s", 256, 110),
    22: ("iq2_s", 256, 82), 23: ("iq4_xs", 256, 136), 24: ("i8", 1, 1), 25: ("i16", 1, 2),
    26: ("i32", 1, 4), 27: ("i64", 1, 8), 28: ("f64", 1, 8), 29: ("iq1_m", 256, 56),
    30: ("bf16", 1, 2), 34: ("tq1_0", 256, 54), 35: ("tq2_0", 256, 66),
}
TYPE_IDS = {name: tid for tid, (name, _, _) in GGML_TYPES.items()}
SUPPORTED_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0")

GGUF_MAGIC = b"GGUF"
MAX_DIMS = 4
DEFAULT_ALIGNMENT = 32

# GGUF value types: id -> (struct format or None, size)
_SCALARS = {0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
            6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8)}
_STRING, _ARRAY = 8, 9


def tensor_nbytes(type_name: str, shape: tuple[int, ...]) -> int:
    """Bytes of a tensor of `type_name` with NumPy-order `shape` (last dim = rows' length)."""
    _, block, size = GGML_TYPES[TYPE_IDS[type_name]]
    n = 1
    for d in shape:
        n *= int(d)
    return n // block * size


@dataclass
class GGUFTensor:
    name: str
    type: str                 # "f32", "q4_0", ...
    shape: tuple[int, ...]    # NumPy order: (n, k) for a weight with ne = [k, n]
    view: memoryview          # the raw bytes (format "B"), memory-mapped (no copy)
    offset: int = 0           # where they start in the file

    @property
    def nbytes(self) -> int:
        return len(self.view)

    def read(self) -> bytes:
        """A copy of the raw bytes read from the file (pread), without touching the mapping: for
        small tensors (norms, biases), whose page-cache folio (up to 2 MiB with large folios)
        would otherwise be mapped into this process along with them."""
        found = mapped_file(self.view)
        if found is None:
            return bytes(self.view)
        m, off = found
        try:
            got = m.pread(off, self.nbytes)
        except OSError as e:
            raise ClavisError(f"{m.path}: reading tensor {self.name!r}: {e}") from None
        if len(got) != self.nbytes:
            raise ClavisError(f"{m.path}: short read of tensor {self.name!r} (file changed or "
                              "truncated since it was opened)")
        return got

    @property
    def data(self) -> "np.ndarray":
        """The raw bytes as a read-only uint8 NumPy array over the mapping (no copy)."""
        import numpy as np
        return np.frombuffer(self.view, dtype=np.uint8)

    def to_f32(self) -> "np.ndarray":
        """The tensor as float32 (a copy) in its NumPy shape; for small tensors and tests."""
        import numpy as np
        if self.type == "f32":
            return self.data.view(np.float32).reshape(self.shape).copy()
        if self.type == "f16":
            return self.data.view(np.float16).reshape(self.shape).astype(np.float32)
        if self.type == "bf16":
            u = self.data.view(np.uint16).astype(np.uint32) << 16
            return u.view(np.float32).reshape(self.shape)
        from clavis.kernels import formats as kformats
        return kformats.dequantize(self.data, self.type, self.shape)


class GGUFFile:
    """A validated GGUF file: `.metadata` (key -> Python value), `.tensors` (name -> GGUFTensor)."""

    def __init__(self, path: str, metadata: dict[str, Any], tensors: dict[str, GGUFTensor], reader):
        self.path = path
        self.metadata = metadata
        self.tensors = tensors
        self._reader = reader  # the MappedFile: keeps the memory map alive

    @property
    def arch(self) -> str:
        return str(self.require("general.architecture"))

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)

    def require(self, key: str) -> Any:
        if key not in self.metadata:
            raise ClavisError(f"{self.path}: missing metadata key {key!r}")
        return self.metadata[key]

    def release_pages(self) -> None:
        """Take all of the file's pages out of this process's resident set, for once everything
        needed has been copied out: with large page-cache folios, touching one small tensor maps
        up to 2 MiB, and releasing tensor by tensor leaves the neighbours of each range mapped."""
        self._reader.release()

    def tensor(self, name: str) -> GGUFTensor:
        if name not in self.tensors:
            raise ClavisError(f"{self.path}: missing tensor {name!r}")
        return self.tensors[name]


# ---------------------------------------------------------------------------------------------
# validation before gguf-py reads anything

class _Scan:
    def __init__(self, path: str, buf: memoryview):
        self.path, self.buf, self.size, self.off = path, buf, len(buf), 0

    def fail(self, what: str) -> ClavisError:
        return ClavisError(f"{self.path}: {what}")

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.off + n > self.size:
            raise self.fail(f"file is truncated or corrupt: {what} needs {n} bytes at offset "
                            f"{self.off}, but the file has {self.size} bytes")

    def unpack(self, fmt: str, size: int, what: str):
        self.need(size, what)
        v = struct.unpack_from(fmt, self.buf, self.off)[0]
        self.off += size
        return v

    def string(self, what: str) -> str:
        n = self.unpack("<Q", 8, f"length of {what}")
        self.need(n, what)
        raw = bytes(self.buf[self.off:self.off + n])
        self.off += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not valid UTF-8") from None

    def value(self, vtype: int, what: str, depth: int = 0) -> Any:
        """Read one metadata value, checking every size against the bytes left first."""
        if vtype in _SCALARS:
            fmt, size = _SCALARS[vtype]
            return self.unpack(fmt, size, what)
        if vtype == _STRING:
            return self.string(what)
        if vtype != _ARRAY:
            raise self.fail(f"metadata {what}: unknown value type {vtype}")
        if depth > 2:
            raise self.fail(f"{what}: arrays nested too deeply")
        itype = self.unpack("<I", 4, f"element type of {what}")
        count = self.unpack("<Q", 8, f"element count of {what}")
        if itype in _SCALARS:
            fmt, size = _SCALARS[itype]
            if self.off + count * size > self.size:
                raise self.fail(f"metadata {what}: array claims {count} elements "
                                f"({count * size} bytes) but only {self.size - self.off} bytes remain")
            arr = self.buf[self.off:self.off + count * size]
            self.off += count * size
            return arr.cast(fmt[-1]).tolist() if sys.byteorder == "little" else \
                list(struct.unpack(f"<{count}{fmt[-1]}", arr))
        if itype not in (_STRING, _ARRAY):
            raise self.fail(f"metadata {what}: unknown array element type {itype}")
        min_item = 8 if itype == _STRING else 12
        if self.off + count * min_item > self.size:
            raise self.fail(f"metadata {what}: array claims {count} elements, more than "
                            f"the {self.size - self.off} remaining bytes can hold")
        if itype == _STRING:
            return self.strings(count, what)
        return [self.value(itype, f"{what}[{i}]", depth + 1) for i in range(count)]

    def strings(self, count: int, what: str) -> "GGUFStringArray":
        """A string array, every length checked against the bytes left in one C pass; the
        strings themselves are decoded when asked for (GGUFStringArray)."""
        offsets, bad = _C.gguf_string_offsets(self.buf, self.off, count)
        if bad is not None:
            i, self.off, n, is_length = bad
            self.need(n, f"length of {what}[{i}]" if is_length else f"{what}[{i}]")
        offsets = memoryview(offsets).cast("q")
        self.off = int(offsets[-1])
        return GGUFStringArray(self.buf, offsets)


class GGUFStringArray(Sequence):
    """A GGUF array of strings, read-only and lazy: len(), indexing (a slice gives a list),
    iteration, == with a list; each string is decoded from the memory-mapped file when asked
    for (str(raw, "utf-8", "replace")), never cached, so a 150k-token vocabulary costs no
    Python objects until used. `raw()` gives (buffer, offsets) for the C helpers: element i's
    8-byte length starts at offsets[i], its bytes end at offsets[i + 1]."""

    __slots__ = ("_buf", "_off")
    __hash__ = None

    def __init__(self, buf, offsets):
        # offsets: int64 (memoryview "q" or array), of len + 1
        self._buf, self._off = memoryview(buf).cast("B"), offsets

    def raw(self) -> tuple[memoryview, Any]:
        return self._buf, self._off

    def release_pages(self) -> None:
        """Take the array's file pages out of this process's resident set (release_mapped).
        For after a one-time bulk read."""
        release_mapped(self._buf, int(self._off[0]), int(self._off[-1]))

    def to_list(self) -> list[str]:
        """All the strings at once (one C pass)."""
        return _C.gguf_strings(self._buf, self._off)

    def _raw(self, i: int) -> memoryview:
        return self._buf[int(self._off[i]) + 8:int(self._off[i + 1])]

    def raw_bytes(self, i: int) -> bytes:
        return bytes(self._raw(i))

    def __len__(self) -> int:
        return len(self._off) - 1

    def __getitem__(self, i):
        n = len(self)
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(n))]
        i = operator.index(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("GGUF string array index out of range")
        return str(self._raw(i), "utf-8", "replace")

    def __iter__(self):
        buf, off = self._buf, self._off.tolist()
        for a, b in zip(off[:-1], off[1:]):
            yield str(buf[a + 8:b], "utf-8", "replace")

    def __eq__(self, other):
        if not isinstance(other, (list, tuple, GGUFStringArray)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __repr__(self):
        head = ", ".join(repr(s) for s in self[:3])
        return f"GGUFStringArray([{head}{', ...' if len(self) > 3 else ''}], len={len(self)})"


def _scan(path: str, buf: memoryview) -> tuple[dict, list, int]:
    """Parse and validate the header: (metadata, tensor infos, start of the tensor data)."""
    s = _Scan(path, buf)
    s.need(4, "magic")
    if bytes(buf[:4]) != GGUF_MAGIC:
        raise s.fail(f"not a GGUF file (magic {bytes(buf[:4])!r}, expected b'GGUF')")
    s.off = 4
    version = s.unpack("<I", 4, "version")
    if version not in (2, 3):
        raise s.fail(f"unsupported GGUF version {version} (supported: 2, 3)")
    n_tensors = s.unpack("<Q", 8, "tensor count")
    n_kv = s.unpack("<Q", 8, "metadata count")
    # every kv needs >= 12 bytes, every tensor info >= 24
    if n_kv * 12 + n_tensors * 24 > s.size - s.off:
        raise s.fail(f"header claims {n_kv} metadata keys and {n_tensors} tensors, "
                     f"more than the {s.size} byte file can hold")
    metadata: dict[str, Any] = {}
    for i in range(n_kv):
        key = s.string(f"metadata key #{i}")
        vtype = s.unpack("<I", 4, f"type of metadata {key!r}")
        if key in metadata:
            raise s.fail(f"metadata key {key!r} appears twice")
        metadata[key] = s.value(vtype, repr(key))
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise s.fail(f"metadata 'general.alignment' = {alignment!r} is not a power of two")
    infos = []
    for i in range(n_tensors):
        name = s.string(f"name of tensor #{i}")
        n_dims = s.unpack("<I", 4, f"dimension count of tensor {name!r}")
        if not 1 <= n_dims <= MAX_DIMS:
            raise s.fail(f"tensor {name!r} has {n_dims} dimensions (1..{MAX_DIMS} allowed)")
        dims = [s.unpack("<Q", 8, f"dimensions of tensor {name!r}") for _ in range(n_dims)]
        tid = s.unpack("<I", 4, f"type of tensor {name!r}")
        offset = s.unpack("<Q", 8, f"data offset of tensor {name!r}")
        infos.append((name, dims, tid, offset))
    data_start = -(-s.off // alignment) * alignment
    _check_tensors(s, infos, data_start, alignment)
    return metadata, infos, data_start


def _check_tensors(s: _Scan, infos, data_start: int, alignment: int) -> None:
    seen = set()
    for name, dims, tid, offset in infos:
        if name in seen:
            raise s.fail(f"tensor {name!r} appears twice")
        seen.add(name)
        if tid not in GGML_TYPES:
            raise s.fail(f"tensor {name!r} has unknown ggml type id {tid}")
        tname, block, bsize = GGML_TYPES[tid]
        if any(d == 0 for d in dims) or dims[0] % block:
            raise s.fail(f"tensor {name!r} ({tname}) has invalid dimensions {dims}")
        n = 1
        for d in dims:
            n *= d
        nbytes = n // block * bsize
        if offset % alignment:
            raise s.fail(f"tensor {name!r} data offset {offset} is not {alignment}-aligned")
        if data_start + offset + nbytes > s.size:
            raise s.fail(f"file is truncated: tensor {name!r} ({tname}, dims {dims}) needs bytes "
                         f"{data_start + offset}..{data_start + offset + nbytes}, but the file "
                         f"has {s.size} bytes")


def read_gguf(path: str | os.PathLike) -> GGUFFile:
    """Open and validate a GGUF file; tensor data stays memory-mapped (no copy).

    The header is parsed here rather than by gguf-py's GGUFReader: the reader trusts counts it
    has not checked (a 2**40-element array), and it builds a NumPy array per string, which takes
    ~10 s for a 150k-token vocabulary (ours: ~0.3 s). tests/formats checks that both agree."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ClavisError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise ClavisError(f"{path}: file is empty")
    try:
        mf = MappedFile(path)
    except (OSError, ValueError) as e:
        raise ClavisError(f"{path}: cannot map the file: {e}") from None
    buf = mf.view
    metadata, infos, data_start = _scan(path, buf)
    tensors = {}
    for name, dims, tid, offset in infos:
        tname = GGML_TYPES[tid][0]
        shape = tuple(int(d) for d in reversed(dims))
        a = data_start + offset
        tensors[name] = GGUFTensor(name, tname, shape, buf[a:a + tensor_nbytes(tname, shape)], a)
    return GGUFFile(path, metadata, tensors, mf)


# ---------------------------------------------------------------------------------------------
# writing

@dataclass
class TensorSpec:
    name: str
    type: str                 # "f32" | "f16" | "q8_0" | "q4_0" | "bf16"
    shape: tuple[int, ...]    # NumPy order


def _add_kv(w, key: str, value: Any) -> None:
    import numpy as np
    from gguf import GGUFValueType
    if isinstance(value, bool):
        w.add_bool(key, value)
    elif isinstance(value, (int, np.integer)):
        w.add_uint32(key, int(value)) if value >= 0 else w.add_int32(key, int(value))
    elif isinstance(value, (float, np.floating)):
        w.add_float32(key, float(value))
    elif isinstance(value, str):
        w.add_string(key, value)
    elif isinstance(value, (list, tuple, np.ndarray, GGUFStringArray)):
        value = list(value.tolist() if isinstance(value, np.ndarray) else value)
        if value and isinstance(value[0], (int, np.integer)) and not isinstance(value[0], bool):
            w.add_key_value(key, [int(v) for v in value], GGUFValueType.ARRAY,
                            sub_type=GGUFValueType.INT32)
        elif value and isinstance(value[0], (float, np.floating)):
            w.add_key_value(key, [float(v) for v in value], GGUFValueType.ARRAY,
                            sub_type=GGUFValueType.FLOAT32)
        else:
            w.add_array(key, value)
    else:
        raise ClavisError(f"metadata {key!r}: cannot store a {type(value).__name__} in GGUF")


def write_gguf(path: str | os.PathLike, arch: str, metadata: dict[str, Any],
               specs: list[TensorSpec], produce: Callable[[TensorSpec], "np.ndarray"],
               progress: Callable[[TensorSpec], None] | None = None) -> None:
    """Write a GGUF file tensor by tensor: `produce(spec)` returns the tensor's bytes (any dtype,
    exactly tensor_nbytes(spec.type, spec.shape) bytes), so nothing is held beyond one tensor.
    Integers become uint32 (int32 when negative), floats float32, as llama.cpp expects."""
    import gguf
    import numpy as np
    w = gguf.GGUFWriter(os.fspath(path), arch, use_temp_file=False)
    for key, value in metadata.items():
        if key != "general.architecture":
            _add_kv(w, key, value)
    for spec in specs:
        w.add_tensor_info(spec.name, spec.shape, np.dtype(np.float32),
                          tensor_nbytes(spec.type, spec.shape),
                          raw_dtype=gguf.GGMLQuantizationType(TYPE_IDS[spec.type]))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    try:
        for spec in specs:
            data = np.ascontiguousarray(produce(spec))
            want = tensor_nbytes(spec.type, spec.shape)
            if data.nbytes != want:
                raise ClavisError(f"tensor {spec.name!r}: produced {data.nbytes} bytes, "
                                  f"expected {want} for {spec.type} {spec.shape}")
            w.write_tensor_data(data)
            if progress:
                progress(spec)
    finally:
        w.close()


def iter_specs(tensors: Iterable[tuple[str, str, tuple[int, ...]]]) -> list[TensorSpec]:
    return [TensorSpec(n, t, tuple(s)) for n, t, s in tensors]
