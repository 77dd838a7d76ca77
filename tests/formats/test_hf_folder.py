"""HF folders: safetensors (incl. bf16, as real checkpoints ship) read memory-mapped and equal
to what torch/safetensors read; bad folders and files are clear ClavisErrors."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from clavis import ClavisError
from clavis.formats.hf import HFFolder, read_safetensors

import safetensors.torch as st_torch
import torch


def test_bf16_f16_f32_match_torch(tmp_path):
    g = torch.Generator().manual_seed(0)
    ref = {"a": torch.randn(5, 64, generator=g).to(torch.bfloat16),
           "b": torch.randn(3, 32, generator=g).to(torch.float16),
           "c": torch.randn(7, generator=g)}
    p = tmp_path / "m.safetensors"
    st_torch.save_file(ref, str(p))
    ours = read_safetensors(str(p))
    for k, t in ref.items():
        assert ours[k].shape == tuple(t.shape)
        np.testing.assert_array_equal(ours[k].to_f32(), t.float().numpy())


def test_llm_loads_a_bf16_folder(tmp_path):
    """A bf16 copy of a tiny model (what real HF repos hold) runs and matches transformers' bf16
    weights computed in f32."""
    import transformers
    from clavis.models import zoo
    from clavis.runtime.llm import LLM
    hf = tmp_path / "hf"
    zoo.make("tiny-qwen2", str(tmp_path / "m.gguf"), "f32", hf_dir=str(hf), seed=9)
    sd = st_torch.load_file(str(hf / "model.safetensors"))
    st_torch.save_file({k: v.to(torch.bfloat16) for k, v in sd.items()},
                       str(hf / "model.safetensors"))
    llm = LLM.load(str(hf), quant="f32")
    ids = list(range(100, 140))
    m = transformers.AutoModelForCausalLM.from_pretrained(str(hf), dtype=torch.float32).eval()
    with torch.no_grad():
        ref = m(torch.tensor([ids])).logits[0].numpy()
    got = llm.logits(ids)
    assert np.abs(got - ref).max() <= 1e-4 * float(ref.max() - ref.min())
    assert LLM.load(str(hf)).model.output.type == "f16"      # default for non-f32 folders


def test_bad_folders(tmp_path):
    with pytest.raises(ClavisError, match="config.json"):
        HFFolder(tmp_path)
    (tmp_path / "config.json").write_text("{bad json")
    with pytest.raises(ClavisError, match="line 1"):
        HFFolder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ClavisError, match="safetensors"):
        HFFolder(tmp_path)


def test_truncated_safetensors(tmp_path):
    p = tmp_path / "m.safetensors"
    st_torch.save_file({"w": torch.zeros(64, 64)}, str(p))
    data = p.read_bytes()
    p.write_bytes(data[:len(data) - 100])
    with pytest.raises(ClavisError, match="'w'"):
        read_safetensors(str(p))
    p.write_bytes(b"\xff" * 8 + b"{}")
    with pytest.raises(ClavisError, match="header"):
        read_safetensors(str(p))


def test_unknown_hf_architecture(tmp_path):
    from clavis.runtime.llm import LLM
    st_torch.save_file({"w": torch.zeros(2, 2)}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "rwkv7"}))
    with pytest.raises(ClavisError, match="unknown architecture 'rwkv7'.*llama, qwen2, qwen3"):
        LLM.load(str(tmp_path))


def test_repo_id_offline_is_a_clear_error(tmp_path):
    code = ("from clavis import ClavisError\nfrom clavis.runtime.llm import LLM\n"
            "try:\n    LLM.load('someone/some-model')\nexcept ClavisError as e:\n"
            "    print(e); raise SystemExit(3)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "HF_HUB_OFFLINE": "1",
                            "HF_HOME": str(tmp_path)})
    assert r.returncode == 3, r.stderr
    assert "by hand" in r.stdout and "config.json" in r.stdout


def test_repo_file_ids():
    from clavis.runtime.hub import looks_like_repo, split_repo_file
    assert split_repo_file("Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_0.gguf") == (
        "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-q4_0.gguf")
    assert split_repo_file("meta-llama/Llama-3.2-1B") == ("meta-llama/Llama-3.2-1B", None)
    assert looks_like_repo("a/b") and looks_like_repo("a/b/c.gguf")
    assert not looks_like_repo("/abs/path/model.gguf") and not looks_like_repo("model.gguf")


@pytest.mark.parametrize("change,words", [
    ({"hidden_size": "64"}, ["'hidden_size'", "'64'"]),
    ({"num_key_value_heads": 3}, ["n_kv_heads=3"]),
    ({"intermediate_size": None}, ["missing field 'intermediate_size'"]),
    ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, ["yarn", "not supported"]),
    ({"rope_scaling": "llama3"}, ["rope_scaling"]),
])
def test_bad_config_fields(tmp_path, change, words):
    from clavis.models import zoo
    from clavis.runtime.llm import LLM
    hf = tmp_path / "hf"
    zoo.make("tiny-qwen2", str(tmp_path / "m.gguf"), "f32", hf_dir=str(hf), seed=1)
    cfg = json.loads((hf / "config.json").read_text())
    cfg.update(change)
    (hf / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ClavisError) as e:
        LLM.load(str(hf))
    for w in ("config.json", *words):
        assert w in str(e.value), str(e.value)
