"""Fixtures for the text tests (helpers live in text_helpers.py: a module name no other test
folder uses, so `from text_helpers import ...` is unambiguous in the full suite)."""
from __future__ import annotations

import pytest
from text_helpers import VOCABS, Bundle

_BUNDLES: dict[str, Bundle] = {}


@pytest.fixture(scope="session", autouse=True)
def _close_llama_cpp():
    yield
    for b in _BUNDLES.values():  # free llama.cpp models before the interpreter shuts down
        if b._llama is not None:
            b._llama.close()
            b._llama = None


@pytest.fixture(scope="session", params=list(VOCABS))
def bundle(request, tmp_path_factory):
    name = request.param
    if name not in _BUNDLES:
        _BUNDLES[name] = Bundle(name, tmp_path_factory.mktemp(name))
    return _BUNDLES[name]


@pytest.fixture(scope="session")
def bundles(tmp_path_factory):
    for name in VOCABS:
        if name not in _BUNDLES:
            _BUNDLES[name] = Bundle(name, tmp_path_factory.mktemp(name))
    return _BUNDLES
