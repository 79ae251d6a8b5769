"""LJ Speech-format corpus -> ragged log-mel features and tokens, one folder per split.

corpus_dir/metadata.csv, corpus_dir/wavs/<id>.wav
-> out_dir/{train,validation,test}/  (hw2.speech.features.write_split's format)

Size: float16 frames, no padding. The whole LJ Speech (13,100 clips, ~24 h) is
~86,400 s * 22,050 / 160 = 11.9 M frames * 80 mels * 2 bytes = 1.9 GB.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hw2.core.device import cpu_threads
from hw2.core.errors import DataError
from hw2.core.failpoints import failpoint
from hw2.core.io import atomic_dir
from hw2.core.params import Params
from hw2.core.progress import tqdm
from hw2.speech import audio
from hw2.speech.features import write_split
from hw2.speech.ljspeech import SPLITS, Row, corpus_voices, read_metadata, split_rows
from hw2.speech.text import MAX_TOKENS, encode
from hw2.speech.text_stats import text_stats


@dataclass(frozen=True)
class PreprocessConfig:
    """How clips become features."""

    max_frames: int = audio.MAX_FRAMES  # longer clips are cropped (and counted)

    @classmethod
    def from_params(cls, p: Params) -> "PreprocessConfig":
        """Read `asr.max_frames` (the homework's 2,754; at least audio.MIN_FRAMES)."""
        return cls(max_frames=p.integer("asr.max_frames", low=audio.MIN_FRAMES))


@dataclass
class _Counts:
    frames: list[int] = field(default_factory=list)
    cropped: int = 0
    mixed: int = 0
    resampled: int = 0
    seconds: float = 0.0


def preprocess_corpus(
    corpus_dir: str | Path,
    out_dir: str | Path,
    config: PreprocessConfig | None = None,
    progress: bool = True,
) -> dict:
    """Write each split's features under out_dir (atomically, as one folder).

    Metadata errors (with line numbers), missing WAVs, unreadable WAV headers and
    clips too short for one frame raise DataError naming the file before any
    feature is computed; audio that fails later is named too, and nothing is
    written. Returns the report: clip counts, frames, what was changed or
    counted (cropped, mixed to mono, resampled, unknown characters, truncated
    transcripts), bytes on disk, the number of voices that read the corpus
    and its transcripts' figures (hw2.speech.text_stats).
    """
    config = config or PreprocessConfig()
    corpus_dir, out_dir = Path(corpus_dir), Path(out_dir)
    rows = read_metadata(corpus_dir / "metadata.csv")
    voices = corpus_voices(corpus_dir)
    splits = split_rows(rows)
    for name, split in splits.items():
        if not split:
            raise DataError(
                f"{corpus_dir / 'metadata.csv'}: {len(rows)} clips leave the {name} "
                f"split empty (train {len(splits['train'])}, validation "
                f"{len(splits['validation'])}, test {len(splits['test'])}); "
                "need at least 3 clips"
            )
    wavs = {r.id: corpus_dir / "wavs" / f"{r.id}.wav" for r in rows}
    for path in wavs.values():  # the cheapest check first, for all files
        if not path.is_file():
            raise DataError(f"{path}: audio file not found (named in metadata.csv)")
    for path in tqdm(
        wavs.values(), desc="check wavs", unit="clip", disable=not progress
    ):
        info = audio.wav_info(path)
        if info.n_samples < audio.MIN_SAMPLES:
            raise DataError(
                f"{path}: {info.n_samples} samples, too short for a feature frame "
                f"(need {audio.MIN_SAMPLES})"
            )

    tokens: dict[str, np.ndarray] = {}
    n_unknown = n_truncated = 0
    for r in rows:
        tokens[r.id], unknown, truncated = encode(r.normalized, MAX_TOKENS)
        n_unknown += unknown
        n_truncated += truncated

    counts = _Counts()
    with (
        # One clip's STFT is too small to split across threads: with 2 threads on
        # a busy 2-core machine it ran 5-10x slower (bench_preprocess.py).
        cpu_threads(1),
        atomic_dir(out_dir) as tmp,
        tqdm(total=len(rows), desc="log-mel", unit="clip", disable=not progress) as bar,
    ):
        for name in SPLITS:
            items = _features(splits[name], wavs, tokens, config, counts, bar)
            write_split(tmp / name, items, audio.N_MELS)

    frames = np.asarray(counts.frames, dtype=np.int64)
    n_bytes = sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file())
    return {
        "clips": {name: len(splits[name]) for name in SPLITS},
        "n_clips": len(rows),
        "audio_hours": round(counts.seconds / 3600, 4),
        "total_frames": int(frames.sum()),
        "frames_max": int(frames.max()),
        "frames_mean": round(float(frames.mean()), 2),
        "max_frames": config.max_frames,
        "cropped": counts.cropped,
        "mixed_to_mono": counts.mixed,
        "resampled": counts.resampled,
        "unknown_chars": n_unknown,
        "truncated_transcripts": n_truncated,
        "bytes": n_bytes,
        "voices": voices,
        "text": text_stats(rows),
    }


def _features(
    rows: list[Row],
    wavs: dict[str, Path],
    tokens: dict[str, np.ndarray],
    config: PreprocessConfig,
    counts: _Counts,
    bar: tqdm,
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    for r in rows:
        # cropped before it is resampled: a long clip costs no more than max_frames
        wav, info = audio.load_wav(wavs[r.id], config.max_frames)
        if wav.shape[0] < audio.MIN_SAMPLES:  # resampling down can shorten a clip
            raise DataError(f"{wavs[r.id]}: too short after resampling")
        mel = audio.log_mel(wav)
        counts.frames.append(mel.shape[0])
        counts.cropped += info.cropped
        counts.mixed += info.mixed
        counts.resampled += info.resampled
        counts.seconds += info.n_samples / info.sample_rate
        bar.update(1)
        failpoint("preprocess")
        yield r.id, mel, tokens[r.id]
