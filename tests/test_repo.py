"""Repository-wide checks: the layer contract, the CLI surface, `clavis info`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, **kw):
    env = dict(os.environ)
    env.update(kw.pop("env", {}))
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, **kw)


def test_import_layers_go_downward_only():
    exe = Path(sys.executable).with_name("lint-imports")
    r = _run([str(exe), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_command_has_help():
    from clavis.cli import COMMAND_MODULES, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert "info" in sub.choices
    assert len(sub.choices) >= len(COMMAND_MODULES), "a command module registered no command"
    for name in sub.choices:
        r = _run([sys.executable, "-m", "clavis", name, "--help"])
        assert r.returncode == 0, f"clavis {name} --help failed:\n{r.stderr}"
        assert "usage:" in r.stdout and len(r.stdout) > 80, f"clavis {name} --help says too little"


def test_unknown_command_fails():
    r = _run([sys.executable, "-m", "clavis", "no-such-command"])
    assert r.returncode != 0


def test_info_json_and_disabled_features():
    r = _run([sys.executable, "-m", "clavis", "info", "--json"])
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["threads"] >= 1
    assert info["ops"], "no ops registered"
    for op, d in info["ops"].items():
        names = [v for v, _ in d["variants"]]
        assert names[-1] == "scalar", f"{op}: the scalar reference must be the last variant"
        assert d["chosen"] in names
    r = _run([sys.executable, "-m", "clavis", "info", "--json"],
             env={"CLAVIS_DISABLE_CPU_FEATURES": "all", "CLAVIS_NUM_THREADS": "1"})
    info = json.loads(r.stdout)
    assert info["cpu"]["enabled"] == []
    assert info["threads"] == 1
    assert all(d["chosen"] == "scalar" for d in info["ops"].values())
