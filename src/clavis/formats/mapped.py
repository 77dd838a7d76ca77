"""Read-only file mappings that clavis can find again from any buffer inside them.

A GGUF file is mapped once (MappedFile); every tensor is a memoryview of it, and packed weights,
string arrays and embedding tables hold such views long after the GGUFFile is gone. To take a
weight's file pages out of the resident set once it has been copied (release_mapped), or to
pread the same bytes without mapping them (mapped_file(...)[0].pread), the mapping is looked up
by address in a registry that lives exactly as long as the mmap does. np.memmap arrays are
understood too (release_mapped, mapped_file_offset), without importing NumPy for anything else.
"""
from __future__ import annotations

import mmap
import os
import sys
import weakref

from clavis import ClavisError
from clavis.kernels import _C


class _Mapping:
    """A registered read-only file mapping: its file, address range and a weak reference to
    the mmap (kept alive by the views into it, not by this record)."""

    def __init__(self, path: str, mm: mmap.mmap, base: int, fd: int):
        self.path, self.base, self.size, self.fd = path, base, len(mm), fd
        self._mm = weakref.ref(mm, self._gone)
        _MAPPINGS[base] = self

    def _gone(self, ref) -> None:
        # the address may already belong to a newer mapping: only our own entry goes
        if _MAPPINGS.get(self.base) is self:
            del _MAPPINGS[self.base]
        fd, self.fd = self.fd, None
        if fd is not None:
            try:
                os.close(fd)
            except Exception:  # noqa: BLE001 - at interpreter exit os may be half torn down
                pass

    def pread(self, offset: int, n: int) -> bytes:
        """n bytes at `offset` of the mapped file, read (pread) from the descriptor it was mapped
        from, not through the mapping (so no page-cache folio is mapped); the same file even if
        its path has been renamed or replaced since."""
        if self.fd is None or not hasattr(os, "pread"):
            mm = self._mm()
            if mm is None:
                raise ClavisError(f"{self.path}: the file's mapping is gone")
            return bytes(memoryview(mm)[offset:offset + n])
        return os.pread(self.fd, n, offset)

    def release(self, start: int = 0, end: int | None = None) -> None:
        """Drop bytes [start, end) from the resident set (whole pages: the partial ones at both
        ends go too); they stay in the page cache and fault back in if read again."""
        mm = self._mm()
        end = self.size if end is None else min(int(end), self.size)
        a = max(int(start), 0) // mmap.PAGESIZE * mmap.PAGESIZE
        if mm is not None and end > a and hasattr(mmap, "MADV_DONTNEED"):
            try:
                mm.madvise(mmap.MADV_DONTNEED, a, end - a)
            except (OSError, ValueError):
                pass


# live mappings by start address; an entry goes when its mmap does (the last view released)
_MAPPINGS: "dict[int, _Mapping]" = {}


class MappedFile:
    """A whole file mapped read-only: `view` is what the header is parsed from and what every
    tensor's view slices. The mapping stays registered (release_mapped, mapped_file) for as long
    as any view into it lives."""

    def __init__(self, path: str):
        with open(path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            fd = os.dup(f.fileno())     # for pread: the mapped file itself, whatever its path
        self.path, self.view = path, memoryview(mm)
        self.mapping = _Mapping(path, mm, _C.buffer_address(self.view)[0], fd)

    def release(self, start: int = 0, end: int | None = None) -> None:
        self.mapping.release(start, end)


def mapped_file(buf) -> "tuple[_Mapping, int] | None":
    """(the mapping: .path, .release(), and the byte offset in its file) of a buffer that lies
    inside a live mapping (a tensor's view, a NumPy array over one), else None."""
    try:
        addr, n = _C.buffer_address(buf)
    except (TypeError, ValueError):
        return None
    for m in list(_MAPPINGS.values()):
        if m.base <= addr and addr + n <= m.base + m.size and m._mm() is not None:
            return m, addr - m.base
    return None


def _memmap_root(arr):
    """The np.memmap that owns the mapping a (sliced, reshaped) np.memmap views."""
    import numpy as np
    root = arr
    while isinstance(getattr(root, "base", None), np.memmap):
        root = root.base
    return root


def _is_memmap(arr) -> bool:
    np = sys.modules.get("numpy")     # no NumPy loaded: no np.memmap can exist
    return np is not None and isinstance(arr, np.memmap)


def mapped_file_offset(arr) -> int:
    """Byte offset in its file of a buffer's first byte: an np.memmap (slices inherit the root's
    `offset` attribute, so it is measured from the root) or a buffer inside a MappedFile."""
    if _is_memmap(arr):
        root = _memmap_root(arr)
        return int(arr.ctypes.data - root.ctypes.data) + int(root.offset)
    found = mapped_file(arr)
    if found is None:
        raise ClavisError("mapped_file_offset: the buffer is not inside a mapped file")
    return found[1]


def release_mapped(arr, start: int = 0, end: int | None = None) -> None:
    """Drop bytes [start, end) of `arr` (default: all of it) from this process's resident set:
    `arr` a read-only np.memmap or a view of one, or any buffer inside a MappedFile (a GGUF
    tensor's view). The pages stay in the page cache and fault back in if read again (whole
    pages, so the partial ones at both ends go too). Anything else is left alone: on anonymous
    or writable memory MADV_DONTNEED would lose data. Best effort: only the resident-set size is
    at stake."""
    if not hasattr(mmap, "MADV_DONTNEED"):
        return
    if not _is_memmap(arr):
        found = mapped_file(arr)
        if found is not None:
            m, off = found
            n = len(memoryview(arr).cast("B"))
            m.release(off + start, off + (n if end is None else end))
        return
    if arr.flags.writeable or arr.nbytes == 0:
        return
    root = _memmap_root(arr)
    m = getattr(root, "_mmap", None)
    if m is None:
        return
    base = root.ctypes.data - int(root.offset) % mmap.ALLOCATIONGRANULARITY   # the mapping's start
    a = arr.ctypes.data + start - base
    b = arr.ctypes.data + (arr.nbytes if end is None else end) - base
    a = a // mmap.PAGESIZE * mmap.PAGESIZE
    if b > a:
        try:
            m.madvise(mmap.MADV_DONTNEED, a, b - a)
        except (OSError, ValueError):
            pass
