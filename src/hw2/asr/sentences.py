"""LJ Speech-shaped sentences: (raw text, normalized text) pairs of varied length.

The shapes follow LJ Speech 1.1's metadata.csv: about 17 words and 100 characters
per transcript (up to about 190), so that roughly half exceed the decoder's 97
characters; quotes, semicolons, colons, apostrophes and parentheses, which the
ASR's 35-token vocabulary does not hold; and numbers, years, ordinals, sums of
money and abbreviations written in digits or short forms in the raw column and
spelled out in the normalized one (which eSpeak reads and the ASR learns).
"""

import random
from collections.abc import Callable

from hw2.asr.numbers import (
    number_to_words,
    ordinal_suffix,
    ordinal_to_words,
    year_to_words,
)

# Target spoken words per sentence: WORDS[0] + (WORDS[1] - WORDS[0]) * Beta(*SHAPE);
# the last clause overshoots the target by a few words, so the mean lands near
# LJ Speech's 17.2.
WORDS = (2, 30)
SHAPE = (1.9, 2.9)
MAX_CHARS = 190  # LJ Speech's longest normalized transcripts
SHORT = 4  # targets up to this many words get a fragment ("In 1864.")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_NOUNS = """
man woman child boy girl king queen soldier officer clerk doctor lawyer judge prisoner
witness guard sailor farmer teacher student driver writer printer baker banker
merchant servant stranger neighbor friend brother sister father mother uncle cousin
captain sheriff agent president senator governor mayor nurse pilot porter miner
house room door window wall floor roof garden street road bridge river lake hill
mountain field forest tree flower stone rock city town village station church school
office hospital prison court market shop store bank hotel kitchen table chair bed desk
box bag basket bottle cup glass plate knife spoon book letter paper card map picture
photograph newspaper pen pencil key lock coin ring watch clock lamp candle fire horse
dog cat bird cow sheep fish wolf fox rabbit ship boat train car wagon carriage wheel
engine machine rifle bullet coat hat shoe shirt dress jacket glove rope chain bell drum
song story message report record list name question answer problem plan reason voice
sound word page line bread apple cheese cake egg island harbor coast beach valley
desert cloud storm star gate fence tower castle farm barn package parcel
envelope ticket bench ladder bucket blanket pillow mirror camera radio telephone
"""
_PLURALS = {
    "man": "men",
    "woman": "women",
    "child": "children",
    "knife": "knives",
    "wolf": "wolves",
    "sheep": "sheep",
    "fish": "fish",
    "shelf": "shelves",
}
_ADJECTIVES = """
old young new small large big little long short tall heavy light dark bright quiet loud
cold warm hot dry wet clean dirty empty full rich poor happy sad angry tired busy
strange famous simple quick slow early late hard soft strong weak brave careful sudden
silent narrow wide deep thin thick sharp round square green red blue white black brown
yellow grey golden wooden broken open closed secret public private local foreign
ancient modern final gentle proud nervous curious calm wild lonely lucky fresh plain
fair rough smooth cheap expensive elderly important anxious awkward hungry polite
well-known old-fashioned half-empty brand-new red-haired second-hand
"""
# (base, past) of verbs that take an object
_TRANSITIVE = """
see saw, find found, take took, bring brought, buy bought, sell sold, carry carried,
open opened, close closed, read read, write wrote, paint painted, build built,
break broke, fix fixed, hold held, keep kept, leave left, lose lost, make made,
move moved, pull pulled, push pushed, send sent, show showed, steal stole,
throw threw, watch watched, wash washed, visit visited, call called, follow followed,
help helped, hear heard, meet met, remember remembered, answer answered, ask asked,
check checked, clean cleaned, count counted, cover covered, drop dropped, fill filled,
hide hid, lift lifted, mark marked, need needed, order ordered, pack packed,
pass passed, pay paid, pick picked, print printed, reach reached, receive received,
search searched, seize seized, sign signed, study studied, touch touched,
want wanted, wear wore, win won, cut cut, burn burned, catch caught, choose chose,
draw drew, drive drove, eat ate, feed fed, guard guarded, inspect inspected,
protect protected, question questioned, repair repaired, test tested,
examine examined, describe described, discover discovered, notice noticed,
recognize recognized, borrow borrowed, deliver delivered, destroy destroyed
"""
# (base, past) of verbs without an object
_INTRANSITIVE = """
walk walked, run ran, wait waited, arrive arrived, sleep slept, speak spoke,
laugh laughed, smile smiled, cry cried, sing sang, dance danced, swim swam,
fall fell, rise rose, sit sat, stand stood, stay stayed, return returned,
travel traveled, work worked, rest rested, listen listened, shout shouted,
whisper whispered, hurry hurried, escape escaped, disappear disappeared, fly flew,
jump jumped, climb climbed, stop stopped, turn turned, knock knocked, pray prayed,
vote voted, agree agreed, wander wandered, shiver shivered, complain complained,
hesitate hesitated, testify testified, resign resigned
"""
_ADVERBS = """
slowly quickly quietly loudly carefully suddenly early late again today yesterday soon
often rarely finally twice gently happily sadly nervously proudly calmly badly easily
silently eagerly angrily bravely politely tonight
"""
_PLACE_PREPOSITIONS = _words(
    """
in on under near behind beside inside outside across along through above below
toward past around
"""
)
_FIRST_NAMES = """
John Mary James Robert William Henry Thomas George Charles Edward Arthur Walter Frank
Samuel Alice Helen Margaret Anna Ruth Lucy Emma Clara Jack Harry Oliver Grace Rose
"""
_SURNAMES = """
Brown Smith Jones Taylor Wilson Clark Lewis Walker Hall Allen Young King Wright Scott
Green Baker Adams Nelson Carter Mitchell Parker Turner Morgan Cooper Bennett Fletcher
Hughes Palmer Reed Ward
"""
# abbreviations and what the normalized column says for them
_TITLES = (
    ("Mr.", "Mister"),
    ("Mr.", "Mister"),
    ("Mrs.", "Missus"),
    ("Dr.", "Doctor"),
    ("Capt.", "Captain"),
    ("Gen.", "General"),
    ("Col.", "Colonel"),
    ("Lieut.", "Lieutenant"),
)
_MONTHS = _words(
    """
January February March April May June July August September October November
December
"""
)
_DAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
_TIMES = (
    "at noon",
    "at night",
    "last week",
    "last year",
    "in the morning",
    "in the evening",
    "after dinner",
    "before dawn",
    "that night",
    "the next day",
)

NOUNS = _words(_NOUNS)
ADJECTIVES = _words(_ADJECTIVES)
TRANSITIVE = tuple(tuple(p.split()) for p in _TRANSITIVE.split(","))
INTRANSITIVE = tuple(tuple(p.split()) for p in _INTRANSITIVE.split(","))
ADVERBS = _words(_ADVERBS)
FIRST_NAMES = _words(_FIRST_NAMES)
SURNAMES = _words(_SURNAMES)


_CONNECTORS = (  # (mark after the clause before, words that follow), weighted below
    (",", "and"),
    (",", "but"),
    (",", "while"),
    (",", "so"),
    ("", "when"),
    ("", "because"),
    (";", ""),
    (";", "and"),
    (":", ""),
)
_CONNECTOR_WEIGHTS = (6, 3, 1, 1, 2, 2, 1, 0.5, 0.5)
_ASIDES = ("see page", "No.", "in", "about", "that is,")  # what a parenthesis holds


def plural(noun: str) -> str:
    """The plural of one of the grammar's nouns."""
    if noun in _PLURALS:
        return _PLURALS[noun]
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def possessive(word: str) -> str:
    """'king' -> "king's", 'soldiers' -> "soldiers'"."""
    return word + ("'" if word.endswith("s") else "'s")


class _Sentence:
    """Raw and normalized words built side by side."""

    def __init__(self):
        self.raw: list[str] = []
        self.norm: list[str] = []

    def add(self, raw: str, norm: str | None = None) -> "_Sentence":
        self.raw.append(raw)
        self.norm.append(raw if norm is None else norm)
        return self

    def words(self, text: str) -> "_Sentence":
        for word in text.split():
            self.add(word)
        return self

    def punct(self, mark: str) -> "_Sentence":
        self.raw[-1] += mark
        self.norm[-1] += mark
        return self

    def wrap(self, start: int, opening: str, closing: str) -> "_Sentence":
        """Enclose the words from index `start` on, e.g. in quotes."""
        for column in (self.raw, self.norm):
            column[start] = opening + column[start]
            column[-1] += closing
        return self

    def spoken(self) -> int:
        """Words of the normalized text (what eSpeak says)."""
        return sum(len(word.split()) for word in self.norm)

    def text(self) -> tuple[str, str]:
        """(raw, normalized), each with its first letter capitalised."""
        return _capitalise(" ".join(self.raw)), _capitalise(" ".join(self.norm))


def _capitalise(text: str) -> str:
    i = 1 if text[:1] in '"(' else 0  # digits and other marks stay as they are
    return text[:i] + text[i : i + 1].upper() + text[i + 1 :]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _count(s: _Sentence, rng: random.Random) -> None:
    """A number of things, in digits (with thousands commas, as LJ Speech's raw)."""
    n = rng.choice((rng.randint(2, 12), rng.randint(13, 99), rng.randint(100, 9999)))
    s.add(f"{n:,}", number_to_words(n))


def _name(s: _Sentence, rng: random.Random) -> None:
    kind = rng.random()
    if kind < 0.5:
        title, spoken = rng.choice(_TITLES)
        s.add(title, spoken).add(rng.choice(SURNAMES))
    elif kind < 0.75:
        s.add(rng.choice(FIRST_NAMES)).add(rng.choice(SURNAMES))
    elif kind < 0.85:
        s.add("St.", "Saint").add(rng.choice(FIRST_NAMES))
    else:
        s.add(rng.choice(FIRST_NAMES))


def _noun_phrase(s: _Sentence, rng: random.Random, *, plural_ok: bool = True) -> bool:
    """Append a subject or object; return whether it is plural."""
    kind = rng.random()
    if kind < 0.2:
        _name(s, rng)
        if rng.random() < 0.15:  # "Mr. Brown's horse"
            s.raw[-1], s.norm[-1] = possessive(s.raw[-1]), possessive(s.norm[-1])
            s.add(rng.choice(NOUNS))
        return False
    if plural_ok and kind < 0.32:
        _count(s, rng)
        if rng.random() < 0.3:
            s.add(rng.choice(ADJECTIVES))
        s.add(plural(rng.choice(NOUNS)))
        return True
    noun = rng.choice(NOUNS)
    adjective = rng.choice(ADJECTIVES) if rng.random() < 0.45 else None
    is_plural = plural_ok and rng.random() < 0.3
    first = adjective or noun
    if is_plural:
        s.add(rng.choice(("the", "the", "some", "these", "those", "their", "our")))
    elif rng.random() < 0.05:  # "the king's servant"
        s.add("the").add(possessive(rng.choice(NOUNS)))
    else:
        s.add(
            rng.choice(
                ("the", "the", "the", _article(first), "this", "that", "his", "her")
            )
        )
    if adjective:
        s.add(adjective)
    s.add(plural(noun) if is_plural else noun)
    return is_plural


def _place(s: _Sentence, rng: random.Random) -> None:
    s.add(rng.choice(_PLACE_PREPOSITIONS)).add("the").add(rng.choice(NOUNS))
    if rng.random() < 0.15:
        n = rng.randint(1, 99)
        s.add("No.", "number").add(str(n), number_to_words(n))


def _time(s: _Sentence, rng: random.Random) -> None:
    """A time phrase, often with a year or a date in digits."""
    kind = rng.random()
    if kind < 0.4:
        year = rng.randint(1700, 1999)
        s.add("in").add(str(year), year_to_words(year))
    elif kind < 0.65:
        day = rng.randint(1, 31)
        s.add("on").add(rng.choice(_MONTHS))
        day_raw = str(day) if rng.random() < 0.5 else ordinal_suffix(day)
        s.add(day_raw, ordinal_to_words(day))
        if rng.random() < 0.5:
            year = rng.randint(1700, 1999)
            s.punct(",").add(str(year), year_to_words(year))
    elif kind < 0.8:
        s.add("on").add(rng.choice(_DAYS))
    else:
        s.words(rng.choice(_TIMES))


def _statement(s: _Sentence, rng: random.Random) -> None:
    _noun_phrase(s, rng)
    if rng.random() < 0.08:
        s.words(rng.choice(("didn't", "couldn't", "wouldn't")))
        s.add(rng.choice(TRANSITIVE)[0])
    else:
        s.add(rng.choice(TRANSITIVE)[1])
    _noun_phrase(s, rng)
    if rng.random() < 0.35:
        _place(s, rng)


def _dated(s: _Sentence, rng: random.Random) -> None:
    _time(s, rng)
    s.punct(",")
    _noun_phrase(s, rng)
    if rng.random() < 0.5:
        s.add(rng.choice(TRANSITIVE)[1])
        _noun_phrase(s, rng, plural_ok=False)
    else:
        s.add(rng.choice(INTRANSITIVE)[1])


def _description(s: _Sentence, rng: random.Random) -> None:
    is_plural = _noun_phrase(s, rng)
    if rng.random() < 0.08:
        s.add("weren't" if is_plural else "wasn't")
    else:
        s.add("were" if is_plural else "was")
        if rng.random() < 0.3:
            s.add(rng.choice(("very", "rather", "quite")))
    s.add(rng.choice(ADJECTIVES))


def _action(s: _Sentence, rng: random.Random) -> None:
    _noun_phrase(s, rng)
    s.add(rng.choice(INTRANSITIVE)[1])
    r = rng.random()
    if r < 0.4:
        s.add(rng.choice(ADVERBS))
    elif r < 0.75:
        _place(s, rng)
    else:
        _time(s, rng)


def _payment(s: _Sentence, rng: random.Random) -> None:
    _noun_phrase(s, rng)
    s.add(rng.choice(("paid", "asked", "offered", "lost", "found", "spent")))
    amount = rng.choice((rng.randint(2, 99), rng.randint(100, 5000)))
    s.add(f"${amount:,}", f"{number_to_words(amount)} dollars")
    if rng.random() < 0.5:
        noun = rng.choice(NOUNS)
        s.add("for").add(_article(noun)).add(noun)


def _quoted(s: _Sentence, rng: random.Random) -> None:
    """Reported speech: the guard said, "the old man left early"."""
    _noun_phrase(s, rng, plural_ok=False)
    s.add(rng.choice(("said", "wrote", "replied", "declared"))).punct(",")
    start = len(s.raw)
    rng.choice((_statement, _description, _action))(s, rng)
    s.wrap(start, '"', '"')


_CLAUSES: tuple[tuple[Callable[[_Sentence, random.Random], None], float], ...] = (
    (_statement, 0.3),
    (_dated, 0.14),
    (_description, 0.15),
    (_action, 0.2),
    (_payment, 0.07),
    (_quoted, 0.03),
)


def _clause(s: _Sentence, rng: random.Random) -> None:
    makers, weights = zip(*_CLAUSES, strict=True)
    rng.choices(makers, weights)[0](s, rng)
    if rng.random() < 0.03:  # an aside in parentheses: "(see page 12)"
        start = len(s.raw)
        aside = rng.choice(_ASIDES)
        if aside == "see page":
            s.words(aside)
            _count(s, rng)
        elif aside == "No.":
            s.add("No.", "number")
            _count(s, rng)
        elif aside == "in":
            year = rng.randint(1700, 1999)
            s.add("in").add(str(year), year_to_words(year))
        elif aside == "about":
            s.add("about")
            _count(s, rng)
        else:
            s.words("that is,")
            _noun_phrase(s, rng)
        s.wrap(start, "(", ")")


def _fragment(s: _Sentence, rng: random.Random) -> None:
    """A short transcript: a heading, a time or a name ("Chapter 7.", "In 1864.")."""
    kind = rng.random()
    if kind < 0.3:
        n = rng.randint(1, 40)
        s.add("Chapter", "chapter").add(str(n), number_to_words(n))
    elif kind < 0.6:
        _time(s, rng)
    else:
        _noun_phrase(s, rng)


def make_sentence(rng: random.Random) -> tuple[str, str]:
    """An LJ Speech-shaped sentence: (raw with digits, normalized spelled out)."""
    while True:
        target = WORDS[0] + round((WORDS[1] - WORDS[0]) * rng.betavariate(*SHAPE))
        s = _Sentence()
        if target <= SHORT:
            _fragment(s, rng)
        else:
            _clause(s, rng)
            while s.spoken() < target:
                mark, word = rng.choices(_CONNECTORS, _CONNECTOR_WEIGHTS)[0]
                if mark:
                    s.punct(mark)
                if word:
                    s.add(word)
                _clause(s, rng)
        s.punct(rng.choices(".?", (0.93, 0.07))[0])
        raw, normalized = s.text()
        if len(normalized) <= MAX_CHARS:
            return raw, normalized


def vocabulary() -> set[str]:
    """Every word the grammar can say (lower-case, numbers excluded)."""
    words = set(NOUNS) | {plural(n) for n in NOUNS} | set(ADJECTIVES) | set(ADVERBS)
    words |= {w for pair in TRANSITIVE + INTRANSITIVE for w in pair}
    words |= {w.lower() for w in FIRST_NAMES + SURNAMES + _MONTHS + _DAYS}
    return words
