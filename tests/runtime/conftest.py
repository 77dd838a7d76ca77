from __future__ import annotations

import pytest

SEED = 4321


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory):
    from clavis.models import zoo
    p = tmp_path_factory.mktemp("rt") / "tiny-qwen2-f32.gguf"
    zoo.make("tiny-qwen2", str(p), "f32", seed=SEED)
    return str(p)


@pytest.fixture()
def llm(tiny_gguf):
    from clavis.runtime.llm import LLM
    return LLM.load(tiny_gguf, n_ctx=256)
