"""Embedding rows read from the GGUF file with pread (models.weights.TableRows) instead of through
the memory map: the same bytes as the mapped table (and as gguf-py's reader), the file offset of a
sliced np.memmap, the in-memory fallback, and a clear error when the file shrank under us."""
import os
import shutil

import gguf
import numpy as np
import pytest

from clavis import ClavisError
from clavis.formats.gguf import mapped_file_offset, read_gguf
from clavis.models.weights import GGUFSource, TableRows


@pytest.mark.parametrize("quant", ["q4_0", "q8_0", "f16", "f32"])
def test_pread_rows_equal_the_file(tiny_models, quant):
    path, _ = tiny_models("tiny-llama", quant)
    gf = read_gguf(path)
    rows = GGUFSource(gf).table_rows("token_embd.weight")
    assert rows._fd is not None                              # the pread route
    t = gf.tensor("token_embd.weight")
    # independent: gguf-py's reader gives the tensor's raw bytes and its file offset
    ref = next(x for x in gguf.GGUFReader(path).tensors if x.name == "token_embd.weight")
    assert rows._off == int(ref.data_offset)
    table = np.asarray(ref.data).view(np.uint8).reshape(t.shape[0], -1)
    ids = np.array([0, 5, t.shape[0] - 1, 5, 17], dtype=np.int32)
    got = np.asarray(rows.gather(ids)).reshape(len(ids), -1)
    np.testing.assert_array_equal(got, table[ids])
    assert len(rows.gather(np.array([], dtype=np.int32))) == 0


def test_mapping_start_of_nested_slices(tmp_path):
    p = tmp_path / "blob.bin"
    p.write_bytes(bytes(range(256)) * 64)
    root = np.memmap(p, dtype=np.uint8, mode="r")
    s = root[1000:9000][24:4000].reshape(-1)
    assert mapped_file_offset(s) == 1024
    assert s[0] == (1024 % 256)


def test_in_memory_table_is_indexed():
    data = np.arange(6 * 8, dtype=np.uint8)
    rows = TableRows(data, "f32", 6, "<memory>")
    assert rows._fd is None
    np.testing.assert_array_equal(np.asarray(rows.gather(np.array([4, 1]))), data.reshape(6, 8)[[4, 1]].reshape(-1))
    with pytest.raises(ClavisError, match="not 5 rows"):
        TableRows(data, "f32", 5, "<memory>")


def test_shrunk_file_gives_a_clear_error(tiny_models, tmp_path):
    src, _ = tiny_models("tiny-llama", "q8_0")
    path = tmp_path / "m.gguf"
    shutil.copy(src, path)
    gf = read_gguf(str(path))
    rows = GGUFSource(gf).table_rows("token_embd.weight")
    last = rows.n_rows - 1
    os.truncate(path, rows._off + last * rows.row_bytes + 3)   # the last row is cut short
    rows.gather(np.array([0]))                                  # still fine
    with pytest.raises(ClavisError, match="short read of embedding row"):
        rows.gather(np.array([last]))
