"""GGUF string arrays are read lazily (GGUFStringArray): they behave like the list gguf-py reads
(an independent reader), decode invalid UTF-8 the same way, and a corrupt element length is still
a ClavisError naming the key and the element."""
from __future__ import annotations

import struct

import gguf
import numpy as np
import pytest

from clavis import ClavisError
from clavis.formats.gguf import GGUFStringArray, read_gguf, write_gguf

STRS = ["a", "", "ß", "héllo 你好", "x" * 1000, "ĠtheQQ", "🦙\n\t\"\\", "last"]


def _file(tmp_path, strs=STRS):
    p = tmp_path / "s.gguf"
    write_gguf(p, "llama", {"x.strs": strs, "x.one": "single", "x.ints": [1, 2]}, [],
               lambda s: None)
    return p


def _gguf_py(p, key):
    return gguf.GGUFReader(str(p)).fields[key].contents()


def test_string_array_behaves_like_a_list(tmp_path):
    p = _file(tmp_path)
    s = read_gguf(p).metadata["x.strs"]
    ref = _gguf_py(p, "x.strs")
    assert isinstance(s, GGUFStringArray) and ref == STRS
    assert s == ref and ref == s and s == tuple(ref) and not s != ref
    assert list(s) == ref and [*iter(s)] == ref and len(s) == len(ref)
    assert [s[i] for i in range(-len(s), len(s))] == ref + ref
    assert s[1:4] == ref[1:4] and s[::-2] == ref[::-2] and s[5:] == ref[5:]
    assert s != ref[:-1] and s != ref[:-1] + ["other"] and s != "a" and s.index("ß") == 2
    assert "ß" in s and s.count("a") == 1
    for bad in (len(s), -len(s) - 1):
        with pytest.raises(IndexError):
            s[bad]
    with pytest.raises(TypeError):
        hash(s)
    assert "'a', '', 'ß', ..." in repr(s) and f"len={len(s)}" in repr(s)
    assert read_gguf(p).metadata["x.ints"] == [1, 2]


def _key(k: str) -> bytes:
    return struct.pack("<Q", len(k)) + k.encode()


def test_empty_string_array(tmp_path):
    kv = _key("general.architecture") + struct.pack("<I", 8) + _key("llama")
    kv += _key("x.strs") + struct.pack("<IIQ", 9, 8, 0)
    p = tmp_path / "empty.gguf"
    p.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 2) + kv)
    empty = read_gguf(p).metadata["x.strs"]
    assert _gguf_py(p, "x.strs") == [] == empty and len(empty) == 0 and list(empty) == []
    assert empty[:] == [] and "len=0" in repr(empty)


def test_raw_offsets_point_at_each_string(tmp_path):
    s = read_gguf(_file(tmp_path)).metadata["x.strs"]
    buf, off = s.raw()
    assert memoryview(off).format == "q" and len(off) == len(STRS) + 1
    for i, text in enumerate(STRS):
        n = struct.unpack_from("<Q", buf, int(off[i]))[0]
        assert n == len(text.encode()) == off[i + 1] - off[i] - 8
        assert s.raw_bytes(i) == text.encode()


def test_invalid_utf8_is_replaced_like_bytes_decode(tmp_path):
    p = _file(tmp_path)
    data = bytearray(p.read_bytes())
    at = data.index(b"QQ")
    data[at:at + 2] = b"\xff\xc3"
    p.write_bytes(bytes(data))
    s = read_gguf(p).metadata["x.strs"]
    raw = "Ġthe".encode() + b"\xff\xc3"
    assert s.raw_bytes(5) == raw and s[5] == raw.decode("utf-8", "replace") == list(s)[5]
    assert "\ufffd" in s[5]


def _length_offset(p, key, k):
    """File offset of the 8-byte length of element k of string array `key`."""
    s = read_gguf(p).metadata[key]
    return int(s.raw()[1][k])


@pytest.mark.parametrize("k", [0, 3, 7])
def test_corrupt_element_length_names_the_element(tmp_path, k):
    p = _file(tmp_path)
    at = _length_offset(p, "x.strs", k)
    data = bytearray(p.read_bytes())
    data[at:at + 8] = struct.pack("<Q", 2**40)
    p.write_bytes(bytes(data))
    with pytest.raises(ClavisError, match=rf"'x\.strs'\[{k}\] needs {2**40} bytes at offset "
                                          rf"{at + 8}, but the file has {len(data)} bytes"):
        read_gguf(p)


def test_length_running_into_the_end_names_the_next_element(tmp_path):
    """Element 4's length leaves 3 bytes in the file: element 5's length field is cut off."""
    p = _file(tmp_path)
    at = _length_offset(p, "x.strs", 4)
    data = bytearray(p.read_bytes())
    data[at:at + 8] = struct.pack("<Q", len(data) - 3 - (at + 8))
    p.write_bytes(bytes(data))
    with pytest.raises(ClavisError, match=rf"length of 'x\.strs'\[5\] needs 8 bytes at offset "
                                          rf"{len(data) - 3}, but the file has {len(data)} bytes"):
        read_gguf(p)


def test_string_array_round_trips_through_the_writer(tmp_path):
    """A GGUFFile's metadata (lazy arrays included) can be written back as it is."""
    src = read_gguf(_file(tmp_path))
    out = tmp_path / "copy.gguf"
    write_gguf(out, "llama", src.metadata, [], lambda s: None)
    assert _gguf_py(out, "x.strs") == STRS and read_gguf(out).metadata["x.strs"] == STRS
