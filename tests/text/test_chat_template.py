"""Chat templates rendered identically to transformers' apply_chat_template."""
from __future__ import annotations

import datetime

import pytest

from clavis import ClavisError
from clavis.text.chat_template import CHATML, FALLBACKS, LLAMA2, LLAMA3, fallback_for, render
from clavis.text.synthetic import QWEN2

CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are terse."},
     {"role": "user", "content": "Столица Франции?"},
     {"role": "assistant", "content": "Париж."},
     {"role": "user", "content": "  以及地标？ 🗼  "}],
    [{"role": "user", "content": "def f(x):\n    return x  # code\n\n"},
     {"role": "assistant", "content": "Looks fine."},
     {"role": "user", "content": "and <b>html</b> & \"quotes\""}],
]

# A template in the style of recent HF models: namespace, loop controls, tojson, tools,
# strftime_now, the {% generation %} tag, whitespace control and raise_exception.
RICH = """{%- set ns = namespace(system='', n=0) -%}
{%- for m in messages -%}
  {%- if m.role == 'system' -%}{%- set ns.system = m.content -%}{%- continue -%}{%- endif -%}
  {%- set ns.n = ns.n + 1 -%}
{%- endfor -%}
{{ bos_token }}<|sys|>{{ ns.system or 'Today is ' + strftime_now('%Y') }}
{%- if tools %}
Tools: {{ tools | tojson }}
{%- endif %}
{% for m in messages if m.role != 'system' %}
  {%- if m.role not in ['user', 'assistant'] %}{{ raise_exception('bad role ' + m.role) }}{% endif %}
<|{{ m.role }}|>
  {%- if m.role == 'assistant' %}{% generation %}{{ m.content | trim }}{{ eos_token }}{% endgeneration %}
  {%- else %}{{ m.content }}{% endif %}
  {%- if loop.last and m.role == 'user' %} ({{ ns.n }} turns, {{ {'k': 'ü', 'n': [1, 2]} | tojson }}){% endif %}
{% endfor %}
{%- if add_generation_prompt %}<|assistant|>{% endif %}"""

TOOLS = [{"type": "function", "function": {"name": "weather", "description": "Погода",
                                            "parameters": {"type": "object", "properties": {}}}}]


@pytest.fixture(scope="module")
def hf_tok(bundles):
    return bundles["spm"].hf  # a transformers tokenizer: bos <s>, eos </s>


@pytest.mark.parametrize("template", ["chatml", "llama2", "llama3", "qwen2", "rich"])
@pytest.mark.parametrize("gen", [True, False])
def test_render_matches_transformers(hf_tok, template, gen):
    text = {"qwen2": QWEN2, "rich": RICH}.get(template) or FALLBACKS[template]
    for conv in CONVERSATIONS:
        for tools in ([None, TOOLS] if template == "rich" else [None]):
            ref = hf_tok.apply_chat_template(conv, chat_template=text, tokenize=False,
                                             add_generation_prompt=gen, tools=tools)
            ours = render(text, conv, add_generation_prompt=gen, bos_token=hf_tok.bos_token,
                          eos_token=hf_tok.eos_token, tools=tools)
            assert ours == ref, (template, conv)


def test_written_hf_folder_carries_the_template(bundles):
    for name, b in bundles.items():
        conv = CONVERSATIONS[1]
        ref = b.hf.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
        ours = render(b.vocab.chat_template, conv, bos_token=b.hf.bos_token or "",
                      eos_token=b.hf.eos_token)
        assert ours == ref, name


def test_known_renderings():
    conv = [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]
    assert render("chatml", conv) == \
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert render(None, conv) == render(CHATML, conv)
    assert render("llama3", conv, bos_token="<|begin_of_text|>") == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert render("llama2", conv, bos_token="<s>", eos_token="</s>") == \
        "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nHi [/INST]"
    year = str(datetime.datetime.now().year)
    assert year in render(RICH, conv[1:])


def test_fallback_for():
    assert fallback_for("llama", ["<|start_header_id|>", "<|eot_id|>"]) == LLAMA3
    assert fallback_for("llama", ["<s>", "</s>"]) == LLAMA2
    assert fallback_for("qwen2") == CHATML
    assert fallback_for("qwen3", ["<|im_start|>"]) == CHATML
    assert fallback_for("gemma") == CHATML


@pytest.mark.parametrize("template, messages, match", [
    ("{% for m in messages %}{{ m.content }", [], r"line 1: syntax error"),
    ("ok\n{% if %}", [], r"line 2: syntax error"),
    ("{% endfor %}", [], r"syntax error"),
    ("{{ raise_exception('roles must alternate') }}", [], r"roles must alternate"),
    ("{{ messages.__class__.__mro__ }}", [], r"unsafe"),
    ("{% set ns = namespace(_x=1) %}", [], r"unsafe"),
    ("{{ messages.append(1) }}", [], r"unsafe"),
    ("\n\n{{ 1 // 0 }}", [], r"line 3 failed: ZeroDivisionError"),
    ("{{ messages[0]['content'] }}", [], r"UndefinedError|line 1"),
    ("chatml", "not a list", r"messages must be a list"),
    ("chatml", [{"content": "no role"}], r"messages\[0\] must be a mapping with a 'role'"),
    (12, [], r"must be a string"),
])
def test_bad_templates_are_clear_errors(template, messages, match):
    with pytest.raises(ClavisError, match=match):
        render(template, messages)


def test_llama2_roles_must_alternate():
    with pytest.raises(ClavisError, match="Conversation roles must alternate"):
        render("llama2", [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])


def test_tokenizer_chat_helpers_match_transformers_and_llama_cpp(bundles):
    from clavis.text.tokenizer import Tokenizer

    conv = CONVERSATIONS[1]
    for name, b in bundles.items():
        for tok in (Tokenizer.from_gguf_metadata(b.vocab.gguf_metadata),
                    Tokenizer.from_hf_dir(b.hf_dir)):
            prompt = tok.apply_chat_template(conv)
            assert prompt == b.hf.apply_chat_template(conv, tokenize=False,
                                                      add_generation_prompt=True), name
            ids = tok.encode_chat(conv)
            assert ids == b.llama.tokenize(prompt.encode(), add_bos=False, special=True), name
            n_bos = prompt.count(tok.bos_token) if tok.bos_token else 0
            assert ids.count(tok.bos_id) == (max(n_bos, 1) if tok.add_bos else n_bos), name
            assert ids[0] == tok.bos_id if tok.add_bos else ids[0] != tok.bos_id
            assert ids == b.hf.apply_chat_template(conv, tokenize=True, add_generation_prompt=True,
                                                   return_dict=False), name


def test_tokenizer_without_template_uses_the_fallback(bundles):
    from clavis.text.tokenizer import Tokenizer

    conv = [{"role": "user", "content": "Hi"}]
    for name, expected in (("spm", LLAMA2), ("llama3", LLAMA3), ("qwen2", CHATML)):
        meta = dict(bundles[name].vocab.gguf_metadata)
        del meta["tokenizer.chat_template"]
        tok = Tokenizer.from_gguf_metadata(meta)
        bos = tok.bos_token if tok.add_bos else ""
        assert tok.apply_chat_template(conv) == render(expected, conv, bos_token=bos,
                                                       eos_token=tok.eos_token)
