"""A seeded generator of long group chats with planted items (decisions, questions to the reader,
dates), written as a WhatsApp Android export so the digest is tested through the parser."""
from __future__ import annotations

import datetime as dt
import random

PEOPLE = ["Anna", "Ben", "Carla", "Dmitri", "Eve"]
ME = "Sam Lee"

_SUBJECTS = ["the game last night", "that new series", "my neighbour's dog", "the weather", "work",
             "the traffic", "the new phone", "lunch", "the gym", "the printer at the office",
             "the cat", "the podcast", "grandma's recipe", "the football club", "the garden",
             "the bike repair", "the landlord", "the quiz night", "the guitar lessons", "the bakery"]
_TEMPLATES = [
    "honestly {s} was something else", "did anyone else notice {s}", "I can't stop thinking about {s}",
    "{s} is driving me crazy", "not sure what to say about {s}", "ugh, {s} again",
    "the thing with {s} is that nobody cares", "I told my sister about {s} and she laughed",
    "apparently {s} is trending now", "you won't believe {s}", "Ben what do you think of {s}?",
    "Anna can you check {s} for me?", "my take on {s}: overrated", "still laughing about {s}",
]
_SHORT = ["lol", "haha", "😂😂", "true", "same", "omg", "wow", "nice", "hmm", "🙈", "no way", "ikr"]

DECISIONS = [
    "Decided: we rent the red minibus from Hertz for the whole trip",
    "OK final plan: dinner at Luigi's trattoria by the lake",
    "We'll go with the cheaper hostel near the old harbour",
    "Agreed, the shared budget is 200 euros per person",
    "It's settled, Carla books the ferry tickets for everyone",
]
PROPOSAL = "How about we take the early train to Porto instead of driving"
FOR_ME = [
    "@Sam can you send me the insurance papers for the rental?",
    "Sam, did you already pay the deposit for the cabin?",
    "Sam could you bring the projector for the movie night please",
    "sam are you joining the climbing session or not?",
]
AFTER_ME = ("I might be a bit late on Saturday", "Will you make it before the lunch reservation though?")
DISTRACTORS = ["Samantha from work says hi to everyone", "Ben can you bring the speaker?"]
DATES = [
    "Dentist appointment moved to 2024-03-21 at 10:30, so I can't do that morning",
    "The jazz concert is on Friday at 20:00, doors open earlier",
    "Birthday party for Carla on 12 April at her place, bring snacks",
    "My flight lands at 14:45 on Sunday, terminal 2",
    "Deadline for the visa forms is 30.03. don't miss it",
]


def generate(n: int = 2000, seed: int = 1234):
    """Returns (lines of a WhatsApp export, planted) where planted maps a kind to a list of
    (message index, text) and message index i is message id i + 1 after parsing."""
    rnd = random.Random(seed)
    t = dt.datetime(2024, 3, 11, 8, 0)
    msgs: list[tuple[dt.datetime, str, str]] = []
    planted = {"decision": [], "for_me": [], "date": [], "distractor": []}
    plan = {}
    slots = rnd.sample(range(50, n - 50), 40)
    for k, s in enumerate(DECISIONS):
        plan[slots.pop()] = ("decision", s)
    for s in FOR_ME:
        plan[slots.pop()] = ("for_me", s)
    for s in DATES:
        plan[slots.pop()] = ("date", s)
    for s in DISTRACTORS:
        plan[slots.pop()] = ("distractor", s)
    plan[slots.pop()] = ("proposal", PROPOSAL)
    plan[slots.pop()] = ("after_me", None)
    while len(msgs) < n:
        t += dt.timedelta(minutes=rnd.choice([1, 1, 2, 3, 5, 8, 15, 40]))
        if t.hour < 7:
            t = t.replace(hour=8)
        i = len(msgs)
        who = rnd.choice(PEOPLE)
        if i in plan:
            kind, text = plan.pop(i)
            if kind == "proposal":
                msgs.append((t, "Dmitri", text))
                planted["decision"].append((i, text))
                for a in ("Anna", "Eve", "Ben"):
                    t += dt.timedelta(minutes=1)
                    msgs.append((t, a, rnd.choice(["ok", "sounds good", "👍", "yes"])))
                continue
            if kind == "after_me":
                msgs.append((t, ME, AFTER_ME[0]))
                t += dt.timedelta(minutes=2)
                msgs.append((t, "Eve", AFTER_ME[1]))
                planted["for_me"].append((i + 1, AFTER_ME[1]))
                continue
            msgs.append((t, who, text))
            planted[kind].append((i, text))
            continue
        r = rnd.random()
        if r < 0.25:
            text = rnd.choice(_SHORT)
        elif r < 0.28:
            text = "<Media omitted>"
        elif r < 0.31:
            who, text = ME, rnd.choice(["haha yes", "agree with Ben", "brb", "checking"])
        else:
            text = rnd.choice(_TEMPLATES).format(s=rnd.choice(_SUBJECTS))
            if rnd.random() < 0.1:
                text += "\nand another thing about it"
        msgs.append((t, who, text))
    lines = []
    for when, who, text in msgs:
        lines.append(f"{when:%d/%m/%y, %H:%M} - {who}: {text}")
    return lines, planted
