"""Chat templates: a model's Jinja template rendered the way transformers' apply_chat_template
renders it, in a sandboxed jinja2 environment (a template cannot touch files or Python internals).

    render(template, messages, add_generation_prompt=True, bos_token="<s>", eos_token="</s>")

`template` is the model's own template (GGUF `tokenizer.chat_template`, tokenizer_config.json),
or one of the named fallbacks "chatml", "llama2", "llama3" (see fallback_for) for files that have
none. A broken template raises ClavisError naming the problem and the line.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from clavis import ClavisError

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

LLAMA3 = (
    "{% for message in messages %}"
    "{% if loop.first %}{{ bos_token }}{% endif %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}"
    "{{ message['content'] | trim }}{{ '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

LLAMA2 = (
    "{% if messages and messages[0]['role'] == 'system' %}"
    "{% set system = messages[0]['content'] %}{% set turns = messages[1:] %}"
    "{% else %}{% set system = '' %}{% set turns = messages %}{% endif %}"
    "{% for message in turns %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}"
    "{% set text = message['content'] %}"
    "{% if loop.first and system %}{% set text = '<<SYS>>\n' + system + '\n<</SYS>>\n\n' + text %}{% endif %}"
    "{{ bos_token + '[INST] ' + text | trim + ' [/INST]' }}"
    "{% else %}{{ ' ' + message['content'] | trim + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)

FALLBACKS = {"chatml": CHATML, "llama2": LLAMA2, "llama3": LLAMA3}


def fallback_for(arch: str | None, tokens=None) -> str:
    """The template text to use for a model file that has none: llama3's when the vocabulary has
    its header tokens, ChatML when it has <|im_start|> (Qwen2/Qwen3), llama2 for other `llama`
    models, ChatML otherwise."""
    vocab = set(tokens or ())
    if "<|start_header_id|>" in vocab:
        return LLAMA3
    if "<|im_start|>" in vocab or (arch or "").startswith("qwen"):
        return CHATML
    if arch == "llama":
        return LLAMA2
    return CHATML


class _GenerationTag(Extension):
    """`{% generation %}...{% endgeneration %}` (marks assistant text in HF templates): rendered
    as its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body).set_lineno(lineno)


def _raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def _strftime_now(fmt):
    return datetime.now().strftime(fmt)


class _Namespace(jinja2.utils.Namespace):
    """jinja2's namespace() without underscore-prefixed attributes (no way into internals)."""

    def __init__(*args, **kwargs):
        self, attrs = args[0], dict(*args[1:], **kwargs)
        for name in attrs:
            _Namespace._check(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name, value):
        _Namespace._check(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check(name):
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(
                f"a namespace attribute may not start with '_': {name!r}")


@lru_cache(maxsize=32)
def _compile(template: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[_GenerationTag, loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["namespace"] = _Namespace
    try:
        return env.from_string(template)
    except jinja2.TemplateSyntaxError as e:
        raise ClavisError(f"chat template line {e.lineno}: syntax error: {e.message}") from None


def _check_messages(messages):
    if not isinstance(messages, (list, tuple)):
        raise ClavisError(f"messages must be a list of {{'role': ..., 'content': ...}}, "
                          f"got {type(messages).__name__}")
    for n, m in enumerate(messages):
        if not isinstance(m, Mapping) or "role" not in m:
            raise ClavisError(f"messages[{n}] must be a mapping with a 'role' (and 'content'), "
                              f"got {m!r:.80}")


def render(template: str | None, messages, add_generation_prompt: bool = True,
           bos_token: str = "", eos_token: str = "", **extra) -> str:
    """Render `messages` with a chat template, as transformers' apply_chat_template does.
    `template` None means ChatML; a name in FALLBACKS means that fallback."""
    if template is None:
        template = CHATML
    template = FALLBACKS.get(template, template)
    if not isinstance(template, str):
        raise ClavisError(f"chat template must be a string, got {type(template).__name__}")
    _check_messages(messages)
    compiled = _compile(template)
    try:
        return compiled.render(messages=[dict(m) for m in messages],
                               add_generation_prompt=add_generation_prompt,
                               bos_token=bos_token, eos_token=eos_token,
                               **{"tools": None, "documents": None, **extra})
    except jinja2.exceptions.SecurityError as e:
        raise ClavisError(f"chat template tried something unsafe: {e}") from None
    except jinja2.TemplateError as e:
        line = _template_line(e)
        raise ClavisError(f"chat template{line}: {type(e).__name__}: {e}") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError) as e:
        line = _template_line(e)
        raise ClavisError(f"chat template{line} failed: {type(e).__name__}: {e}") from None


def _template_line(exc) -> str:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" line {line}" if line else ""
