"""Tiny random-weight models written at test time (GGUF + the same weights as an HF folder)."""
from __future__ import annotations

import importlib
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

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


@pytest.fixture(scope="session")
def llama_cpp():
    """llama-cpp-python, built from source by scripts/install_llama_cpp.sh when missing (the
    suite installs what it needs rather than skipping)."""
    try:
        return importlib.import_module("llama_cpp")
    except ImportError:
        subprocess.run(["bash", str(ROOT / "scripts/install_llama_cpp.sh")], check=True)
        importlib.invalidate_caches()
        return importlib.import_module("llama_cpp")
