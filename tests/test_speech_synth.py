import re

import numpy as np
import pytest

from hw2.speech import synth as S


def test_synthesize_gives_22050_hz_int16_speech():
    audio = S.synthesize("The old man found a letter.", "en-us", rate=175, pitch=50)
    assert audio.dtype == np.int16 and audio.ndim == 1
    seconds = len(audio) / S.SAMPLE_RATE
    assert 0.8 < seconds < 3.0
    assert np.abs(audio.astype(np.int32)).max() > 1000  # not silence


def test_faster_rate_gives_shorter_audio():
    text = "Did the young clerk see the ship?"
    slow = S.synthesize(text, "en-gb-x-rp+f2", rate=120, pitch=40)
    fast = S.synthesize(text, "en-gb-x-rp+f2", rate=240, pitch=40)
    assert len(fast) < 0.75 * len(slow)


def test_unknown_voice_and_bad_rate_are_refused():
    with pytest.raises(ValueError, match="no voice"):
        S.synthesize("hello", "xx-nonexistent")
    with pytest.raises(ValueError, match="rate"):
        S.synthesize("hello", rate=10)


def test_one_reader_by_default_with_a_readers_small_variation():
    specs = S.clip_specs(0, 400)
    assert {s.voice for s in specs} == {S.READER} == set(S.voices(1))
    bands = S.ONE_READER
    assert {s.pitch for s in specs} == set(
        range(bands.pitches[0], bands.pitches[1] + 1)
    )
    assert {s.intonation for s in specs} <= set(
        range(bands.ranges[0], bands.ranges[1] + 1)
    )
    drawn = [s.rate for s in specs if s.rate <= bands.rates[1]]
    assert len(drawn) > 0.6 * len(specs) and min(drawn) >= bands.rates[0]
    assert len({s.seed for s in specs}) == 400  # breath noise differs clip to clip
    # long sentences are read faster, so no clip is meant to outlast MAX_SECONDS
    for s in specs:
        assert 60 * len(s.normalized.split()) / s.rate <= S.MAX_SECONDS + 0.5


def test_many_voices_when_asked_with_the_same_sentences():
    one, many = S.clip_specs(0, 400), S.clip_specs(0, 400, n_voices=S.MAX_VOICES)
    assert [s.raw for s in one] == [s.raw for s in many]
    assert len({s.voice.split("+")[0] for s in many}) == len(S.ACCENTS)
    assert len({s.voice for s in many}) > 60
    assert len({s.pitch for s in many}) > 30 and len({s.intonation for s in many}) > 30
    three = S.clip_specs(0, 100, n_voices=3)
    assert {s.voice for s in three} == set(S.voices(3))
    assert S.voices(3)[0] == S.READER and len(set(S.voices(S.MAX_VOICES))) == 88
    assert S.voices(5)[:3] == S.voices(3)  # more voices add to fewer
    with pytest.raises(ValueError, match="voices must be 1-88"):
        S.voices(89)


def test_clip_specs_are_distinct_and_a_larger_corpus_extends_a_smaller_one():
    small, large = S.clip_specs(0, 50), S.clip_specs(0, 300)
    assert large[:50] == small
    assert len({s.raw for s in large}) == 300


def test_too_many_clips_for_the_generator_is_refused(monkeypatch):
    choices = [("One.", "One."), ("Two.", "Two."), ("Three.", "Three.")]
    monkeypatch.setattr(S, "make_sentence", lambda rng, words: rng.choice(choices))
    assert len(S.clip_specs(0, 3)) == 3
    with pytest.raises(S.SentenceSpaceError, match="cannot make 4 distinct"):
        S.clip_specs(0, 4)


def test_clip_specs_are_deterministic_and_ids_follow_lj_speech():
    assert S.clip_spec(3, 17) == S.clip_spec(3, 17)
    assert S.clip_spec(3, 17, attempt=1) != S.clip_spec(3, 17)
    assert S.clip_spec(3, 17) != S.clip_spec(4, 17)
    assert S.clip_id(0) == "LJ001-0001"
    assert S.clip_id(S.CLIPS_PER_CHAPTER) == "LJ002-0001"
    assert re.fullmatch(r"LJ\d{3}-\d{4}", S.clip_spec(0, 1499).id)


def test_synthesize_clips_same_bytes_for_any_number_of_workers(monkeypatch):
    # the engine keeps state between utterances: each shard gets a fresh worker
    monkeypatch.setattr(S, "SHARD", 2)
    specs = S.clip_specs(0, 5)
    first = [a.tobytes() for a in S.synthesize_clips(specs)]
    second = [a.tobytes() for a in S.synthesize_clips(specs, workers=2)]
    assert first == second
    assert all(len(a) > S.SAMPLE_RATE // 4 for a in first)


def test_a_clock_times_colon_is_not_read_aloud():
    # LJ's normalized column writes "twelve:thirty-five p.m."; its reader says no colon
    assert S.spoken("at twelve:thirty-five p.m.; then: he left") == (
        "at twelve thirty-five p.m.; then: he left"
    )
    with_colon = S.synthesize("at twelve:thirty-five", "en-us+f2", 140, 50)
    without = S.synthesize(S.spoken("at twelve:thirty-five"), "en-us+f2", 140, 50)
    assert len(without) < 0.9 * len(with_colon)  # eSpeak would say "colon"
