"""formats.mapped.release_mapped: the one way clavis drops file pages from its resident set (packed
weights' sources, tokenizer string arrays, the whole GGUF once loaded)."""
import numpy as np

from clavis.formats.mapped import release_mapped


def _rss_kb() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_pages_leave_the_resident_set_and_data_stays(tmp_path):
    p = tmp_path / "blob.bin"
    data = np.random.default_rng(0).integers(0, 256, 64 << 20, dtype=np.uint8)
    data.tofile(p)
    m = np.memmap(p, dtype=np.uint8, mode="r")
    assert int(m.sum(dtype=np.uint64)) == int(data.sum(dtype=np.uint64))   # all pages touched
    before = _rss_kb()
    release_mapped(m[1000:][5:])          # a view of a view: the root's mapping is found
    assert before - _rss_kb() > 48 << 10, "at least 48 of the 64 MiB should have left the RSS"
    np.testing.assert_array_equal(m[::4096], data[::4096])                   # read back intact


def test_a_range_keeps_the_rest_resident(tmp_path):
    p = tmp_path / "blob.bin"
    np.zeros(32 << 20, np.uint8).tofile(p)
    m = np.memmap(p, dtype=np.uint8, mode="r")
    m.sum(dtype=np.uint64)
    before = _rss_kb()
    release_mapped(m, 0, 8 << 20)
    dropped = before - _rss_kb()
    assert 6 << 10 < dropped < 16 << 10, f"dropped {dropped} KiB for an 8 MiB range"


def test_memory_that_is_not_a_read_only_file_mapping_is_left_alone(tmp_path):
    a = np.arange(1 << 20, dtype=np.uint8)
    release_mapped(a)                                         # anonymous: untouched
    np.testing.assert_array_equal(a, np.arange(1 << 20, dtype=np.uint8))
    p = tmp_path / "w.bin"
    np.full(1 << 20, 7, np.uint8).tofile(p)
    w = np.memmap(p, dtype=np.uint8, mode="r+")
    w[:] = 9                                                  # dirty, not yet written back
    release_mapped(w)
    assert (w == 9).all()


def test_a_view_outlives_its_mapped_file_object(tmp_path):
    """GGUF tensors are memoryviews of a MappedFile; the GGUFFile (and its MappedFile) is gone
    once a model is loaded, while zero-copy weights keep their views: releasing them must still
    find the mapping (the first version of the buffer reader lost it, and a 1B Q8_0 model kept
    the whole file resident: 2284 MB peak instead of 1336)."""
    import gc

    from clavis.formats.mapped import MappedFile, mapped_file
    p = tmp_path / "blob.bin"
    data = np.random.default_rng(1).integers(0, 256, 64 << 20, dtype=np.uint8)
    data.tofile(p)
    mf = MappedFile(str(p))
    view = mf.view[4096:]
    del mf
    gc.collect()
    assert mapped_file(view) is not None and mapped_file(view)[1] == 4096
    assert sum(view[::4096]) == int(data[4096::4096].sum())                    # pages touched
    before = _rss_kb()
    release_mapped(view)
    assert before - _rss_kb() > 48 << 10, "at least 48 of the 64 MiB should have left the RSS"
    assert bytes(view[:64]) == data[4096:4096 + 64].tobytes()                 # read back intact
    del view
    gc.collect()
    assert mapped_file(np.zeros(16, np.uint8)) is None
