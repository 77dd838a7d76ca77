"""Damaged exports: every parser either parses or raises a ClavisError naming the file, never
another exception (seeded mutations of the fixtures and the shared chat-miner exports)."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from clavis import ClavisError
from clavis.apps.chats import parse
from clavis.apps.digest import digest

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted((REPO / "tests" / "data" / "chats").glob("*")) + \
    sorted((REPO.parent / "shared" / "data" / "chats" / "chat-miner").glob("*/test*"))
SEED = 20240611


def _mutate(data: bytes, rnd: random.Random) -> bytes:
    op = rnd.randrange(5)
    i = rnd.randrange(len(data) + 1)
    if op == 0:
        return data[:i]                                       # truncated download
    if op == 1:
        return data[:i] + bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 8))) + data[i:]
    if op == 2:
        j = rnd.randrange(len(data) + 1)
        return data[:min(i, j)] + data[max(i, j):]            # a chunk missing
    if op == 3:
        return data[:i] + b"\n" + data[i:]                    # a broken line
    return data.replace(b":", b"", 1) if rnd.random() < 0.5 else data.replace(b'"', b"", 1)


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.name)
def test_mutated_exports_parse_or_fail_cleanly(tmp_path, src):
    rnd = random.Random(f"{SEED}-{src.name}")
    data = src.read_bytes()
    for k in range(40):
        p = tmp_path / f"m{k}{src.suffix}"
        p.write_bytes(_mutate(data, rnd))
        try:
            r = parse(p)
        except ClavisError as e:
            assert p.name in str(e), f"seed {SEED} case {k}: {e}"
            continue
        assert all(isinstance(line, int) for line, _ in r.errors)
        digest(r.messages, me=None)  # whatever parsed can be digested
