"""What did I miss: a digest of a group chat, with every point citing the messages behind it.

    from clavis.apps.chats import parse
    from clavis.apps.digest import digest
    d = digest(parse("chat.txt").messages, me="Sam", last="2d")
    print(d.to_markdown())

Engines: the extractive one (default: TF-IDF, TextRank centrality, MMR, rules; no model) and an
LLM one (`llm=` an object with the clavis.runtime.llm.LLM interface) that fills the topic,
decision and for-you sections by map-reduce over context-sized chunks. The structure of the
digest always comes from this code.
"""
from __future__ import annotations

from clavis.apps.digest.model import SECTIONS, Digest, Point, Ref, safe_inline
from clavis.apps.digest.window import parse_last, parse_since, resolve_me, window

__all__ = ["digest", "Digest", "Point", "SECTIONS", "safe_inline", "parse_last", "parse_since"]


def digest(messages, me: str | None = None, since=None, llm=None, *, last=None,
           since_my_last: bool = False, chat: str | None = None, progress: bool = False,
           max_new_tokens: int = 384) -> Digest:
    """Digest `messages` (chronological clavis.apps.chats.Message records).

    me: the reader's name as it appears in the chat (questions/requests/replies to them);
    since (datetime or ISO string) | last ("2d", timedelta) | since_my_last: the window;
    llm: a loaded LLM for the LLM engine (None = extractive)."""
    from clavis.apps.digest import extractive

    messages = list(messages)
    me = resolve_me(messages, me)
    msgs, span = window(messages, since=since, last=last, since_my_last=since_my_last, me=me)
    my_ids = {m.id for m in messages if me is not None and m.author == me}
    meta = {
        "chat": chat, "me": me, "window": span, "engine": "extractive" if llm is None else "llm",
        "messages": len(msgs), "people": len({m.author for m in msgs if m.author}),
        "first": f"{msgs[0].time:%Y-%m-%d %H:%M}" if msgs else None,
        "last": f"{msgs[-1].time:%Y-%m-%d %H:%M}" if msgs else None,
        "notes": [],
    }
    if not msgs:
        meta["notes"].append(f"no messages in the window ({span})")
        return Digest.empty(meta)
    sections, notes = extractive.build(msgs, me, my_ids)
    meta["notes"] += notes
    if llm is not None:
        from clavis.apps.digest import llm_engine

        llm_sections, llm_notes, stats = llm_engine.run(llm, msgs, me, my_ids, progress=progress,
                                                        max_new_tokens=max_new_tokens)
        sections.update(llm_sections)
        meta["notes"] += llm_notes
        meta["llm"] = stats
    cited = {i for pts in sections.values() for p in pts for i in p.cites}
    refs = {m.id: Ref(m.author, m.time) for m in msgs if m.id in cited}
    return Digest({k: sections.get(k, []) for k in SECTIONS}, refs, meta)
