"""The download_speech stage's work: an LJ Speech 1.1 folder, synthesised or downloaded.

Either way the result is `<out_root>/LJSpeech-1.1/{metadata.csv, wavs/<id>.wav}`,
written atomically, so everything downstream reads one format. The synthesised
corpus also holds sample.json (hw2.speech.ljspeech.SAMPLE_INFO): how it was made,
with its voices, which the real LJ Speech (one reader) lacks.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from hw2.core.archive import safe_extract
from hw2.core.download import download
from hw2.core.errors import DataError, ParamError
from hw2.core.io import atomic_dir, write_json
from hw2.core.params import DATA_SOURCES, Params, short
from hw2.core.progress import tqdm
from hw2.speech import synth
from hw2.speech.ljspeech import SAMPLE_INFO, Row, read_metadata, write_metadata
from hw2.speech.sentences import MAX_WORDS, WORDS

CORPUS = "LJSpeech-1.1"
ARCHIVE = "LJSpeech-1.1.tar.bz2"
MAX_CLIPS = 999 * synth.CLIPS_PER_CHAPTER  # ids run out at LJ999
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class SpeechDataConfig:
    """Where the speech corpus comes from (data.speech.*)."""

    source: str  # sample | full
    url: str
    sha256: str
    n_clips: int  # sample only
    seed: int  # sample only
    voices: int = 1  # sample only: 1 reader, as LJ Speech, or up to synth.MAX_VOICES
    words: tuple[int, int] = WORDS  # sample only: spoken words per transcript

    @classmethod
    def from_params(cls, p: Params) -> "SpeechDataConfig":
        """Read and check data.speech.* (ParamError names the key)."""
        source = p.choice("data.speech.source", DATA_SOURCES)
        url = p.string("data.speech.url")
        sha256 = p.string("data.speech.sha256")
        if not _SHA256.fullmatch(sha256):
            raise ParamError(
                f"{p.source}: data.speech.sha256 must be 64 hexadecimal digits, "
                f"got {short(sha256)}"
            )
        n_clips = p.integer("data.speech.sample.n_clips", low=3, high=MAX_CLIPS)
        seed = p.integer("data.speech.sample.seed", low=0)
        voices = p.integer("data.speech.sample.voices", low=1, high=synth.MAX_VOICES)
        words = p.int_list("data.speech.sample.words", low=1)
        if len(words) != 2 or not words[0] <= words[1] <= MAX_WORDS:
            raise ParamError(
                f"{p.source}: data.speech.sample.words must be [lo, hi] with "
                f"1 <= lo <= hi <= {MAX_WORDS}, got {short(words)}"
            )
        return cls(source, url, sha256.lower(), n_clips, seed, voices, tuple(words))


def check_corpus(folder: Path) -> None:
    """Raise DataError unless `folder` looks like LJ Speech (metadata.csv, wavs/)."""
    if not (folder / "wavs").is_dir():
        raise DataError(f"{folder}: no wavs/ folder (not an LJ Speech corpus)")
    read_metadata(folder / "metadata.csv")


def synthesize_corpus(
    dest: Path,
    n_clips: int,
    seed: int,
    *,
    voices: int = 1,
    words: tuple[int, int] = WORDS,
    progress: bool = True,
    workers: int = 1,
) -> list[Row]:
    """Write n_clips eSpeak NG clips, metadata.csv and sample.json into `dest`.

    Every sentence is drawn before any audio is made: more clips than the
    generator has distinct sentences for is a ParamError naming
    data.speech.sample.n_clips. `workers` processes speak (same bytes for any).
    """
    try:
        specs = synth.clip_specs(seed, n_clips, n_voices=voices, words=words)
    except synth.SentenceSpaceError as exc:
        raise ParamError(f"data.speech.sample.n_clips = {n_clips}: {exc}") from None
    wavs = dest / "wavs"
    wavs.mkdir(parents=True, exist_ok=True)
    clips = synth.synthesize_clips(specs, workers=workers)
    bar = tqdm(
        zip(specs, clips, strict=True),
        total=n_clips,
        desc="synthesising",
        unit=" clips",
        disable=not progress,
    )
    for spec, audio in bar:
        if not np.any(audio):
            raise DataError(
                f"eSpeak NG produced silence for {spec.id} ({spec.normalized!r})"
            )
        sf.write(wavs / f"{spec.id}.wav", audio, synth.SAMPLE_RATE, subtype="PCM_16")
    rows = [Row(s.id, s.raw, s.normalized) for s in specs]
    write_metadata(dest / "metadata.csv", rows)
    info = {
        "made_by": "hw2.speech.corpus (data.speech.source: sample), eSpeak NG",
        "voices": list(synth.voices(voices)),
        "n_clips": n_clips,
        "seed": seed,
        "words": list(words),
    }
    write_json(dest / SAMPLE_INFO, info)
    return rows


def prepare_speech(
    config: SpeechDataConfig,
    out_root: str | Path,
    *,
    downloads: str | Path = "data/downloads",
    progress: bool = True,
) -> Path:
    """Make `<out_root>/LJSpeech-1.1` from the configured source; return its path.

    full: the archive is downloaded (resumably, checked against its SHA-256) into
    `downloads` and kept there, then extracted safely.
    """
    target = Path(out_root) / CORPUS
    if config.source == "sample":
        with atomic_dir(target) as tmp:
            synthesize_corpus(
                tmp,
                config.n_clips,
                config.seed,
                voices=config.voices,
                words=config.words,
                progress=progress,
            )
        return target
    archive = download(
        config.url,
        Path(downloads) / ARCHIVE,
        checksum=config.sha256,
        algorithm="sha256",
        progress=progress,
    )
    return safe_extract(
        archive, target, root=CORPUS, check=check_corpus, progress=progress
    )
