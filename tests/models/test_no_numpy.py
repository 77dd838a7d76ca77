"""A GGUF model loads and generates in a process that cannot import NumPy (formats.gguf on mmap,
buffers through the weights, the C layer plan, the KV cache and sampling): NumPy alone is ~16 MB
of resident set, more than the whole KV cache of a small model. The same run with NumPy
importable gives the same tokens, and the buffer sampler draws what the NumPy filters draw."""
import json
import random
import subprocess
import sys

import numpy as np
import pytest

from clavis.runtime.sampling import SamplingParams, _sample_all, sample

SCRIPT = r"""
import json, sys
class NoNumpy:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy" or name.startswith("numpy."):
            raise ImportError("numpy is blocked in this process")
sys.meta_path.insert(0, NoNumpy())
from clavis.runtime.llm import LLM
llm = LLM.load(sys.argv[1], n_ctx=128)
out = {}
g = llm.generate(list(range(5, 45)), max_tokens=12, temperature=0.0, ignore_eos=True)
out["text"] = "".join(g)
out["greedy"] = g.tokens
g = llm.generate(list(range(5, 45)), max_tokens=12, temperature=0.9, top_k=20, top_p=0.9,
                 min_p=0.02, repeat_penalty=1.3, seed=7, ignore_eos=True)
list(g)
out["sampled"] = g.tokens
out["prompt"] = llm.tokenize("Hello there, how are you?")
out["numpy_loaded"] = "numpy" in sys.modules
print(json.dumps(out))
"""


def _run(gguf: str) -> dict:
    from clavis.runtime.llm import LLM
    llm = LLM.load(gguf, n_ctx=128)
    g = llm.generate(list(range(5, 45)), max_tokens=12, temperature=0.0, ignore_eos=True)
    text = "".join(g)
    out = {"text": text, "greedy": g.tokens}
    g = llm.generate(list(range(5, 45)), max_tokens=12, temperature=0.9, top_k=20, top_p=0.9,
                     min_p=0.02, repeat_penalty=1.3, seed=7, ignore_eos=True)
    list(g)
    out["sampled"] = g.tokens
    out["prompt"] = llm.tokenize("Hello there, how are you?")
    return out


@pytest.mark.parametrize("shape,quant", [("tiny-llama", "q4_0"), ("tiny-qwen2", "q8_0"),
                                         ("tiny-llama", "f16")])
def test_gguf_generation_runs_without_numpy(tiny_models, shape, quant):
    gguf, _ = tiny_models(shape, quant)
    r = subprocess.run([sys.executable, "-c", SCRIPT, gguf], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got.pop("numpy_loaded") is False
    assert got == _run(gguf)
    assert len(got["greedy"]) == 12 and len(got["sampled"]) == 12


def test_buffer_sampler_draws_what_the_numpy_filters_draw():
    """top-k via C on a memoryview vs. the whole row through the NumPy filters (top-k off): with
    k = vocab - 1 and min-p removing the tail, the candidates are the same, and so are the draws
    for the same uniform numbers."""
    rng = np.random.default_rng(3)
    for trial in range(20):
        logits = (rng.standard_normal(1000) * 3).astype(np.float32)
        mv = memoryview(logits)
        for temp, p, mp in [(0.7, 0.9, 0.05), (1.3, 1.0, 0.1), (1.0, 0.5, 0.2)]:
            a = SamplingParams(temperature=temp, top_k=999, top_p=p, min_p=mp)
            b = SamplingParams(temperature=temp, top_k=0, top_p=p, min_p=mp)
            ra, rb = random.Random(trial), random.Random(trial)
            for _ in range(10):
                assert sample(mv, a, ra) == _sample_all(mv, b, rb)


def test_sampler_edge_cases():
    row = np.array([0.5, 2.0, 2.0, -1.0], np.float32)
    assert sample(row, SamplingParams(temperature=0), random.Random(0)) == 1   # ties: lowest id
    one = SamplingParams(temperature=1.0, top_k=1)
    assert sample(row, one, random.Random(0)) == 1
    # the penalty turns token 1's 2.0 into 1.0: token 2 wins greedy decoding
    pen = SamplingParams(temperature=0, repeat_penalty=2.0)
    assert sample(row, pen, random.Random(0), prev_ids=[1]) == 2
    inf = np.full(4, -np.inf, np.float32)
    assert sample(inf, SamplingParams(top_k=2), random.Random(0)) == 0
    nan = np.array([np.nan, 1.0, 3.0, np.nan], np.float32)
    assert sample(nan, SamplingParams(temperature=0), random.Random(0)) == 2
    assert sample(nan, SamplingParams(top_k=2, temperature=0.5), random.Random(0)) in (1, 2)


def test_sampler_review_cases():
    """+inf wins outright; NaN candidates are cut before the weighing; a plain list works; a
    penalty below float32's range does not divide by zero."""
    inf = np.array([0.0, np.inf, 1.0, 2.0], np.float32)
    assert sample(inf, SamplingParams(), random.Random(0)) == 1
    few = np.full(50, np.nan, np.float32)
    few[[3, 7, 9]] = [1.0, 3.0, 2.0]
    for seed in range(20):
        assert sample(few, SamplingParams(top_k=40), random.Random(seed)) in (3, 7, 9)
    assert sample([0.1, 5.0, 0.2], SamplingParams(temperature=0), random.Random(0)) == 1
    assert sample([0.1, 5.0, 0.2], SamplingParams(top_k=2), random.Random(0)) in (1, 2)
    tiny = SamplingParams(temperature=0, repeat_penalty=1e-46)
    assert sample(np.array([1.0, 2.0], np.float32), tiny, random.Random(0), prev_ids=[0]) == 0


def test_runtime_buffers_are_private_to_the_process():
    """Packed weights and the KV cache live in private anonymous mappings: a forked child's
    writes never reach the parent (mmap(-1, n) alone would be a shared mapping)."""
    import os

    from clavis.kernels.matmul import aligned_buffer
    from clavis.runtime.kv_cache import KVCache
    buf = aligned_buffer(1 << 16)
    kv = KVCache(1, 2, 8, 4, "f32")
    pid = os.fork()
    if pid == 0:                                # the child scribbles, then leaves at once
        buf[0] = 7
        kv.k[0][0, 0, 0] = 123.0
        os._exit(0)
    os.waitpid(pid, 0)
    assert buf[0] == 0 and kv.k[0][0, 0, 0] == 0.0
    assert kv.array(kv.k[0]).shape == (2, 8, 4)


def test_empty_logits_and_a_renamed_file(tiny_models, tmp_path):
    """logits([]) is an empty (0, vocab) array (a zero-size KV cache); small tensors and
    embedding rows are read from the file the model was mapped from, even after a rename."""
    import shutil

    from clavis.runtime.llm import LLM
    gguf, _ = tiny_models("tiny-llama", "q4_0")
    p = tmp_path / "m.gguf"
    shutil.copy(gguf, p)
    llm = LLM.load(str(p), n_ctx=64)
    assert llm.logits([]).shape == (0, llm.vocab_size)
    ref = llm.logits([5, 9, 11])
    p.rename(tmp_path / "moved.gguf")
    np.testing.assert_array_equal(llm.logits([5, 9, 11]), ref)
