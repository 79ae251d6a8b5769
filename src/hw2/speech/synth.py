"""An LJ Speech-like corpus spoken by eSpeak NG: one reader by default, as LJ Speech.

LJ Speech has a single (female, American) reader. The sample's reader is
eSpeak's en-us voice with its f2 variant, with the small variation one person
has from clip to clip: speaking rate, pitch and intonation drawn in narrow
bands. `voices` > 1 makes a harder corpus: each clip is read by one of that many
voices (the reader first, then others of 8 English accents x 11 variants) with
rate, pitch and intonation drawn in wide bands.

What the clips say comes from hw2.speech.sentences. The eSpeak NG library and its
voice data come from the `espeakng-loader` wheel and are driven through ctypes (no
system package). The library keeps state from one utterance to the next that not
even espeak_Terminate/espeak_Initialize reset: the same text comes out a few
samples different the second time. A corpus is therefore spoken in fixed shards
of clips, each by a fresh worker process in clip order: the same seed gives a
byte-identical corpus whatever the number of workers, and a larger corpus starts
with the clips of a smaller one. Workers are spawned, so a script that makes a
corpus needs the usual `if __name__ == "__main__":` guard (every stage has it).
"""

import ctypes
import functools
import math
import multiprocessing
import random
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np

from hw2.core.errors import Hw2Error
from hw2.speech.ljspeech import SAMPLE_RATE  # eSpeak NG's native rate too
from hw2.speech.sentences import WORDS, make_sentence

# Accents x variants (voices/!v): male and female timbres of eight English accents,
# the pool a multi-voice corpus draws from.
ACCENTS = (
    "en-us",
    "en",
    "en-gb-x-rp",
    "en-gb-scotland",
    "en-us-nyc",
    "en-029",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)
VARIANTS = ("", "m1", "m2", "m3", "m4", "m7", "f1", "f2", "f3", "f4", "f5")
# LJ Speech's reader is a woman with an American accent. f2 is a female timbre
# with some breath noise (seeded per clip, so clips differ as recordings do);
# at pitch 50 it peaked at 0.57-0.90 of full scale on 40 sentences (f1 and
# the plain voice touched full scale).
READER = "en-us+f2"
MAX_VOICES = len(ACCENTS) * len(VARIANTS)


@dataclass(frozen=True)
class Bands:
    """Inclusive ranges a clip's reading is drawn from."""

    rates: tuple[int, int]  # eSpeak's words per minute (its clips run ~14 % faster)
    pitches: tuple[int, int]  # eSpeak's 0-99 pitch scale
    ranges: tuple[int, int]  # eSpeak's pitch range (intonation), 0-99


# LJ Speech reads 17.2 words in 6.57 s on average (157 words a minute): eSpeak
# at 137 reads about that fast.
ONE_READER = Bands(rates=(128, 146), pitches=(45, 55), ranges=(40, 60))
MANY_VOICES = Bands(rates=(115, 155), pitches=(30, 70), ranges=(20, 80))
MAX_SECONDS = 9.5  # nominal: a long sentence is read faster (LJ's clips end by 10.1 s)
# eSpeak's volume, 0-200 (100: its default). At 100, 13 of 1,400 one-reader clips
# peaked within 3 % of full scale; 85 leaves headroom, as a recording would.
VOLUME = 85
MAX_TRIES = 50  # draws for a sentence no earlier clip says, before giving up
SHARD = 128  # clips spoken by one fresh worker process
CLIPS_PER_CHAPTER = 250  # ids LJ001-0001 .. LJ001-0250, LJ002-0001, ...
_CLOCK_COLON = re.compile(r"(?<=[a-z]):(?=[a-z])")

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
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
        self, text: str, voice: str, rate: int, pitch: int, seed: int, intonation: int
    ) -> np.ndarray:
        lib = self.lib
        with self.lock:
            if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise ValueError(f"eSpeak NG has no voice {voice!r}")
            lib.espeak_SetParameter(_RATE, rate, 0)
            lib.espeak_SetParameter(_PITCH, pitch, 0)
            lib.espeak_SetParameter(_RANGE, intonation, 0)
            lib.espeak_SetParameter(_VOLUME, VOLUME, 0)
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
    text: str,
    voice: str = "en-us",
    rate: int = 175,
    pitch: int = 50,
    seed: int = 0,
    intonation: int = 50,
) -> np.ndarray:
    """Speak `text`: (n_samples,) int16 mono at 22,050 Hz.

    voice: an eSpeak NG voice, optionally with a variant ("en-gb-x-rp+f2");
    rate: words per minute (80-450); pitch: 0-99; seed: of the voice's breath
    noise; intonation: eSpeak's pitch range, 0 (monotone) to 99.
    """
    global _engine
    if not 80 <= rate <= 450:
        raise ValueError(f"rate must be 80-450 words per minute, got {rate}")
    if not 0 <= pitch <= 99:
        raise ValueError(f"pitch must be 0-99, got {pitch}")
    if not 0 <= intonation <= 99:
        raise ValueError(f"intonation must be 0-99, got {intonation}")
    if _engine is None:
        _engine = _Espeak()
    return _engine.synthesize(text, voice, rate, pitch, seed, intonation)


# --- the corpus --------------------------------------------------------------------


class SentenceSpaceError(Hw2Error):
    """The generator ran out of distinct sentences for the clips asked for."""


@dataclass(frozen=True)
class ClipSpec:
    """What one synthetic clip says and how."""

    id: str
    raw: str
    normalized: str
    voice: str
    rate: int
    pitch: int
    intonation: int
    seed: int  # of eSpeak's noise generator


def clip_id(index: int) -> str:
    """LJ Speech-style id of the index-th clip (from 0): LJ001-0001, ..."""
    chapter, k = divmod(index, CLIPS_PER_CHAPTER)
    return f"LJ{chapter + 1:03d}-{k + 1:04d}"


@functools.cache
def voices(n: int) -> tuple[str, ...]:
    """The n voices of a corpus: the reader, then others in a fixed mixed order."""
    if not 1 <= n <= MAX_VOICES:
        raise ValueError(f"voices must be 1-{MAX_VOICES}, got {n}")
    others = [
        accent + (f"+{variant}" if variant else "")
        for accent in ACCENTS
        for variant in VARIANTS
    ]
    others.remove(READER)
    random.Random("hw2-voices").shuffle(others)
    return (READER, *others[: n - 1])


def clip_spec(
    seed: int,
    index: int,
    attempt: int = 0,
    *,
    n_voices: int = 1,
    words: tuple[int, int] = WORDS,
) -> ClipSpec:
    """A draw for the index-th clip of the corpus with this seed (`attempt` redraws).

    The sentence is drawn first, so corpora that differ only in n_voices say
    the same sentences.
    """
    # a string seed is hashed with SHA-512: stable across processes and platforms
    rng = random.Random(f"hw2-speech:{seed}:{index}:{attempt}")
    raw, normalized = make_sentence(rng, words)
    voice = voices(n_voices)[rng.randrange(n_voices)]
    bands = ONE_READER if n_voices == 1 else MANY_VOICES
    rate = rng.randint(*bands.rates)
    # a long sentence at a slow rate would outlast LJ Speech's longest clip
    rate = max(rate, math.ceil(60 * len(normalized.split()) / MAX_SECONDS))
    return ClipSpec(
        id=clip_id(index),
        raw=raw,
        normalized=normalized,
        voice=voice,
        rate=min(rate, 450),
        pitch=rng.randint(*bands.pitches),
        intonation=rng.randint(*bands.ranges),
        seed=rng.randrange(2**31),
    )


def clip_specs(
    seed: int, n_clips: int, *, n_voices: int = 1, words: tuple[int, int] = WORDS
) -> list[ClipSpec]:
    """The corpus's first n_clips clips, each saying a sentence no earlier one says.

    A clip whose draw repeats an earlier sentence is redrawn (deterministically),
    so a larger corpus starts with the clips of a smaller one. Raises
    SentenceSpaceError when MAX_TRIES draws find nothing new.
    """
    seen: set[str] = set()
    specs: list[ClipSpec] = []
    for index in range(n_clips):
        for attempt in range(MAX_TRIES):
            spec = clip_spec(seed, index, attempt, n_voices=n_voices, words=words)
            if spec.raw not in seen:
                break
        else:
            raise SentenceSpaceError(
                f"the sentence generator found no new sentence for clip {index + 1} "
                f"in {MAX_TRIES} draws: it cannot make {n_clips} distinct sentences"
            )
        seen.add(spec.raw)
        specs.append(spec)
    return specs


def spoken(normalized: str) -> str:
    """What eSpeak is given for a normalized transcript: the text itself, but for
    a clock time's colon ("twelve:thirty-five"), which eSpeak would say aloud and
    a reader does not."""
    return _CLOCK_COLON.sub(" ", normalized)


def _speak_shard(specs: list[ClipSpec]) -> list[np.ndarray]:
    # eSpeak reads the normalized text, so the audio says what that column says
    return [
        synthesize(spoken(s.normalized), s.voice, s.rate, s.pitch, s.seed, s.intonation)
        for s in specs
    ]


def synthesize_clips(specs: list[ClipSpec], workers: int = 1) -> Iterator[np.ndarray]:
    """Audio of each clip, in order: (n_samples,) int16 at 22,050 Hz each.

    Clips are spoken in shards of SHARD, each by a fresh process (see the module
    docstring), `workers` processes at a time: the bytes depend on neither the
    number of workers nor what this process synthesised before.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    shards = [specs[i : i + SHARD] for i in range(0, len(specs), SHARD)]
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, max_tasks_per_child=1
    )
    try:
        for audio in pool.map(_speak_shard, shards):
            yield from audio
    except BrokenProcessPool as exc:
        raise Hw2Error(f"an eSpeak NG worker process died ({exc})") from None
    finally:
        # a consumer that stops early must not wait for the rest of the corpus
        pool.shutdown(wait=True, cancel_futures=True)
