import copy
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from helpers import run_stage

from hw2.core.errors import DataError, ParamError
from hw2.core.params import Params
from hw2.speech import synth
from hw2.speech.corpus import ARCHIVE, CORPUS, SpeechDataConfig, prepare_speech
from hw2.speech.ljspeech import (
    SAMPLE_INFO,
    Row,
    corpus_voices,
    read_metadata,
    write_metadata,
)

ROOT = Path(__file__).resolve().parents[1]
PARAMS = {
    "data": {
        "speech": {
            "source": "sample",
            "url": "https://example.org/LJSpeech-1.1.tar.bz2",
            "sha256": "be1a3045" * 8,
            "sample": {"n_clips": 3, "seed": 0, "voices": 1, "words": [2, 28]},
        },
    }
}


def _params(**changes) -> Params:
    """PARAMS with dotted keys changed, e.g. {"data.speech.source": "foo"}."""
    return Params(PARAMS).override(changes)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("data.speech.source", "foo"),
        ("data.speech.sample.n_clips", 0),
        ("data.speech.sample.n_clips", 2),
        ("data.speech.sample.n_clips", "many"),
        ("data.speech.sample.seed", -1),
        ("data.speech.sample.voices", 0),
        ("data.speech.sample.voices", 89),
        ("data.speech.sample.words", [5, 4]),
        ("data.speech.sample.words", [2]),
        ("data.speech.sample.words", [0, 5]),
        ("data.speech.sample.words", [2, 31]),
        ("data.speech.sample.words", "short"),
        ("data.speech.sha256", "abc"),
        ("data.speech.url", ""),
    ],
)
def test_invalid_params_name_the_key(key, value):
    with pytest.raises(ParamError, match=key.replace(".", r"\.")):
        SpeechDataConfig.from_params(_params(**{key: value}))


@pytest.mark.parametrize(
    ("key", "value"),
    [("data.speech.sha256", "a" * 100_000), ("data.speech.sample.words", [1] * 1000)],
)
def test_a_long_invalid_param_is_cut_in_the_error(key, value):
    with pytest.raises(ParamError, match=key.replace(".", r"\.")) as err:
        SpeechDataConfig.from_params(_params(**{key: value}))
    assert len(str(err.value)) < 200, str(err.value)[:300]


def test_params_are_read():
    config = SpeechDataConfig.from_params(_params(**{"data.speech.source": "full"}))
    assert config.source == "full" and config.n_clips == 3 and config.seed == 0
    assert config.voices == 1 and config.words == (2, 28)
    assert config.url.endswith(ARCHIVE)


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_sample_corpus_is_lj_speech_format_and_deterministic(tmp_path):
    config = SpeechDataConfig.from_params(_params())
    folder = prepare_speech(config, tmp_path / "a", progress=False)
    assert folder == tmp_path / "a" / CORPUS
    rows = read_metadata(folder / "metadata.csv")
    assert [r.id for r in rows] == ["LJ001-0001", "LJ001-0002", "LJ001-0003"]
    for row in rows:
        audio, rate = sf.read(folder / "wavs" / f"{row.id}.wav", dtype="int16")
        info = sf.info(folder / "wavs" / f"{row.id}.wav")
        assert rate == 22050 and audio.ndim == 1 and info.subtype == "PCM_16"
        assert 0.5 < len(audio) / rate < 11.5 and np.abs(audio).max() > 1000
    again = prepare_speech(config, tmp_path / "b", progress=False)
    assert _tree_digest(folder) == _tree_digest(again)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [CORPUS]
    # one reader, and the corpus says so (the real LJ Speech lacks the file)
    info = json.loads((folder / SAMPLE_INFO).read_text())
    assert info["voices"] == [synth.READER] and corpus_voices(folder) == 1
    assert info["n_clips"] == 3 and info["words"] == [2, 28]


def test_sample_with_several_voices_records_them(tmp_path):
    config = SpeechDataConfig.from_params(_params(**{"data.speech.sample.voices": 3}))
    folder = prepare_speech(config, tmp_path, progress=False)
    info = json.loads((folder / SAMPLE_INFO).read_text())
    assert info["voices"] == list(synth.voices(3)) and corpus_voices(folder) == 3


@pytest.mark.parametrize("text", ["{", "[]", '{"voices": []}', '{"voices": 3}'])
def test_unreadable_sample_info_names_the_file(tmp_path, text):
    (tmp_path / SAMPLE_INFO).write_text(text)
    with pytest.raises(DataError, match=SAMPLE_INFO):
        corpus_voices(tmp_path)


def test_silent_clip_stops_the_corpus_and_promotes_nothing(tmp_path, monkeypatch):
    def silent(specs, workers=1):
        return (np.zeros(2205, dtype=np.int16) for _ in specs)

    monkeypatch.setattr("hw2.speech.synth.synthesize_clips", silent)
    config = SpeechDataConfig.from_params(_params())
    with pytest.raises(DataError, match="silence for LJ001-0001"):
        prepare_speech(config, tmp_path / "speech", progress=False)
    _assert_nothing_promoted(tmp_path / "speech")


def test_more_clips_than_distinct_sentences_names_the_key(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "hw2.speech.synth.make_sentence",
        lambda rng, words: rng.choice([("A.", "A."), ("B.", "B.")]),
    )
    config = SpeechDataConfig.from_params(_params())
    with pytest.raises(ParamError, match=r"data\.speech\.sample\.n_clips = 3: "):
        prepare_speech(config, tmp_path / "speech", progress=False)
    _assert_nothing_promoted(tmp_path / "speech")


# --- data.speech.source: full, against the local HTTP server --------------------------


def _lj_archive(path: Path, extra: list[tuple[str, bytes]] = ()) -> Path:
    """A tiny LJ Speech-format LJSpeech-1.1.tar.bz2: three short tones."""
    src = path.parent / "src" / CORPUS
    (src / "wavs").mkdir(parents=True)
    rows = []
    for i in range(3):
        t = np.arange(2205 * (i + 1)) / 22050
        tone = (0.3 * np.sin(2 * np.pi * 220 * (i + 1) * t) * 32767).astype(np.int16)
        clip = f"LJ001-{i + 1:04d}"
        sf.write(src / "wavs" / f"{clip}.wav", tone, 22050, subtype="PCM_16")
        rows.append(Row(clip, f"Tone {i + 1}.", f"Tone {['one', 'two', 'three'][i]}."))
    write_metadata(src / "metadata.csv", rows)
    with tarfile.open(path, "w:bz2") as tar:
        tar.add(src, arcname=CORPUS)
        for name, data in extra:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _assert_nothing_promoted(out_root: Path) -> None:
    # the parent may have been created; the corpus and temporary folders may not
    assert not out_root.exists() or list(out_root.iterdir()) == []


def _full_config(server, archive: Path, sha256: str | None = None):
    if sha256 is None:
        sha256 = hashlib.sha256(archive.read_bytes()).hexdigest()
    return SpeechDataConfig(
        source="full", url=server.url(ARCHIVE), sha256=sha256, n_clips=3, seed=0
    )


def test_full_download_and_extraction(tmp_path, http_server):
    archive = _lj_archive(http_server.root / ARCHIVE)
    out, downloads = tmp_path / "speech", tmp_path / "downloads"
    config = _full_config(http_server, archive)
    folder = prepare_speech(config, out, downloads=downloads, progress=False)
    assert folder == out / CORPUS
    assert [r.id for r in read_metadata(folder / "metadata.csv")][-1] == "LJ001-0003"
    assert sf.info(folder / "wavs" / "LJ001-0002.wav").frames == 4410
    assert not (folder / SAMPLE_INFO).exists() and corpus_voices(folder) == 1
    assert (downloads / ARCHIVE).read_bytes() == archive.read_bytes()
    # a rerun finds the verified archive and does not download again
    prepare_speech(config, out, downloads=downloads, progress=False)
    assert len(http_server.requests) == 1


def test_full_checksum_mismatch_promotes_nothing(tmp_path, http_server):
    archive = _lj_archive(http_server.root / ARCHIVE)
    config = _full_config(http_server, archive, sha256="0" * 64)
    with pytest.raises(DataError, match="checksum mismatch"):
        prepare_speech(config, tmp_path / "speech", downloads=tmp_path / "dl")
    _assert_nothing_promoted(tmp_path / "speech")
    assert list((tmp_path / "dl").iterdir()) == []


def test_full_cut_connection_resumes_with_a_range_request(tmp_path, http_server):
    archive = _lj_archive(http_server.root / ARCHIVE)
    config = _full_config(http_server, archive)
    http_server.cut_after = 300
    with pytest.raises(DataError, match="run again to resume"):
        prepare_speech(config, tmp_path / "speech", downloads=tmp_path / "dl")
    _assert_nothing_promoted(tmp_path / "speech")
    http_server.cut_after = None
    folder = prepare_speech(config, tmp_path / "speech", downloads=tmp_path / "dl")
    assert (folder / "metadata.csv").is_file()
    assert http_server.requests[-1]["range"] == "bytes=300-"


def test_full_http_404_is_a_clear_error(tmp_path, http_server):
    archive = _lj_archive(http_server.root / ARCHIVE)
    config = _full_config(http_server, archive)
    http_server.fail_status = 404
    with pytest.raises(DataError, match="HTTP 404"):
        prepare_speech(config, tmp_path / "speech", downloads=tmp_path / "dl")
    _assert_nothing_promoted(tmp_path / "speech")


def test_full_unsafe_member_refused(tmp_path, http_server):
    archive = _lj_archive(http_server.root / ARCHIVE, extra=[("../evil.txt", b"x")])
    config = _full_config(http_server, archive)
    with pytest.raises(DataError, match=r"'\.\./evil\.txt'"):
        prepare_speech(config, tmp_path / "speech", downloads=tmp_path / "dl")
    _assert_nothing_promoted(tmp_path / "speech")
    assert not (tmp_path / "evil.txt").exists()


def test_full_archive_without_metadata_is_refused(tmp_path, http_server):
    archive = http_server.root / ARCHIVE
    with tarfile.open(archive, "w:bz2") as tar:
        info = tarfile.TarInfo(f"{CORPUS}/wavs")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    config = _full_config(http_server, archive)
    with pytest.raises(DataError, match="metadata.csv"):
        prepare_speech(config, tmp_path / "speech", downloads=tmp_path / "dl")
    _assert_nothing_promoted(tmp_path / "speech")


# --- the stage script ----------------------------------------------------------


def _run_stage(cwd: Path, params: dict) -> subprocess.CompletedProcess:
    (cwd / "params.yaml").write_text(yaml.safe_dump(params))
    return run_stage("download_speech", cwd)


def test_stage_writes_the_corpus(tmp_path):
    result = _run_stage(tmp_path, PARAMS)
    assert result.returncode == 0, result.stderr
    rows = read_metadata(tmp_path / "data" / "speech" / CORPUS / "metadata.csv")
    assert len(rows) == 3


def test_stage_bad_param_is_one_line_and_exit_2(tmp_path):
    params = copy.deepcopy(PARAMS)
    params["data"]["speech"]["source"] = "foo"
    result = _run_stage(tmp_path, params)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: params.yaml: data.speech.source must be one of sample | full, got 'foo'"
    ]
    assert not (tmp_path / "data").exists()
