"""LLM.load packs the weights on at least the machine's cores, then leaves the pool at the
thread count it was asked for (kernels.threads_for_load)."""
from __future__ import annotations

import pytest

from clavis import kernels


@pytest.fixture(scope="module")
def q4_gguf(tmp_path_factory):
    from clavis.models import zoo
    p = tmp_path_factory.mktemp("lt") / "tiny-qwen2-q4_0.gguf"
    zoo.make("tiny-qwen2", str(p), "q4_0", seed=7)
    return str(p)


@pytest.fixture()
def restore_threads():
    n = kernels.get_num_threads()
    yield
    kernels.set_num_threads(n)


def test_machine_threads_follows_the_env(monkeypatch):
    monkeypatch.setenv("CLAVIS_NUM_THREADS", "3")
    assert kernels.machine_threads() == 3
    monkeypatch.delenv("CLAVIS_NUM_THREADS")
    assert kernels.machine_threads() == kernels.info()["cpu"]["physical_cores"] >= 1


def test_threads_for_load_widens_then_restores(restore_threads, monkeypatch):
    monkeypatch.setenv("CLAVIS_NUM_THREADS", "2")
    with kernels.threads_for_load(1):
        assert kernels.get_num_threads() == 2
    assert kernels.get_num_threads() == 1
    with kernels.threads_for_load(3):           # more than the machine's: as asked
        assert kernels.get_num_threads() == 3
    assert kernels.get_num_threads() == 3
    with pytest.raises(RuntimeError), kernels.threads_for_load(1):
        raise RuntimeError("a load that fails")
    assert kernels.get_num_threads() == 1


def test_load_leaves_the_asked_threads_and_the_same_tokens(q4_gguf, restore_threads, monkeypatch):
    from clavis.runtime.llm import LLM
    out = {}
    for t in (1, 2):     # packed on t threads (the machine's, as the env says), decoded on t
        monkeypatch.setenv("CLAVIS_NUM_THREADS", str(t))
        llm = LLM.load(q4_gguf, n_ctx=64, threads=t)
        assert kernels.get_num_threads() == t
        g = llm.generate([5, 9, 13, 2, 7], max_tokens=8, temperature=0.0, ignore_eos=True)
        for _ in g:
            pass
        out[t] = list(g.tokens)
    assert out[1] == out[2] and len(out[1]) == 8
    with pytest.raises(ValueError, match="threads"):
        LLM.load(q4_gguf, n_ctx=64, threads=0)
