"""LJ Speech-shaped transcripts: (raw text, normalized text) pairs.

LJ Speech 1.1's rows are pieces of 19th- and 20th-century non-fiction read
aloud, cut where the reader paused: many begin in lower case ("and one or two
men were allowed") and end on a comma. The generator draws that shape with a
small grammar of past-tense prose whose open-class words come from
hw2.speech.lexicon (word frequencies and inflections from pinned packages), and
matches the figures measured on LJ Speech's metadata.csv (docs/speech-sample.md):
- lengths: about 17 words and 100 characters a transcript, up to about 190, so
  that about half exceed the decoder's 97 characters (`words` sets the range);
- LJ's commonest words in about LJ's order (the, of, and, to, in, a, was, that,
  he, his, ...) and about 0.19 distinct words per word on 2,000 transcripts
  (LJ: 0.176);
- characters outside the ASR's vocabulary in about a fifth of the transcripts,
  of LJ's kinds: ' " ; : ( ) and, rarely, ! [ ] curly quotes and ü é â à;
- digits in about a tenth of the raw transcripts (years, dates, counts, sums,
  clock times, ordinals), spelled out in the normalized column as LJ spells
  them ("twelve:thirty-five p.m.", "nineteen dollars, ninety-five cents");
- Mr., Mrs. and Dr. kept in both columns, as LJ keeps them (eSpeak reads them).
"""

import random
from bisect import bisect

from hw2.speech import numbers as N
from hw2.speech.lexicon import Lexicon, lexicon

# Target spoken words: lo + (hi - lo) * Beta(*SHAPE); the last clause overshoots
# the target by a few words, so the mean lands near LJ Speech's 17.2.
WORDS = (2, 28)  # (lo, hi): a transcript says lo to hi words
MAX_WORDS = 30  # more would not fit in MAX_CHARS often enough
SHAPE = (3.0, 4.0)
MAX_CHARS = 190  # LJ Speech's longest normalized transcripts
SHORT = 4  # targets up to this many words get a fragment ("In 1864.")
MAX_DRAWS = 1000  # tries for a sentence within the bounds before giving up


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _table(pairs: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """'the 55 / such_a 1 / _ 2' -> (('the', 'such a', ''), (55, 56, 58))."""
    items, cumulative, total = [], [], 0.0
    for entry in pairs.split("/"):
        item, weight = entry.rsplit(None, 1)
        total += float(weight)
        item = item.strip()
        items.append("" if item == "_" else item.replace("_", " "))
        cumulative.append(total)
    return tuple(items), tuple(cumulative)


def _pairs(pairs: str) -> tuple[tuple[tuple[str, str], ...], tuple[float, ...]]:
    """',and 22 / ; 5' -> ((',', 'and'), (';', '')) and cumulative weights."""
    items, cumulative = _table(pairs)
    split = tuple((i[:1], i[1:]) if i[:1] in ",;:" else ("", i) for i in items)
    return split, cumulative


def _pick(rng: random.Random, table: tuple[tuple, tuple[float, ...]]):
    items, cumulative = table
    return items[bisect(cumulative, rng.random() * cumulative[-1])]


_DETERMINERS = _table(
    "the 27 / a 9.5 / his 3 / their 0.7 / her 1 / its 1 / this 2 / that 0.8 / "
    "some 1 / no 1 / every 0.5 / each 0.5 / any 0.5 / such_a 0.5 / one 0.5 / "
    "another 0.5 / _ 14"
)
_PLURAL_DETERMINERS = _table(
    "the 25 / _ 45 / their 2 / his 2 / these 2 / those 2 / all_the 2 / two 1.5 / "
    "three 1 / several 1 / many 1 / some 1 / other 1"
)
_PREPOSITIONS = _table(
    "in 32 / on 13 / for 10 / with 10 / by 5 / at 11 / to 13 / from 6 / into 3 / "
    "upon 2.5 / as 5 / after 2 / before 2 / under 2 / during 1.5 / without 1 / "
    "through 1.5 / against 1 / between 1 / about 2 / over 1 / within 1 / towards 1 / "
    "among 1"
)
_NOUN_PHRASES = _table("common 86 / name 7 / pronoun 3 / possessive 1.6 / foreign 0.25")
_SUBJECTS = _table("_ 70 / he 10 / it 5 / they 4 / she 3 / we 1 / I 1")  # _: a noun
_PREDICATES = _table(
    "transitive 36 / passive 9 / perfect 5.5 / copula 7 / intransitive 11 / that 5 / "
    "to 8 / modal 9 / progressive 2"
)
_SPEECH = _table("said 5 / stated 2 / testified 2 / declared 1 / replied 1 / wrote 1")
_MODALS = _table(
    "would 3 / could 3 / should 2 / might 1.5 / must 1.5 / did_not 2 / could_not 1.5 / "
    "would_not 1 / was_to 1 / had_to 1"
)
_LEADS = _table(  # how a transcript that starts mid-sentence starts
    "and 6 / which 2 / but 2 / that 3 / who 2 / as 1 / when 1 / in 3 / of 2 / to 1.5 / "
    "with 1"
)
_ENDS = _table(". 64 / , 21 / ; 1.3 / : 0.6 / ? 1.2 / ! 0.3 / _ 9")  # _: none
_FIRST_NAMES = _words(
    "John James William Henry Thomas George Charles Edward Robert Richard Mary "
    "Elizabeth Anne Jane Sarah Lee Marina Michael Jack Ruth"
)
_SURNAMES = _words(
    "Smith Brown Jones Taylor Wilson Clark Lewis Walker Hall Allen Young King Wright "
    "Scott Green Baker Adams Nelson Carter Mitchell Parker Turner Morgan Cooper "
    "Bennett Fletcher Hughes Palmer Reed Ward Oswald Kennedy Fry Howard Buxton "
    "Neild Griffiths Thurtell Bishop Dixon Hunt Cook Calcraft Roberts Paine"
)
_PLACES = _words(
    "London Newgate Dallas Texas Paris England America Babylon York Liverpool "
    "Washington Mexico Russia Minsk Boston Surrey Middlesex Dublin"
)
_FOREIGN = (  # LJ Speech's non-ASCII letters: ü 15 times, é twice, â and à once
    ("name", "Müller"),
    ("name", "Müller"),
    ("place", "Zürich"),
    ("place", "Lüneburg"),
    ("noun", "régime"),
    ("noun", "château"),
    ("phrase", "à la mode"),
)
_CONTRACTIONS = _words(
    "didn't don't couldn't wasn't wouldn't can't won't it's I'm there's"
)


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
        if self.raw:
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


class _Grammar:
    """One sentence's draws: rng, lexicon and the words so far."""

    def __init__(self, rng: random.Random, lex: Lexicon):
        self.rng, self.lex, self.s = rng, lex, _Sentence()

    def p(self, probability: float) -> bool:
        return self.rng.random() < probability

    def noun(self, plural: bool) -> str:
        return self.lex.nouns.draw(self.rng)[plural]

    def name(self) -> None:
        """A person: Mr. Smith, Mrs. Palmer, Dr. Hunt, Oswald, John Fry."""
        r, s = self.rng.random(), self.s
        surname = self.rng.choice(_SURNAMES)
        if r < 0.1:  # LJ Speech: Mr. 238, Mrs. 247, Dr. 59 times in 13,100 rows
            s.add(("Mr.", "Mrs.", "Dr.")[bisect((0.42, 0.84), self.rng.random())])
            s.add(surname)
        elif r < 0.5:
            s.add(self.rng.choice(_FIRST_NAMES)).add(surname)
        else:
            s.add(surname)

    def noun_phrase(self, depth: int = 0, plural: bool | None = None) -> bool:
        """Append a noun phrase; return whether it is plural."""
        rng, s = self.rng, self.s
        kind = _pick(rng, _NOUN_PHRASES) if plural is None else "common"
        if kind == "name":
            self.name()
            return False
        if kind == "pronoun":
            s.add(rng.choice(("it", "him", "them", "her", "himself", "themselves")))
            return False
        if kind == "foreign":
            kind, word = rng.choice(_FOREIGN)
            s.words(
                {"noun": "the ", "phrase": f"the {self.noun(False)} "}.get(kind, "")
            )
            s.words(word)
            return False
        if kind == "possessive":  # "the keeper's wife", "Palmer's trial"
            if self.p(0.4):
                self.name()
            else:
                s.add("the").add(self.noun(False))
            s.raw[-1] += "'s"
            s.norm[-1] += "'s"
            s.add(self.noun(False))
            return False
        if plural is None:
            plural = self.p(0.3)
        s.words(_pick(rng, _PLURAL_DETERMINERS if plural else _DETERMINERS))
        article = len(s.norm) - 1 if s.norm and s.norm[-1] == "a" else None
        if self.p(0.3):
            s.add(self.lex.adjectives.draw(rng))
            if self.p(0.04):
                s.add("and").add(self.lex.adjectives.draw(rng))
        s.add(self.noun(plural))
        if article is not None and s.norm[article + 1][0] in "aeiou":
            s.raw[article] = s.norm[article] = "an"
        if depth < 2 and self.p(0.2 if depth == 0 else 0.1):
            s.add("of")
            self.noun_phrase(depth + 1)
        elif depth == 0 and self.p(0.06):  # the keeper and the chaplain
            s.add("and")
            self.noun_phrase(depth + 1)
            return True
        return plural

    def subject(self) -> bool:
        """Append a subject; return whether it takes 'were'."""
        pronoun = _pick(self.rng, _SUBJECTS)
        if not pronoun:
            return self.noun_phrase()
        self.s.add(pronoun)
        return pronoun in ("they", "we", "you")

    def preposition(self) -> None:
        self.s.add(_pick(self.rng, _PREPOSITIONS))
        if self.p(0.05):
            self.s.add(self.rng.choice(_PLACES))
        else:
            self.noun_phrase(depth=1)

    def predicate(self, plural: bool) -> None:
        """Append a verb phrase in the past tense."""
        rng, s, lex = self.rng, self.s, self.lex
        be = "were" if plural else "was"
        base, past, participle, ing = lex.verbs.draw(rng)
        if self.p(0.05):
            s.add(lex.adverbs.draw(rng))
        kind = _pick(rng, _PREDICATES)
        if kind == "transitive":
            s.add(past)
            self.noun_phrase()
        elif kind == "passive":
            s.add(be).words("not " * self.p(0.06)).add(participle)
            if self.p(0.3):
                s.add("by")
                self.noun_phrase(depth=1)
        elif kind == "perfect":
            s.add("had").words("been " * self.p(0.3)).add(participle)
            if s.norm[-2] != "been":
                self.noun_phrase()
        elif kind == "copula":
            s.add(be).words("not " * self.p(0.06))
            if self.p(0.7):
                s.words("very " * self.p(0.1)).add(lex.adjectives.draw(rng))
            else:
                self.noun_phrase()
        elif kind == "intransitive":
            s.add(past)
        elif kind == "that":
            s.add(past).add("that")
            self.clause(quoted=False)
        elif kind == "to":
            s.add(past).add("to").add(lex.verbs.draw(rng)[0])
            self.noun_phrase()
        elif kind == "modal":
            s.words(_pick(rng, _MODALS)).add(base)
            self.noun_phrase()
        else:
            s.add(be).add(ing)
            self.noun_phrase()
        if self.p(0.5):
            self.adjunct()
            if self.p(0.2):
                self.adjunct()
        if self.p(0.05):  # in order to ..., to see the ...
            s.words("in order " * self.p(0.3)).add("to").add(lex.verbs.draw(rng)[0])
            self.noun_phrase()

    def adjunct(self) -> None:
        """A prepositional phrase, now and then a number, a date or an aside."""
        if self.p(0.083):
            self.number()
        elif self.p(0.012):
            self.aside()
        else:
            self.preposition()

    def clause(self, quoted: bool = False) -> None:
        """Subject and predicate; reported speech now and then."""
        if not quoted and self.p(0.026):
            self.quote()
        elif self.p(0.025):  # there was a ...
            plural = self.p(0.3)
            self.s.add("there").add("were" if plural else "was")
            self.noun_phrase(plural=plural)
            self.adjunct()
        else:
            self.predicate(self.subject())

    def quote(self) -> None:
        """Reported speech: he said, "...", in both columns as LJ holds it."""
        rng, s = self.rng, self.s
        self.subject()
        s.add(_pick(rng, _SPEECH)).punct(",")
        if self.p(0.15):  # the Warren Commission's spoken form: "quote, ... end quote"
            s.add("quote").punct(",")
            self.quoted_words()
            s.punct(",").add("end").add("quote")
            return
        start = len(s.raw)
        self.quoted_words()
        opening, closing = ("\u201c", "\u201d") if self.p(0.05) else ('"', '"')
        if self.p(0.25):  # the clip ends or begins inside the quotation
            opening, closing = (opening, "") if self.p(0.5) else ("", closing)
        if self.p(0.06):
            s.punct("!")
        s.wrap(start, opening, closing)

    def quoted_words(self) -> None:
        rng, s = self.rng, self.s
        if self.p(0.35):
            s.add(rng.choice(("I", "we", "you", "they", "he")))
            s.add(rng.choice(_CONTRACTIONS))
            s.add(self.lex.verbs.draw(rng)[0])
            self.noun_phrase()
        else:
            self.clause(quoted=True)
        if self.p(0.06):  # an editor's insertion
            s.add("[sic]" if self.p(0.5) else f"[{self.noun(False)}]")

    def aside(self) -> None:
        """(see page 12), (in 1864), (that is, the keeper)."""
        s, start = self.s, len(self.s.raw)
        r = self.rng.random()
        if r < 0.3:
            s.add("see").add("page")
            n = self.rng.randint(2, 400)
            s.add(str(n), N.number_to_words(n))
        elif r < 0.5:
            self.number()
        elif r < 0.7:
            s.words("that is").punct(",")
            self.noun_phrase()
        else:
            self.noun_phrase()
        s.wrap(start, "(", ")")

    def number(self) -> None:
        """A phrase with digits in the raw column, spelled out in the normalized."""
        for raw, norm in N.number_phrase(self.rng, self.noun):
            self.s.add(raw, norm)

    def fragment(self) -> None:
        """A short transcript: a heading, a date or a name ("Chapter 7.")."""
        r = self.rng.random()
        if r < 0.25:
            n = self.rng.randint(1, 40)
            self.s.add("Chapter").add(str(n), N.number_to_words(n))
        elif r < 0.45:
            self.number()
        else:
            self.noun_phrase()


_CONNECTORS = _pairs(
    ",and 22 / and 10 / ,but 5 / ,which 6 / ,in_which 1.5 / that 5 / ,when 4 / ,as 5 / "
    "where 2 / ; 2 / ;and 1 / ,while 2 / ,who 3 / because 2 / ,for 2 / : 0.8 / ,or 1"
)


def make_sentence(
    rng: random.Random, words: tuple[int, int] = WORDS, lex: Lexicon | None = None
) -> tuple[str, str]:
    """An LJ Speech-shaped transcript (raw with digits, normalized spelled out),
    saying words[0] to words[1] words."""
    lo, hi = words
    if not 1 <= lo <= hi:
        raise ValueError(f"words must be 1 <= lo <= hi, got {words}")
    lex = lex or lexicon()
    for _ in range(MAX_DRAWS):
        target = lo + round((hi - lo) * rng.betavariate(*SHAPE))
        g = _Grammar(rng, lex)
        s = g.s
        continuation = target > SHORT and g.p(0.27)
        if target <= SHORT:
            g.fragment()
        elif continuation:
            lead = _pick(rng, _LEADS)
            s.add(lead)
            if lead in ("which", "who"):
                g.predicate(False)
            elif lead in ("in", "of", "to", "with"):
                g.noun_phrase(depth=1)
                s.punct(",")
                g.clause()
            else:
                g.clause()
        else:
            g.clause()
        while s.spoken() < target:
            mark, word = _pick(rng, _CONNECTORS)
            s.punct(mark)
            if word:
                s.add(word)
            if word in ("which", "who"):
                g.predicate(False)
            else:
                g.clause()
        s.punct(_pick(rng, _ENDS))
        raw, normalized = _text(s.raw, continuation), _text(s.norm, continuation)
        if lo <= s.spoken() <= hi and len(normalized) <= MAX_CHARS:
            return raw, normalized
    raise ValueError(f"no sentence of {lo}-{hi} words in {MAX_DRAWS} draws")


def _text(words: list[str], continuation: bool) -> str:
    text = " ".join(words)
    if continuation:
        return text
    i = 1 if text[:1] in '"(\u201c' else 0
    return text[:i] + text[i : i + 1].upper() + text[i + 1 :]
