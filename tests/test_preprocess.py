"""hw2.speech.preprocess and the preprocess_speech stage on tiny corpora made here."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import run_stage, stage_main

from hw2.core.errors import DataError, ParamError
from hw2.core.params import Params
from hw2.speech import audio
from hw2.speech.features import SpeechSplit
from hw2.speech.ljspeech import (
    SAMPLE_INFO,
    SPLITS,
    Row,
    read_metadata,
    split_bounds,
    write_metadata,
)
from hw2.speech.preprocess import PreprocessConfig, preprocess_corpus
from hw2.speech.text import decode, encode
from hw2.speech.text_stats import text_stats

ROOT = Path(__file__).resolve().parents[1]


def make_corpus(root: Path, n: int = 10, seed: int = 0) -> list[Row]:
    """An LJ Speech-format corpus of n short tones and noises (0.3-1 s)."""
    rng = np.random.default_rng(seed)
    (root / "wavs").mkdir(parents=True)
    rows = []
    for i in range(n):
        clip_id = f"LJ001-{i:04d}"
        n_samples = int(rng.uniform(0.3, 1.0) * audio.SAMPLE_RATE)
        t = np.arange(n_samples) / audio.SAMPLE_RATE
        x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t)
        x += 0.05 * rng.standard_normal(n_samples)
        sf.write(root / "wavs" / f"{clip_id}.wav", x, audio.SAMPLE_RATE, "PCM_16")
        text = f"clip number {i}, said {i} times."
        rows.append(Row(clip_id, text, text.replace(str(i), "n")))
    write_metadata(root / "metadata.csv", rows)
    return rows


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "LJSpeech-1.1"
    return root, make_corpus(root)


def test_splits_by_row_order_and_round_trip(corpus, tmp_path):
    root, rows = corpus
    out = tmp_path / "features"
    report = preprocess_corpus(root, out, progress=False)
    a, b = split_bounds(len(rows))
    expected = {"train": rows[:a], "validation": rows[a:b], "test": rows[b:]}
    assert report["clips"] == {k: len(v) for k, v in expected.items()}
    assert sorted(p.name for p in out.iterdir()) == sorted(SPLITS)
    total = 0
    for name in SPLITS:
        split = SpeechSplit(out / name)
        assert split.ids == [r.id for r in expected[name]]
        for i, r in enumerate(expected[name]):
            wav, _ = audio.load_wav(root / "wavs" / f"{r.id}.wav")
            mel = split.mel(i)
            assert mel.dtype == np.float16 and mel.shape == (1 + len(wav) // 160, 80)
            np.testing.assert_allclose(mel, audio.log_mel(wav), atol=2e-3)
            np.testing.assert_array_equal(split.tokens(i), encode(r.normalized)[0])
            assert decode(split.tokens(i)) == r.normalized
        total += int(split.n_frames.sum())
        assert split.n_frames.max() <= report["frames_max"]
    assert report["total_frames"] == total
    assert report["frames_mean"] == pytest.approx(total / len(rows), abs=0.01)
    zero = ("cropped", "mixed_to_mono", "resampled", "unknown_chars")
    assert all(report[k] == 0 for k in zero)
    on_disk = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    assert report["bytes"] == on_disk
    assert on_disk >= total * 80 * 2  # float16 mels, no padding
    # no sample.json: a corpus of one reader, as the real LJ Speech
    assert report["voices"] == 1
    assert report["text"] == text_stats(rows)
    assert report["text"]["oov_share"] == 0 and report["text"]["digits_share"] == 1


def test_voices_come_from_the_samples_info_file(corpus, tmp_path):
    root, _ = corpus
    (root / SAMPLE_INFO).write_text(json.dumps({"voices": ["a", "b", "c"]}))
    assert preprocess_corpus(root, tmp_path / "f", progress=False)["voices"] == 3
    (root / SAMPLE_INFO).write_text("{not json")
    with pytest.raises(DataError, match=SAMPLE_INFO):
        preprocess_corpus(root, tmp_path / "g", progress=False)
    assert not (tmp_path / "g").exists()


def test_homework_proportions():
    assert split_bounds(13100) == (9825, 10480)
    a, b = split_bounds(1500)
    assert (a, b - a, 1500 - b) == (1125, 75, 300)


def test_counts_mono_resampled_cropped_unknown_truncated(corpus, tmp_path):
    root, rows = corpus
    stereo = np.random.default_rng(1).standard_normal((9000, 2)) * 0.1
    sf.write(root / "wavs" / f"{rows[0].id}.wav", stereo, audio.SAMPLE_RATE)
    sf.write(root / "wavs" / f"{rows[1].id}.wav", np.ones(12000) * 0.1, 16000)
    long_text = "a" * 120
    rows[2] = Row(rows[2].id, "x", "caf\u00e9 \u201cquoted\u201d")  # 3 unknown
    rows[3] = Row(rows[3].id, "x", long_text)
    write_metadata(root / "metadata.csv", rows)
    out = tmp_path / "features"
    report = preprocess_corpus(root, out, PreprocessConfig(max_frames=100), False)
    assert report["mixed_to_mono"] == 1
    assert report["resampled"] == 1
    assert report["unknown_chars"] == 3
    assert report["truncated_transcripts"] == 1
    # clips of 0.3-1 s are 42-138 frames: those over 100 are cut to exactly 100
    lengths = [len(audio.load_wav(root / "wavs" / f"{r.id}.wav")[0]) for r in rows]
    assert report["cropped"] == sum(audio.n_frames(n) > 100 for n in lengths) > 0
    assert report["frames_max"] == 100
    train = SpeechSplit(out / "train")
    assert list(train.n_frames) == [
        min(audio.n_frames(n), 100) for n in lengths[: len(train)]
    ]
    assert len(train.tokens(3)) == 99


def test_missing_wav_named_before_any_output(corpus, tmp_path):
    root, rows = corpus
    (root / "wavs" / f"{rows[4].id}.wav").unlink()
    (root / "wavs" / f"{rows[7].id}.wav").unlink()
    out = tmp_path / "features"
    with pytest.raises(DataError, match=f"{rows[4].id}.wav: audio file not found"):
        preprocess_corpus(root, out, progress=False)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".features")]


def test_corrupt_wav_named_before_any_output(corpus, tmp_path):
    root, rows = corpus
    (root / "wavs" / f"{rows[8].id}.wav").write_bytes(b"RIFF" + os.urandom(500))
    out = tmp_path / "features"
    with pytest.raises(DataError, match=f"{rows[8].id}.wav: unreadable audio"):
        preprocess_corpus(root, out, progress=False)
    assert not out.exists()


def test_too_short_wav_named(corpus, tmp_path):
    root, rows = corpus
    sf.write(root / "wavs" / f"{rows[5].id}.wav", np.zeros(100), audio.SAMPLE_RATE)
    with pytest.raises(DataError, match=f"{rows[5].id}.wav: 100 samples, too short"):
        preprocess_corpus(root, tmp_path / "features", progress=False)


def test_failed_run_keeps_previous_output(corpus, tmp_path):
    root, rows = corpus
    out = tmp_path / "features"
    preprocess_corpus(root, out, progress=False)
    before = (out / "train" / "mels.npy").read_bytes()
    (root / "wavs" / f"{rows[0].id}.wav").unlink()
    with pytest.raises(DataError):
        preprocess_corpus(root, out, progress=False)
    assert (out / "train" / "mels.npy").read_bytes() == before


def test_malformed_metadata_row_names_line(corpus, tmp_path):
    root, _ = corpus
    lines = (root / "metadata.csv").read_text().splitlines()
    lines[5] = "LJ001-0005|only two fields"
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"metadata.csv:6: expected 3 fields"):
        preprocess_corpus(root, tmp_path / "features", progress=False)


def test_empty_transcript_is_an_error(corpus, tmp_path):
    root, _ = corpus
    lines = (root / "metadata.csv").read_text().splitlines()
    lines[2] = "LJ001-0002|raw text| "
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"metadata.csv:3: empty transcript"):
        preprocess_corpus(root, tmp_path / "features", progress=False)


def test_config_from_params():
    from hw2.core.errors import ParamError
    from hw2.core.params import Params

    with pytest.raises(ParamError, match="missing key 'asr.max_frames'"):
        PreprocessConfig.from_params(Params({}))
    assert (
        PreprocessConfig.from_params(Params({"asr": {"max_frames": 9}})).max_frames == 9
    )
    with pytest.raises(ParamError, match="asr.max_frames"):
        PreprocessConfig.from_params(Params({"asr": {"max_frames": 0}}))


def test_stage_writes_features_and_metrics(tmp_path, monkeypatch):
    rows = make_corpus(tmp_path / "data" / "speech" / "LJSpeech-1.1", n=6)
    (tmp_path / "params.yaml").write_text("asr:\n  max_frames: 2754\n")
    main = stage_main("preprocess_speech", monkeypatch)
    monkeypatch.chdir(tmp_path)
    main()
    report = json.loads((tmp_path / "metrics" / "speech_preprocess.json").read_text())
    assert report["n_clips"] == 6 and sum(report["clips"].values()) == 6
    train = SpeechSplit(tmp_path / "data" / "features" / "train")
    assert len(train) == report["clips"]["train"]

    # a bad corpus: one line on stderr naming the file, exit 2
    (
        tmp_path / "data" / "speech" / "LJSpeech-1.1" / "wavs" / f"{rows[1].id}.wav"
    ).unlink()
    done = run_stage("preprocess_speech", tmp_path)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"{rows[1].id}.wav" in last


def test_too_few_clips_for_three_splits_refused_up_front(tmp_path):
    root = tmp_path / "corpus"
    make_corpus(root, n=2)
    (root / "wavs").rename(root / "gone")  # the split check comes before the wavs
    with pytest.raises(
        DataError, match=r"2 clips leave the validation split empty \(train 2, "
    ):
        preprocess_corpus(root, tmp_path / "features", progress=False)
    assert not (tmp_path / "features").exists()


def test_clip_id_with_a_space_names_its_line(corpus, tmp_path):
    root, _ = corpus
    lines = (root / "metadata.csv").read_text().splitlines()
    lines[3] = "LJ001 0003|raw|text"
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataError, match=r"metadata.csv:4: clip id 'LJ001 0003' contains a space"
    ):
        preprocess_corpus(root, tmp_path / "features", progress=False)


@pytest.mark.parametrize("max_frames", [audio.MIN_FRAMES, audio.MIN_FRAMES + 1])
def test_smallest_max_frames_allowed_gives_features(corpus, tmp_path, max_frames):
    root, rows = corpus
    config = PreprocessConfig.from_params(Params({"asr": {"max_frames": max_frames}}))
    report = preprocess_corpus(root, tmp_path / "f", config, progress=False)
    assert report["frames_max"] == max_frames and report["cropped"] == len(rows)
    with pytest.raises(
        ParamError,
        match=rf"asr.max_frames must be an integer >= "
        rf"{audio.MIN_FRAMES}, <= [0-9]+, got {audio.MIN_FRAMES - 1}",
    ):
        PreprocessConfig.from_params(
            Params({"asr": {"max_frames": audio.MIN_FRAMES - 1}})
        )


@pytest.mark.parametrize(
    "char", ["\u2028", "\u2029", "\x85", "\x1c", "\x1d", "\x1e", "\x0b", "\x0c"]
)
def test_line_separators_inside_a_transcript_stay_in_it(tmp_path, char):
    # str.splitlines() splits rows at these; metadata.csv's rows end at '\n' only
    path = tmp_path / "metadata.csv"
    path.write_text(
        f"a|raw{char}text|one{char}two\r\nb|raw|text\nc|only two fields\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"metadata.csv:3: expected 3 fields .*, got 2"):
        read_metadata(path)
    path.write_text(f"a|raw{char}text|one{char}two\r\nb|raw|text\n")
    rows = read_metadata(path)
    assert rows == [
        Row("a", f"raw{char}text", f"one{char}two"),
        Row("b", "raw", "text"),
    ]
    assert encode(rows[0].normalized)[1] == 1  # an unknown character, as any other


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("{id}|raw|text", "longer than a file name allows"),
        ("{id} x|raw|text", "contains a space"),
        (".{id}|raw|text", "bad clip id"),
        ("{id}/x|raw|text", "bad clip id"),
        ("{short}|raw|", "empty transcript"),
        ("{short}|raw|text\n{short}|raw|text", "duplicate clip id"),
    ],
)
def test_a_long_clip_id_is_cut_in_the_error(tmp_path, row, reason):
    path = tmp_path / "metadata.csv"
    # `short` fits a file name (251 bytes) but not an error line (60 characters)
    path.write_text(row.format(id="x" * 100_000, short="y" * 250) + "\n")
    with pytest.raises(DataError, match=reason) as err:
        read_metadata(path)
    line = str(err.value).replace(str(path), "metadata.csv")
    assert len(line) < 150 and "\n" not in line, line[:300]


def test_a_clip_with_an_absurd_sample_rate_is_named_before_any_feature(
    corpus, tmp_path
):
    root, rows = corpus
    wav = root / "wavs" / f"{rows[4].id}.wav"
    sf.write(wav, np.zeros(22_000, np.float32), 1, subtype="PCM_16")  # 44 KB, 1 Hz
    with pytest.raises(DataError, match=rf"{rows[4].id}.wav: a sample rate of 1 Hz"):
        preprocess_corpus(root, tmp_path / "features", progress=False)
    assert not (tmp_path / "features").exists()
