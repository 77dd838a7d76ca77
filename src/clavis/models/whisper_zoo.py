"""Random-weight Whisper models with the exact shapes, names and metadata of openai/whisper-*.

`make("whisper-base", out_dir, seed)` writes a Hugging Face folder (config.json,
model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json,
preprocessor_config.json) that both clavis and transformers load. Speed on these weights is the
speed on real ones; the text they produce is gibberish.

The base vocabulary is a valid byte-level BPE (256 byte tokens + merges, built deterministically),
so ids 0..50256 exist and the special tokens sit at exactly the ids of the real multilingual
vocabulary (<|endoftext|> = 50257, <|startoftranscript|> = 50258, <|en|> = 50259, ...,
<|notimestamps|> = 50363, <|0.00|> = 50364): transformers' generation-config logic works on it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from clavis import ClavisError
from clavis.formats.hf import write_hf_folder
from clavis.models.whisper_tokenizer import (
    LANGUAGES, WhisperTokenizer, bytes_to_unicode, n_languages, special_layout,
    special_token_strings)

# name -> (d_model, heads, layers, vocab, n_mels)
SHAPES = {
    "whisper-tiny": (384, 6, 4, 51865, 80),
    "whisper-tiny.en": (384, 6, 4, 51864, 80),
    "whisper-base": (512, 8, 6, 51865, 80),
    "whisper-small": (768, 12, 12, 51865, 80),
}
N_AUDIO_CTX = 1500
N_TEXT_CTX = 448


def shapes() -> list[str]:
    return list(SHAPES)


def config_for(shape: str) -> dict:
    if shape not in SHAPES:
        raise ClavisError(f"unknown Whisper shape {shape!r}; known: {', '.join(SHAPES)}")
    d, h, n_layer, vocab, n_mels = SHAPES[shape]
    lay = special_layout(vocab)
    return {
        "_name_or_path": f"openai/{shape}", "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper", "activation_function": "gelu", "d_model": d,
        "encoder_attention_heads": h, "decoder_attention_heads": h,
        "encoder_layers": n_layer, "decoder_layers": n_layer, "num_hidden_layers": n_layer,
        "encoder_ffn_dim": 4 * d, "decoder_ffn_dim": 4 * d, "num_mel_bins": n_mels,
        "max_source_positions": N_AUDIO_CTX, "max_target_positions": N_TEXT_CTX,
        "vocab_size": vocab, "scale_embedding": False, "use_cache": True,
        "is_encoder_decoder": True, "tie_word_embeddings": True, "torch_dtype": "float32",
        "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0,
        "encoder_layerdrop": 0.0, "decoder_layerdrop": 0.0, "init_std": 0.02,
        "bos_token_id": lay["endoftext"], "eos_token_id": lay["endoftext"],
        "pad_token_id": lay["endoftext"], "decoder_start_token_id": lay["startoftranscript"],
        "begin_suppress_tokens": [220, lay["endoftext"]], "max_length": N_TEXT_CTX,
        "clavis_synthetic": "random weights; the text these produce is gibberish",
    }


# ---- the vocabulary ------------------------------------------------------------------------
def build_bpe(n_base: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A valid byte-level BPE of exactly `n_base` tokens: the 256 byte symbols (GPT-2's order),
    then merges of common characters into 2- and 3-character tokens, deterministically."""
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: i for i, b in enumerate(b2u)}
    space = b2u[ord(" ")]
    alpha = "etaoinshrdlcumwfgypbvkjxqz" + "ETAOINSHRDLCUMWFGYPBVKJXQZ" + "0123456789" + ".,'!?-"
    first = [space] + list(alpha)
    merges: list[tuple[str, str]] = []
    level2 = []
    for a in first:
        for b in alpha:
            if len(vocab) >= n_base:
                break
            tok = a + b
            vocab[tok] = len(vocab)
            merges.append((a, b))
            level2.append(tok)
    for a in level2:
        for b in alpha:
            if len(vocab) >= n_base:
                return vocab, merges
            vocab[a + b] = len(vocab)
            merges.append((a, b))
    if len(vocab) < n_base:
        raise ClavisError(f"cannot build a {n_base}-token BPE from the synthetic alphabet")
    return vocab, merges


def tokenizer_json(vocab_size: int) -> str:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    n_base = special_layout(vocab_size)["endoftext"]
    vocab, merges = build_bpe(n_base)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = special_token_strings(vocab_size)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for _, s in specials])
    for i, s in specials:  # the layout is positional; make sure it came out so
        if tok.token_to_id(s) != i:
            raise ClavisError(f"internal: special token {s} got id {tok.token_to_id(s)}, not {i}")
    return tok.to_str()


def generation_config(cfg: dict, tokenizer: WhisperTokenizer) -> dict:
    lay = tokenizer.sp
    n_layer, h = cfg["decoder_layers"], cfg["decoder_attention_heads"]
    suppress = sorted(set(tokenizer.non_speech_tokens()) | {
        lay["startoftranscript"], lay["translate"], lay["transcribe"], lay["startoflm"],
        lay["startofprev"], lay["nospeech"]})
    gen = {
        "alignment_heads": [[layer, head] for layer in range(n_layer // 2, n_layer)
                            for head in range(h)],
        "begin_suppress_tokens": [220, lay["endoftext"]],
        "bos_token_id": lay["endoftext"], "eos_token_id": lay["endoftext"],
        "pad_token_id": lay["endoftext"], "decoder_start_token_id": lay["startoftranscript"],
        "max_initial_timestamp_index": 50, "max_length": N_TEXT_CTX,
        "no_timestamps_token_id": lay["notimestamps"], "prev_sot_token_id": lay["startofprev"],
        "return_timestamps": False, "suppress_tokens": suppress,
        "is_multilingual": tokenizer.multilingual,
    }
    if tokenizer.multilingual:
        gen["lang_to_id"] = {f"<|{lang}|>": lay[lang]
                             for lang in LANGUAGES[:n_languages(cfg["vocab_size"])]}
        gen["task_to_id"] = {"transcribe": lay["transcribe"], "translate": lay["translate"]}
        gen["forced_decoder_ids"] = [[1, None], [2, lay["transcribe"]]]
    return gen


# ---- the weights -----------------------------------------------------------------------------
def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> np.ndarray:
    """Whisper's encoder positions (ref: openai/whisper model.py sinusoids)."""
    inc = np.log(max_timescale) / (channels // 2 - 1)
    inv = np.exp(-inc * np.arange(channels // 2))
    t = np.arange(length)[:, None] * inv[None, :]
    return np.concatenate([np.sin(t), np.cos(t)], axis=1).astype(np.float32)


def random_weights(cfg: dict, seed: int) -> dict[str, np.ndarray]:
    """Unit-scale random weights (1/sqrt(fan_in)) so activations and attention are non-trivial."""
    rng = np.random.default_rng(seed)
    d, n_mels, vocab, ff = cfg["d_model"], cfg["num_mel_bins"], cfg["vocab_size"], 4 * cfg["d_model"]

    def normal(shape, std):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std))

    w: dict[str, np.ndarray] = {}

    def linear(name, n_out, n_in, bias=True):
        w[f"{name}.weight"] = normal((n_out, n_in), 1 / np.sqrt(n_in))
        if bias:
            w[f"{name}.bias"] = normal((n_out,), 0.02)

    def norm(name):
        w[f"{name}.weight"] = 1 + normal((d,), 0.1)
        w[f"{name}.bias"] = normal((d,), 0.02)

    def attn(prefix):
        linear(f"{prefix}.q_proj", d, d)
        linear(f"{prefix}.k_proj", d, d, bias=False)
        linear(f"{prefix}.v_proj", d, d)
        linear(f"{prefix}.out_proj", d, d)

    enc, dec = "model.encoder", "model.decoder"
    w[f"{enc}.conv1.weight"] = normal((d, n_mels, 3), 1 / np.sqrt(3 * n_mels))
    w[f"{enc}.conv1.bias"] = normal((d,), 0.02)
    w[f"{enc}.conv2.weight"] = normal((d, d, 3), 1 / np.sqrt(3 * d))
    w[f"{enc}.conv2.bias"] = normal((d,), 0.02)
    w[f"{enc}.embed_positions.weight"] = sinusoids(N_AUDIO_CTX, d)
    w[f"{dec}.embed_tokens.weight"] = normal((vocab, d), 1 / np.sqrt(d))
    w[f"{dec}.embed_positions.weight"] = normal((N_TEXT_CTX, d), 0.02)
    for side, n_layer in ((enc, cfg["encoder_layers"]), (dec, cfg["decoder_layers"])):
        for i in range(n_layer):
            p = f"{side}.layers.{i}"
            attn(f"{p}.self_attn")
            norm(f"{p}.self_attn_layer_norm")
            if side == dec:
                attn(f"{p}.encoder_attn")
                norm(f"{p}.encoder_attn_layer_norm")
            linear(f"{p}.fc1", ff, d)
            linear(f"{p}.fc2", d, ff)
            norm(f"{p}.final_layer_norm")
        norm(f"{side}.layer_norm")
    return w


def make(shape: str, out_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Write a random-weight `shape` model as a Hugging Face folder; returns the folder."""
    cfg = config_for(shape)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ClavisError(f"{out}: exists and is not a folder")
    tj = tokenizer_json(cfg["vocab_size"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(tj, encoding="utf-8")
    tok = WhisperTokenizer.from_tokenizer_json(out / "tokenizer.json", cfg["vocab_size"])
    gen = generation_config(cfg, tok)
    cfg["suppress_tokens"] = gen["suppress_tokens"]
    if tok.multilingual:
        cfg["forced_decoder_ids"] = [[1, tok.sp["en"]], [2, tok.transcribe], [3, tok.no_timestamps]]
    tok_cfg = {"tokenizer_class": "WhisperTokenizer", "bos_token": "<|endoftext|>",
               "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
               "pad_token": "<|endoftext|>", "model_max_length": 1024, "add_prefix_space": False,
               "errors": "replace"}
    write_hf_folder(out, cfg, random_weights(cfg, seed), tokenizer_json=tj, tokenizer_config=tok_cfg)
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2), encoding="utf-8")
    pre = {"chunk_length": 30, "feature_extractor_type": "WhisperFeatureExtractor",
           "feature_size": cfg["num_mel_bins"], "hop_length": 160, "n_fft": 400,
           "n_samples": 480000, "nb_max_frames": 3000, "padding_side": "right",
           "padding_value": 0.0, "processor_class": "WhisperProcessor",
           "return_attention_mask": False, "sampling_rate": 16000}
    (out / "preprocessor_config.json").write_text(json.dumps(pre, indent=2), encoding="utf-8")
    return out
