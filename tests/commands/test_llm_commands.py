"""The LLM commands end to end: make-model, generate, chat, pull (offline) — exit codes, streams."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


def clavis(*args, input=None, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "clavis", *args], capture_output=True, text=True,
                          input=input, timeout=300, env=e)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    p = tmp_path_factory.mktemp("cli") / "tiny.gguf"
    r = clavis("make-model", "tiny-llama", "--quant", "q4_0", "-o", str(p), "--seed", "5")
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and p.stat().st_size > 0
    return str(p)


def test_generate_streams_and_reports_speed(model):
    r = clavis("generate", "-m", model, "-p", "Hello world", "-n", "12", "--temperature", "0",
               "--ignore-eos")
    assert r.returncode == 0, r.stderr
    assert "generated 12 tok" in r.stderr and "tok/s" in r.stderr
    r2 = clavis("generate", "-m", model, "-p", "Hello world", "-n", "12", "--temperature", "0",
                "--ignore-eos")
    assert r2.stdout == r.stdout          # greedy is deterministic


def test_generate_errors_exit_1(model, tmp_path):
    r = clavis("generate", "-m", str(tmp_path / "none.gguf"), "-p", "x")
    assert r.returncode == 1 and "no such file" in r.stderr and "Traceback" not in r.stderr
    r = clavis("generate", "-m", model, "-p", "x " * 3000, "--n-ctx", "64")
    assert r.returncode == 1 and "context holds only 64" in r.stderr
    r = clavis("generate", "-m", model, "-p", "x", "--top-p", "0")
    assert r.returncode == 1 and "top_p" in r.stderr


def test_chat_reset_exit_and_history(model):
    script = "Hi there\nHow are you?\n/reset\nAgain\n/exit\n"
    r = clavis("chat", "-m", model, "-n", "8", "--temperature", "0", input=script)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count(" tokens, ") == 3 and "(conversation reset)" in r.stderr


def test_chat_drops_oldest_turns_when_full(model):
    msg = "tell me more about this topic " * 6
    script = "".join(f"{msg}{i}\n" for i in range(6))
    r = clavis("chat", "-m", model, "-n", "16", "--n-ctx", "256", "--temperature", "0",
               input=script)
    assert r.returncode == 0, r.stderr
    assert "dropped" in r.stderr and "oldest" in r.stderr


def test_make_model_unknown_shape():
    r = clavis("make-model", "gpt-9", "-o", "/dev/null")
    assert r.returncode == 1 and "tiny-llama" in r.stderr and "qwen2.5-0.5b" in r.stderr


def test_pull_offline_explains(tmp_path):
    r = clavis("pull", "someone/some-model", "model.gguf",
               env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "by hand" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("cmd", ["generate", "chat", "pull", "convert", "make-model"])
def test_help(cmd):
    r = clavis(cmd, "--help")
    assert r.returncode == 0 and "usage" in r.stdout


def test_make_model_dispatches_whisper_shapes(tmp_path):
    r = clavis("make-model", "whisper-tiny", "-o", str(tmp_path / "wt"), "--seed", "1")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "wt" / "config.json").is_file()


def test_bench_llm_json_and_profile(model):
    import json
    r = clavis("bench", "llm", "-m", model, "--prompt", "24", "--gen", "6", "--threads", "1",
               "--json", "--profile")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("prefill_tok_s", "decode_tok_s", "read_bw_gbs", "decode_bw_fraction", "threads",
                "model_bytes", "read_bw_sustained_gbs", "decode_bw_fraction_sustained"):
        assert out[key] > 0, key
    # the best pass is at least the sustained rate (the same passes' fastest against their mean)
    assert out["read_bw_gbs"] >= out["read_bw_sustained_gbs"]
    assert out["decode_bw_fraction"] <= out["decode_bw_fraction_sustained"]
    assert out["threads"] == 1 and out["prompt_tokens"] == 24 and out["generated_tokens"] == 6
    p = out["decode_profile"]
    assert p["tokens"] >= 5 and p["ms_per_token"] > 0
    assert {"qkv", "attention", "down", "head", "forward_other", "outside_forward"} <= set(p["steps_ms"])
    # the steps add up to the measured time per token
    assert sum(p["steps_ms"].values()) == pytest.approx(p["ms_per_token"], rel=1e-6)
    # the matvecs' own rate: the bytes read per token over the matvec steps' time
    mv_ms = sum(p["steps_ms"][k] for k in ("qkv", "wo", "gate/up", "down", "head"))
    assert p["matvec_gbs"] == pytest.approx(out["bytes_per_token"] / mv_ms / 1e6, rel=1e-9)
    assert p["read_bw_gbs"] >= p["read_bw_sustained_gbs"] > 0
    r = clavis("bench", "llm", "-m", model, "--prompt", "16", "--gen", "4", "--profile")
    assert r.returncode == 0, r.stderr
    assert "decode profile" in r.stdout and "attention" in r.stdout and "tok/s" in r.stdout
    assert "the weight matvecs streamed at" in r.stdout
    r = clavis("bench", "llm", "-m", model + ".missing")
    assert r.returncode == 1 and "Traceback" not in r.stderr
