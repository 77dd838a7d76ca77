"""The privacy-first router: answer on the device when possible, hand off only when allowed.

    router = Router(mode="local", remote=RemoteConfig.resolve(), llm=None)
    plan = router.plan([{"role": "user", "content": "What time is it in Tokyo?"}])
    plan.route, plan.action, plan.text, plan.why

Modes: "local" (default; nothing ever leaves the machine), "ask" (a `confirm(host, outgoing)`
callback is asked before each hand-off), "allow" (hand-offs happen without asking). Before a
hand-off the question is redacted (e-mails, phones, names from the conversation) and only the
last user question is sent — never the rest of the conversation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from clavis import ClavisError
from clavis.apps.router import remote as _remote
from clavis.apps.router.classify import Classification, classify
from clavis.apps.router.redact import names_in, redact
from clavis.apps.router.remote import RemoteConfig, RemoteError
from clavis.apps.router.tools import clock

MODES = ("local", "ask", "allow")
REMOTE_SYSTEM = "Answer briefly and factually. The user's personal data has been redacted."

__all__ = ["Router", "Plan", "RemoteConfig", "RemoteError", "classify", "redact", "MODES"]


@dataclass
class Plan:
    route: str                     # device | clock | live
    action: str                    # local-llm | clock | remote | needs-network | declined | no-model
    text: str | None = None        # the answer when the router produced it (not for local-llm)
    why: list[str] = field(default_factory=list)
    outgoing: list[dict] | None = None   # what was (or would be) sent to the remote endpoint
    classification: Classification | None = None


def last_user_text(messages: list[dict]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user" and isinstance(m.get("content"), str):
            return m["content"]
    raise ClavisError("the conversation has no user message with text content to route")


class Router:
    def __init__(self, mode: str = "local", remote: RemoteConfig | None = None, llm=None,
                 confirm: Callable[[str, list[dict]], bool] | None = None, names=()):
        if mode not in MODES:
            raise ClavisError(f"privacy mode {mode!r} is not one of {', '.join(MODES)}")
        self.mode, self.remote, self.llm, self.confirm = mode, remote, llm, confirm
        self.names = set(names)

    def plan(self, messages: list[dict]) -> Plan:
        question = last_user_text(messages)
        c = classify(question)
        why = [c.explain()]
        if c.route == "clock":
            ans = clock(question)
            return Plan("clock", "clock", ans.text, why + [f"answered by the {ans.detail}; "
                                                         "nothing left the machine"], None, c)
        if c.route == "device":
            if self.llm is None:
                return Plan("device", "no-model", "This question can be answered on the device, but "
                            "no local model is loaded (pass -m MODEL).", why + ["no local model"], None, c)
            return Plan("device", "local-llm", None, why + ["answered by the local model; nothing "
                                                          "left the machine"], None, c)
        return self._live(messages, question, c, why)

    def _live(self, messages, question, c, why) -> Plan:
        red = redact(question, self.names | names_in(messages))
        outgoing = [{"role": "system", "content": REMOTE_SYSTEM},
                    {"role": "user", "content": red.text}]
        if self.mode == "local":
            why.append("privacy mode 'local': nothing leaves the machine")
            return Plan("live", "needs-network", needs_network_text(question, self.remote), why,
                        outgoing, c)
        if self.remote is None:
            why.append(f"privacy mode {self.mode!r} but no remote endpoint is configured "
                       f"(--remote-url or {_remote.ENV_URL})")
            return Plan("live", "needs-network", needs_network_text(question, None), why, outgoing, c)
        why.append(f"redaction before hand-off: {red.summary()}; only the last question is sent")
        if self.mode == "ask":
            if self.confirm is None or not self.confirm(self.remote.host, outgoing):
                why.append("hand-off declined by the user")
                return Plan("live", "declined", "Not sent: you declined the hand-off, so this "
                            "question about live data stays unanswered.", why, outgoing, c)
            why.append("hand-off approved by the user")
        why.append(f"sent to {self.remote.host} (model {self.remote.model})")
        return Plan("live", "remote", None, why, outgoing, c)

    def call_remote(self, plan: Plan, max_tokens: int = 512) -> str:
        """Run a plan whose action is 'remote' (the only place the router talks to the network)."""
        if plan.action != "remote" or self.mode == "local" or self.remote is None:
            raise ClavisError("internal: call_remote on a plan that may not leave the machine")
        return _remote.chat(self.remote, plan.outgoing, max_tokens=max_tokens)


def needs_network_text(question: str, remote: RemoteConfig | None) -> str:
    how = ("run with --privacy ask or --privacy allow to let a redacted copy of the question go to "
           f"{remote.host}" if remote else
           "configure a remote OpenAI-compatible endpoint (--remote-url URL, --remote-key KEY, "
           "--remote-model NAME or CLAVIS_REMOTE_URL/_KEY/_MODEL) and allow hand-offs "
           "(--privacy ask|allow)")
    return ("This question needs live data (it is about the present: weather, news, prices, ...), "
            "which a model on this device cannot know. Nothing was sent anywhere. To answer it, "
            + how + ".")
