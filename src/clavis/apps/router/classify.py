"""Is a question answerable on the device, by the offline clock, or does it need live data?

A transparent linear scorer over hand-written multilingual cues (English, German, Spanish,
French, Russian, plus a little Italian and Portuguese). Every cue that fires is kept with its
weight, so a decision can always be explained (`--why`).

Routes:
  "device"  static knowledge: the local model answers, nothing leaves the machine;
  "clock"   the current time / date / weekday (optionally in a named place): an offline tool;
  "live"    real-time data (weather, news, prices, scores, traffic ...): needs the network.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

ROUTES = ("device", "clock", "live")


@dataclass(frozen=True)
class Cue:
    name: str       # what the cue means, shown by --why
    pattern: str    # regex over the normalised text (lower case, accents kept)
    weight: float


# --- live topics: things whose answer changes by the hour -------------------------------------
LIVE_TOPICS = [
    Cue("weather", r"\b(weather|forecast|temperature|raining|rain|snow(ing)?|sunny|humidity|wind speed"
                   r"|wetter|temperatur|regnet|regen|schnee|vorhersage"
                   r"|clima|pron[oó]stico|llover|lluvia|llueve|nieva|temperatura|qu[ée] tiempo hace"
                   r"|m[ée]t[ée]o|pleut|pleuvoir|pluie|neige|pr[ée]visions?|quel temps"
                   r"|погод\w*|температур\w*|дожд\w*|снег\w*|прогноз\w*"
                   r"|tempo che fa|previs[aã]o do tempo|chove|windy|windig|umbrella|regenschirm|paraguas|parapluie|зонт\w*)\b", 2.5),
    Cue("news", r"\b(news|headlines?|top stories|breaking|nachrichten|schlagzeilen|noticias|titulares"
                r"|actualit[ée]s|nouvelles|infos|новост\w*|notizie|not[ií]cias)\b", 2.5),
    Cue("prices/markets", r"\b(price|prices|cost now|stock|stocks|shares?|exchange rate|bitcoin|btc"
                          r"|eth|crypto\w*|nasdaq|dow jones|s&p|dax|preis|preise|kurs|aktien?"
                          r"|börse|wechselkurs|precio|precios|cotizaci[oó]n|acciones|tipo de cambio"
                          r"|prix|cours|bourse|taux de change|цен[аыуе]?|курс\w*|акци[йия]\w*"
                          r"|бирж\w*|биткоин\w*|prezzo|pre[cç]o|cota[cç][aã]o)\b", 2.0),
    Cue("what it costs", r"(how much (is|are|does|do)\b.*\b(cost|worth)|wie ?viel kostet|cu[aá]nto (cuesta|vale)"
                         r"|combien (co[uû]te|vaut)|сколько стоит|quanto costa|quanto custa)", 1.5),
    Cue("sports results", r"\b(score|scores|who won|result of the match|standings|spielstand"
                          r"|wer hat gewonnen|ergebnis|resultado|qui(é|e)n gan[oó]|marcador"
                          r"|qui a gagn[ée]|classement|r[ée]sultats? du match|сч[её]т матча|кто выиграл"
                          r"|результат матча)\b", 2.0),
    Cue("current office-holder", r"\b(current|aktuelle[rn]?|actual|actuel(le)?|нынешн\w*|текущ\w*)\s+"
                                 r"(president|prime minister|chancellor|ceo|champion|leader|pope|king"
                                 r"|pr[äa]sident\w*|kanzler\w*|presidente|primer ministro|campe[oó]n"
                                 r"|pr[ée]sident|premier ministre|champion|президент\w*|премьер\w*"
                                 r"|чемпион\w*)", 1.5),
    Cue("traffic/transport", r"\b(traffic|delays?|flight status|departures?|stau|versp[äa]tung"
                             r"|tr[áa]fico|retrasos?|trafic|retards?|пробк\w*|задержк\w*)\b", 2.0),
    Cue("open now / events", r"\b(open now|still open|ge[öo]ffnet|abierto ahora|ouvert maintenant"
                             r"|открыт\w* сейчас|what'?s on|events? (tonight|this weekend))\b", 2.0),
    Cue("election/poll", r"\b(polls?|elections? results?|umfragen?|encuestas?|sondages?|опрос\w*)\b", 1.5),
    Cue("updates/strikes/showtimes", r"\b(updates?|strikes?|streiks?|huelgas?|gr[èe]ves?|забастовк\w*"
                                     r"|showtimes|movies playing|im kino|en el cine|au cin[ée]ma"
                                     r"|в кино)\b", 1.5),
]

# --- "now"-words: temporal deixis that makes a question about the present ----------------------
NOW_WORDS = [
    Cue("now/currently", r"\b(now|right now|currently|current|at the moment|live|jetzt|gerade"
                         r"|derzeit|aktuell\w*|momentan|ahora|actualmente|actual|en este momento"
                         r"|maintenant|actuellement|en ce moment|сейчас|теперь|в данный момент"
                         r"|текущ\w*|adesso|ora|agora|atualmente)\b", 1.2),
    Cue("today/tonight/tomorrow", r"\b(today|tonight|tomorrow|this (morning|evening|week|weekend)"
                                  r"|heute|morgen|heute abend|hoy|mañana|esta noche"
                                  r"|aujourd'hui|demain|ce soir|cette semaine|сегодня|завтра"
                                  r"|вечером|на этой неделе|oggi|domani|hoje|amanhã)\b", 1.2),
    Cue("latest/recent", r"\b(latest|newest|recent|recently|last night|yesterday|this year'?s"
                         r"|neueste\w*|letzte\w*|gestern|[úu]ltim[oa]s?|reciente\w*|ayer"
                         r"|derni[eè]re?s?|r[ée]cent\w*|hier|последн\w*|свеж\w*|вчера"
                         r"|recentes?|ontem)\b", 1.0),
]

# --- the clock: time, date, weekday ----------------------------------------------------------
CLOCK = [
    Cue("what time is it", r"(what time is it|what'?s the time|current time|time is it"
                           r"|time in [a-z]|wie sp[äa]t|wieviel uhr|wie viel uhr|uhrzeit"
                           r"|qu[ée] hora|la hora (en|es)|quelle heure|l'heure (à|a|est|qu'il)"
                           r"|который час|сколько (сейчас )?времени|время в \w+|che ore sono"
                           r"|que horas s[aã]o)", 3.0),
    Cue("what date/day is it", r"(what(\'s| is) (the )?(date|day)|what (date|day)( of the week)? is it"
                               r"|which day is it|welcher tag ist heute|quel jour sommes"
                               r"|today'?s date|date today|welche[sr]? (datum|tag)|den wievielten"
                               r"|welcher wochentag|qu[ée] (fecha|d[ií]a)|quel (jour|est la date)"
                               r"|quelle (est la )?date|какое (сегодня )?(число|сегодня число)"
                               r"|какой (сегодня )?день|какая (сегодня )?дата|che giorno"
                               r"|que dia [ée] hoje)", 3.0),
    Cue("days until", r"(how many days (until|till|to)|wie viele tage bis|cu[aá]ntos d[ií]as (faltan )?"
                      r"(para|hasta)|combien de jours (avant|jusqu)|сколько дней (до|осталось))", 2.5),
]

# --- static knowledge: questions whose answer does not change ----------------------------------
STATIC = [
    Cue("definition/explanation", r"\b(what is an?|what does .+ mean|explain|define|definition|meaning of"
                                  r"|how does|how do|why (is|do|does|are)|was ist|erkl[äa]re?\w*"
                                  r"|wie funktioniert|warum|qu[ée] es|expl[ií]ca\w*|c[oó]mo funciona"
                                  r"|por qu[ée]|qu'est-ce que|explique\w*|comment fonctionne|pourquoi"
                                  r"|что такое|объясни\w*|как работает|почему)\b", -1.5),
    Cue("history/biography", r"\b(who (wrote|painted|invented|discovered|was)|in which year|when (was|did)"
                             r"|wer (schrieb|hat .* geschrieben|erfand|war)|in welchem jahr"
                             r"|qui[ée]n (escribi[oó]|pint[oó]|invent[oó]|fue)|en qu[ée] a[ñn]o"
                             r"|qui a ([ée]crit|peint|invent[ée])|en quelle ann[ée]e|кто (написал|изобр[её]л|был)"
                             r"|в каком году|history|geschichte|historia|histoire|истори\w*)\b", -1.5),
    Cue("facts/geography", r"\b(capital|hauptstadt|capitale?|столиц\w*|largest|tallest|longest"
                           r"|population of|landmark|sehensw[üu]rdigkeit\w*|monumento|monument"
                           r"|достопримечательност\w*)\b", -1.2),
    Cue("past year", r"\b(1[0-9]{3}|20[01][0-9])\b", -1.0),
    Cue("how-to/make", r"\b(how (to|can i|do i)|recipe|translate|write a|summari[sz]e|rezept"
                       r"|übersetze|schreibe?|receta|traduce|escribe|recette|traduis|[ée]cris"
                       r"|рецепт|переведи|напиши)\b", -1.2),
]

THRESHOLD = 2.0   # total live score at or above this -> "live"
CLOCK_MIN = 2.5   # clock score at or above this (and not outscored by live topics) -> "clock"


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower()
    text = text.replace("\u2019", "'").replace("ё", "е")
    return re.sub(r"\s+", " ", text).strip()


_COMPILED: dict[str, re.Pattern] = {}


def _hits(cues: list[Cue], text: str) -> list[tuple[str, str, float]]:
    out = []
    for cue in cues:
        rx = _COMPILED.get(cue.pattern)
        if rx is None:
            rx = _COMPILED[cue.pattern] = re.compile(cue.pattern)
        m = rx.search(text)
        if m:
            out.append((cue.name, m.group(0).strip(), cue.weight))
    return out


@dataclass
class Classification:
    route: str                      # one of ROUTES
    score: float                    # live score (topics + now-words + static)
    clock_score: float
    reasons: list[tuple[str, str, float]] = field(default_factory=list)  # (cue, matched, weight)

    def explain(self) -> str:
        parts = [f"{name} '{m}' {w:+.1f}" for name, m, w in self.reasons] or ["no cue fired"]
        return (f"route={self.route}: " + "; ".join(parts)
                + f" (live score {self.score:+.1f}, threshold {THRESHOLD}; clock {self.clock_score:.1f})")


def classify(question: str) -> Classification:
    text = normalise(question)
    topics = _hits(LIVE_TOPICS, text)
    now = _hits(NOW_WORDS, text)
    static = _hits(STATIC, text)
    clock = _hits(CLOCK, text)
    topic_score = sum(w for _, _, w in topics)
    # Time words alone do not make a question live ("what happened yesterday in 1066?"); they
    # count fully with a live topic and half without one.
    now_score = sum(w for _, _, w in now) * (1.0 if topics else 0.5)
    static_score = sum(w for _, _, w in static)
    clock_score = sum(w for _, _, w in clock)
    live = topic_score + now_score + static_score
    reasons = topics + [(n, m, w * (1.0 if topics else 0.5)) for n, m, w in now] + static + clock
    if clock_score >= CLOCK_MIN and topic_score < clock_score:
        route = "clock"
    elif live >= THRESHOLD:
        route = "live"
    else:
        route = "device"
    return Classification(route, live, clock_score, reasons)
