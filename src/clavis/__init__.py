"""clavis: private AI on the CPU you already have.

Layers (imports go downward only): cli -> commands -> apps -> runtime -> models ->
{formats, text, audio} -> kernels -> the C core (clavis._C).
Heavy submodules load lazily, so `import clavis` stays cheap.
"""
from __future__ import annotations

__version__ = "0.1.0"


class ClavisError(Exception):
    """Base class of every error clavis raises on purpose (bad input, bad files, bad arguments)."""


def __getattr__(name):  # lazy top-level API
    if name == "LLM":
        from clavis.runtime.llm import LLM
        return LLM
    raise AttributeError(f"module 'clavis' has no attribute {name!r}")
