"""Tiny random-weight models written at test time (GGUF + the same weights as an HF folder)."""
from __future__ import annotations

import pytest

SEED = 1234  # printed by the tests on failure so a run can be replayed


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """make(shape, quant="f32") -> (gguf path, hf folder path), cached per session."""
    from clavis.models import zoo
    root = tmp_path_factory.mktemp("tiny_models")
    cache = {}

    def make(shape: str, quant: str = "f32"):
        key = (shape, quant)
        if key not in cache:
            out = root / f"{shape}-{quant}.gguf"
            hf = root / f"{shape}-{quant}-hf"
            zoo.make(shape, str(out), quant, hf_dir=str(hf), seed=SEED)
            cache[key] = (str(out), str(hf))
        return cache[key]

    return make
