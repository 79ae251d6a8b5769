"""The sentence generator's open-class words: nouns, verbs, adjectives, adverbs.

Two pinned packages carry the data, so no word list is written out here:
- wordfreq ships English word frequencies blended from books, Wikipedia, news,
  subtitles and the web (data CC BY-SA 4.0, code Apache-2.0; final since 2024,
  which suits a pinned corpus): it ranks the words and weights their draws;
- lemminflect ships a dictionary of English lemmas with their inflections by
  part of speech (MIT): it says which words are nouns, verbs, adjectives or
  adverbs and gives plurals, past tenses and participles ("find" -> "found").

A word is drawn with probability proportional to frequency ** ALPHA: the
frequencies flattened, so that a few thousand sentences hold about LJ Speech's
share of distinct words (type/token 0.176 on 2,000 transcripts). Closed-class
words (articles, pronouns, prepositions, auxiliaries, numbers, ...) come from
the grammar in hw2.speech.sentences, never from here; nor do the few words in
UNSAID, which a web-fed frequency list ranks high and a book read aloud does not.
"""

import functools
import random
from dataclasses import dataclass


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


TOP = 30_000  # the commonest words considered; rarer ones are mostly jargon or names
ALPHA = 0.85  # flattening of the frequencies: 1 draws as written English does
MIN_LENGTH = 3
VERB_SHARE = 0.2  # past tense / base frequency above which a word is no noun

# Words the grammar says itself, or that would read as one (the lexicon would
# otherwise call "will" a noun and "that" an adjective).
CLOSED = _words(
    """
a an the this that these those some any each every either neither no none all both
half other another such what which who whom whose whatever whoever where when why how
i me my mine we us our ours you your yours he him his she her hers it its they them
their theirs one ones myself yourself himself herself itself ourselves themselves
be am is are was were been being have has had having do does did done doing
will would shall should can could may might must ought need dare
not nor and or but if then than so yet because since unless until while although
though whether as of in on at by for with from to into onto upon about above below
under over after before during through throughout across along among amongst around
against between beyond toward towards within without behind beside besides near off
out up down per via till like unlike plus minus except despite
there here now very too also only just even still ever never again once twice
more most less least much many few several enough quite rather else indeed perhaps
yes oh ah okay mr mrs dr st back well away ago far further ahead outside inside
forward anti mid super
zero two three four five six seven eight nine ten eleven twelve thirteen fourteen
fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
eighty ninety hundred thousand million billion first second third
january february march april june july august september october november december
monday tuesday wednesday thursday friday saturday sunday
"""
)

# Vulgar words a web-fed frequency list ranks high and LJ Speech's books do not say.
UNSAID = _words(
    """
anal arse ass bitch boner boob boobs cock crap damn erotic fag faggot fetish fuck
fucking horny kinky masturbation orgasm penis piss pissed porn prick pussy rape raped
rapist retard retarded screw screwed sex sexy sexual sexually shit slut suck sucked
tits vagina whore
"""
)


@dataclass(frozen=True)
class Words:
    """Words of one part of speech with cumulative draw weights."""

    forms: tuple  # a str, or a tuple of forms per word (see Lexicon)
    cumulative: tuple[float, ...]

    def draw(self, rng: random.Random):
        """One word (or its forms), by weight."""
        return rng.choices(self.forms, cum_weights=self.cumulative)[0]

    def __len__(self) -> int:
        return len(self.forms)


@dataclass(frozen=True)
class Lexicon:
    """nouns: (singular, plural); verbs: (base, past, participle, -ing);
    adjectives and adverbs: the word."""

    nouns: Words
    verbs: Words
    adjectives: Words
    adverbs: Words

    def words(self) -> set[str]:
        """Every form the lexicon can give (lower case)."""
        out: set[str] = set(self.adjectives.forms) | set(self.adverbs.forms)
        for forms in self.nouns.forms + self.verbs.forms:
            out.update(forms)
        return out


def _weights(items: list[tuple[object, float]]) -> Words:
    forms, cumulative, total = [], [], 0.0
    for form, weight in items:
        total += weight
        forms.append(form)
        cumulative.append(total)
    return Words(tuple(forms), tuple(cumulative))


def frequencies(top: int = TOP) -> tuple[list[str], dict[str, float]]:
    """wordfreq's `top` commonest English words, and every word's frequency."""
    import wordfreq

    table = wordfreq.get_frequency_dict("en", wordlist="large")
    return wordfreq.top_n_list("en", top, wordlist="large"), table


def _adverb_of(word: str) -> str:
    if word.endswith("le"):
        return word[:-1] + "y"  # gentle -> gently
    if word.endswith("y"):
        return word[:-1] + "ily"  # happy -> happily
    return word + "ly"


def _classify(word: str, forms: dict, table: dict[str, float]) -> list[tuple]:
    """(part of speech, forms) for each part of speech the word mostly takes."""
    base = table[word]

    def common(tag: str, share: float) -> bool:
        return tag in forms and table.get(forms[tag][0], 0.0) >= share * base

    out: list[tuple] = []
    past = forms.get("VBD", ("",))[0]
    adjective_like = "JJ" in forms and (
        "JJR" in forms or table.get(_adverb_of(word), 0.0) > 0.0
    )
    verb_like = past != word and common("VBD", VERB_SHARE)
    if "NN" in forms and common("NNS", 0.02) and not adjective_like and not verb_like:
        out.append(("noun", (word, forms["NNS"][0])))
    if (past != word and common("VBD", 0.1)) or (past == word and common("VBG", 0.1)):
        participle = forms.get("VBN", (past,))[0]
        ing = forms.get("VBG", (word + "ing",))[0]
        out.append(("verb", (word, past, participle, ing)))
    if "JJ" in forms and not common("NNS", 0.05):
        out.append(("adjective", word))
    if "RB" in forms and word.endswith("ly") and "NN" not in forms:
        out.append(("adverb", word))
    return out


@functools.cache
def lexicon(top: int = TOP, alpha: float = ALPHA) -> Lexicon:
    """The open-class lexicon (built once per process, then cached).

    lemminflect lists every part of speech a word can take ("good" is a noun
    too); the frequencies of the inflected forms pick the ones it mostly takes:
    a verb's past tense is common (found, wanted; not timed, peopled), a
    noun's plural is (houses, games; not goods) unless it is mainly an
    adjective (one with a comparative or an adverb in -ly: good, public), and
    a noun with a common plural is no adjective.
    """
    import lemminflect

    words, table = frequencies(top)
    skip = CLOSED | UNSAID
    lemmas = {
        word: lemminflect.getAllInflections(word)  # {} unless a lemma
        for word in words
        if len(word) >= MIN_LENGTH
        and word.isascii()
        and word.isalpha()
        and word not in skip
    }
    # a form of another lemma ("things", "going", "left") is not a lemma itself
    inflected = {
        form
        for word, forms in lemmas.items()
        for tag, values in forms.items()
        if tag[:2] in ("NN", "VB")
        for form in values
        if form != word
    }
    classes: dict[str, list] = {"noun": [], "verb": [], "adjective": [], "adverb": []}
    for word, forms in lemmas.items():
        if forms and word not in inflected:
            weight = table[word] ** alpha
            for kind, entry in _classify(word, forms, table):
                if skip.isdisjoint((entry,) if kind.startswith("ad") else entry):
                    classes[kind].append((entry, weight))  # not "does" (doe)
    return Lexicon(*(_weights(classes[k]) for k in classes))
