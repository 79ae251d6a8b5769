"""An LJ Speech-like corpus made with eSpeak NG: varied sentences, voices, rates.

The eSpeak NG library and its voice data come from the `espeakng-loader` wheel and
are driven through ctypes (no system package). The library keeps state from one
utterance to the next that not even espeak_Terminate/espeak_Initialize reset: the
same text comes out a few samples different the second time. A corpus is therefore
synthesised in one fresh worker process, in clip order: the same seed gives a
byte-identical corpus, and a larger corpus starts with the clips of a smaller one.
The worker is spawned, so a script that makes a corpus needs the usual
`if __name__ == "__main__":` guard (every stage has it).
"""

import ctypes
import multiprocessing
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np

from hw2.asr.ljspeech import SAMPLE_RATE  # eSpeak NG's native rate too
from hw2.core.errors import Hw2Error

# Accents x variants (voices/!v): male and female timbres of four English accents.
ACCENTS = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland")
VARIANTS = ("", "m2", "m3", "f2", "f4")
RATES = (175, 225)  # words per minute, inclusive range
PITCHES = (35, 65)  # eSpeak's 0-99 pitch scale, inclusive range
WORDS = (3, 8)  # words per sentence (raw text), inclusive range
MAX_SPOKEN_WORDS = 10  # numbers spelt out can lengthen the normalized text
CLIPS_PER_CHAPTER = 250  # ids LJ001-0001 .. LJ001-0250, LJ002-0001, ...

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _PITCH = 1, 3
_EE_OK = 0

_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Espeak:
    """The process-wide eSpeak NG instance (its C state is global anyway)."""

    def __init__(self):
        try:
            import espeakng_loader

            lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data = espeakng_loader.get_data_path().encode()
        except (ImportError, OSError, RuntimeError) as exc:
            raise Hw2Error(
                f"cannot load eSpeak NG from espeakng-loader: {exc}"
            ) from None
        lib.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT
        )
        if rate != SAMPLE_RATE:
            raise Hw2Error(f"eSpeak NG failed to initialise (returned {rate})")
        self.lib = lib
        self.lock = threading.Lock()
        self.chunks: list[np.ndarray] = []
        # ctypes must keep the callback object alive as long as the library may call it
        self.callback = _CALLBACK(self._collect)
        lib.espeak_SetSynthCallback(self.callback)

    def _collect(self, wav, n_samples, events) -> int:
        if n_samples > 0 and wav:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        return 0  # 0: carry on synthesising

    def synthesize(
        self, text: str, voice: str, rate: int, pitch: int, seed: int
    ) -> np.ndarray:
        lib = self.lib
        with self.lock:
            if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise ValueError(f"eSpeak NG has no voice {voice!r}")
            lib.espeak_SetParameter(_RATE, rate, 0)
            lib.espeak_SetParameter(_PITCH, pitch, 0)
            # breathy variants (f2) add noise from eSpeak's generator, seeded from
            # the clock unless set
            lib.espeak_ng_SetRandSeed(seed)
            self.chunks = []
            data = text.encode("utf-8")
            status = lib.espeak_Synth(
                data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            lib.espeak_Synchronize()
            if status != _EE_OK:
                raise Hw2Error(f"eSpeak NG failed on {text!r} (status {status})")
            chunks, self.chunks = self.chunks, []
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(chunks).astype(np.int16, copy=False)


_engine: _Espeak | None = None


def synthesize(
    text: str, voice: str = "en-us", rate: int = 175, pitch: int = 50, seed: int = 0
) -> np.ndarray:
    """Speak `text`: (n_samples,) int16 mono at 22,050 Hz.

    voice: an eSpeak NG voice, optionally with a variant ("en-gb-x-rp+f2");
    rate: words per minute (80-450); pitch: 0-99; seed: of the voice's breath noise.
    """
    global _engine
    if not 80 <= rate <= 450:
        raise ValueError(f"rate must be 80-450 words per minute, got {rate}")
    if not 0 <= pitch <= 99:
        raise ValueError(f"pitch must be 0-99, got {pitch}")
    if _engine is None:
        _engine = _Espeak()
    return _engine.synthesize(text, voice, rate, pitch, seed)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# --- numbers, as LJ Speech's normalized column spells them ---------------------------

_ONES = _words(
    """
zero one two three four five six seven eight nine ten eleven twelve thirteen
fourteen fifteen sixteen seventeen eighteen nineteen
"""
)
_TENS = _words("_ _ twenty thirty forty fifty sixty seventy eighty ninety")
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def number_to_words(n: int) -> str:
    """A cardinal in words: 42 -> 'forty-two', 305 -> 'three hundred five'."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    for scale, name in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            words = f"{number_to_words(head)} {name}"
            return words + (f" {number_to_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def ordinal_to_words(n: int) -> str:
    """An ordinal in words: 1 -> 'first', 21 -> 'twenty-first', 40 -> 'fortieth'."""
    if n < 1:
        raise ValueError(f"ordinals start at 1, got {n}")
    words = number_to_words(n)
    cut = max(words.rfind(" "), words.rfind("-")) + 1
    head, last = words[:cut], words[cut:]
    if last in _ORDINAL_WORDS:
        return head + _ORDINAL_WORDS[last]
    if last.endswith("y"):
        return head + last[:-1] + "ieth"
    return head + last + "th"


def ordinal_suffix(n: int) -> str:
    """The digits of an ordinal: 1 -> '1st', 12 -> '12th', 23 -> '23rd'."""
    if n % 100 in (11, 12, 13):
        return f"{n}th"
    return f"{n}" + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def year_to_words(year: int) -> str:
    """A year read aloud: 1864 -> 'eighteen sixty-four', 1905 -> 'nineteen oh five'."""
    if not 1100 <= year <= 2099:
        return number_to_words(year)
    if 2000 <= year < 2010:
        return number_to_words(year)
    century, rest = divmod(year, 100)
    if rest == 0:
        return f"{number_to_words(century)} hundred"
    if rest < 10:
        return f"{number_to_words(century)} oh {_ONES[rest]}"
    return f"{number_to_words(century)} {number_to_words(rest)}"


# --- the sentence grammar --------------------------------------------------------

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
_TITLES = (("Mr.", "Mister"), ("Mrs.", "Missus"), ("Dr.", "Doctor"))
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


def plural(noun: str) -> str:
    """The plural of one of the grammar's nouns."""
    if noun in _PLURALS:
        return _PLURALS[noun]
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


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

    def text(self) -> tuple[str, str]:
        raw, norm = " ".join(self.raw), " ".join(self.norm)
        return raw[0].upper() + raw[1:], norm[0].upper() + norm[1:]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _noun_phrase(s: _Sentence, rng: random.Random, *, plural_ok: bool = True) -> bool:
    """Append a subject or object; return whether it is plural."""
    kind = rng.random()
    if kind < 0.12:
        title, spoken = rng.choice(_TITLES)
        s.add(title, spoken).add(rng.choice(SURNAMES))
        return False
    if kind < 0.2:
        s.add(rng.choice(FIRST_NAMES))
        return False
    if plural_ok and kind < 0.3:
        n = rng.choice((rng.randint(2, 12), rng.randint(13, 99), rng.randint(100, 999)))
        s.add(str(n), number_to_words(n))
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


def _time(s: _Sentence, rng: random.Random) -> None:
    """A time phrase, often with a year or a date in digits."""
    kind = rng.random()
    if kind < 0.4:
        year = rng.randint(1700, 1999)
        s.add("in").add(str(year), year_to_words(year))
    elif kind < 0.65:
        day = rng.randint(1, 31)
        s.add("on").add(rng.choice(_MONTHS))
        if rng.random() < 0.5:
            s.add(str(day), ordinal_to_words(day))
        else:
            s.add(ordinal_suffix(day), ordinal_to_words(day))
    elif kind < 0.8:
        s.add("on").add(rng.choice(_DAYS))
    else:
        s.words(rng.choice(_TIMES))


def _statement(s: _Sentence, rng: random.Random) -> None:
    _noun_phrase(s, rng)
    s.add(rng.choice(TRANSITIVE)[1])
    _noun_phrase(s, rng)
    if rng.random() < 0.35:
        _place(s, rng)
    s.punct(".")


def _dated_statement(s: _Sentence, rng: random.Random) -> None:
    _time(s, rng)
    s.punct(",")
    _noun_phrase(s, rng)
    if rng.random() < 0.5:
        s.add(rng.choice(TRANSITIVE)[1])
        _noun_phrase(s, rng, plural_ok=False)
    else:
        s.add(rng.choice(INTRANSITIVE)[1])
    s.punct(".")


def _question(s: _Sentence, rng: random.Random) -> None:
    s.words(rng.choice(("did", "did", "why did", "where did", "when did", "how did")))
    _noun_phrase(s, rng)
    if rng.random() < 0.6:
        s.add(rng.choice(TRANSITIVE)[0])
        _noun_phrase(s, rng, plural_ok=False)
    else:
        s.add(rng.choice(INTRANSITIVE)[0])
    s.punct("?")


def _description(s: _Sentence, rng: random.Random) -> None:
    is_plural = _noun_phrase(s, rng)
    s.add("were" if is_plural else "was")
    if rng.random() < 0.3:
        s.add(rng.choice(("very", "rather", "quite", "not")))
    s.add(rng.choice(ADJECTIVES))
    if rng.random() < 0.4:
        s.punct(",").add(rng.choice(("and", "but"))).add(rng.choice(ADJECTIVES))
    s.punct(".")


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
    s.punct(".")


def _payment(s: _Sentence, rng: random.Random) -> None:
    _noun_phrase(s, rng)
    s.add(rng.choice(("paid", "asked", "offered", "lost", "found", "spent")))
    amount = rng.choice((rng.randint(2, 99), rng.randint(100, 5000)))
    s.add(f"${amount}", f"{number_to_words(amount)} dollars")
    if rng.random() < 0.5:
        noun = rng.choice(NOUNS)
        s.add("for").add(_article(noun)).add(noun)
    s.punct(rng.choice(".?"))


_TEMPLATES: tuple[tuple[Callable[[_Sentence, random.Random], None], float], ...] = (
    (_statement, 0.3),
    (_dated_statement, 0.15),
    (_question, 0.15),
    (_description, 0.15),
    (_action, 0.17),
    (_payment, 0.08),
)


def make_sentence(rng: random.Random) -> tuple[str, str]:
    """A sentence of 3-8 words: (raw with digits, normalized with numbers spelt out)."""
    makers = [m for m, _ in _TEMPLATES]
    weights = [w for _, w in _TEMPLATES]
    while True:
        s = _Sentence()
        rng.choices(makers, weights)[0](s, rng)
        spoken = sum(len(word.split()) for word in s.norm)
        if WORDS[0] <= len(s.raw) <= WORDS[1] and spoken <= MAX_SPOKEN_WORDS:
            return s.text()


def vocabulary() -> set[str]:
    """Every word the grammar can say (lower-case, numbers excluded)."""
    words = set(NOUNS) | {plural(n) for n in NOUNS} | set(ADJECTIVES) | set(ADVERBS)
    words |= {w for pair in TRANSITIVE + INTRANSITIVE for w in pair}
    words |= {w.lower() for w in FIRST_NAMES + SURNAMES + _MONTHS + _DAYS}
    return words


# --- the corpus --------------------------------------------------------------------


@dataclass(frozen=True)
class ClipSpec:
    """What one synthetic clip says and how."""

    id: str
    raw: str
    normalized: str
    voice: str
    rate: int
    pitch: int
    seed: int  # of eSpeak's noise generator


def clip_id(index: int) -> str:
    """LJ Speech-style id of the index-th clip (from 0): LJ001-0001, ..."""
    chapter, k = divmod(index, CLIPS_PER_CHAPTER)
    return f"LJ{chapter + 1:03d}-{k + 1:04d}"


def clip_spec(seed: int, index: int) -> ClipSpec:
    """The index-th clip of the corpus with this seed (independent of corpus size)."""
    # a string seed is hashed with SHA-512: stable across processes and platforms
    rng = random.Random(f"hw2-speech:{seed}:{index}")
    raw, normalized = make_sentence(rng)
    variant = rng.choice(VARIANTS)
    voice = rng.choice(ACCENTS) + (f"+{variant}" if variant else "")
    return ClipSpec(
        id=clip_id(index),
        raw=raw,
        normalized=normalized,
        voice=voice,
        rate=rng.randint(*RATES),
        pitch=rng.randint(*PITCHES),
        seed=rng.randrange(2**31),
    )


def _speak(spec: ClipSpec) -> np.ndarray:
    # eSpeak reads the normalized text, so the audio says exactly what that column says
    return synthesize(spec.normalized, spec.voice, spec.rate, spec.pitch, spec.seed)


def synthesize_clips(specs: list[ClipSpec]) -> Iterator[np.ndarray]:
    """Audio of each clip, in order: (n_samples,) int16 at 22,050 Hz each.

    Runs in a fresh worker process so the result does not depend on what this
    process synthesised before (see the module docstring).
    """
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
    try:
        # one worker takes the tasks in submission order; chunks only cut pickling
        yield from pool.map(_speak, specs, chunksize=16)
    except BrokenProcessPool as exc:
        raise Hw2Error(f"the eSpeak NG worker process died ({exc})") from None
    finally:
        # a consumer that stops early must not wait for the rest of the corpus
        pool.shutdown(wait=True, cancel_futures=True)
