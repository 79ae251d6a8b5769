"""hw2.speech.audio: WAV loading (mono, resampling, errors) and the log-mel recipe."""

import numpy as np
import pytest
import soundfile as sf
import torch

from hw2.core.errors import DataError
from hw2.speech import audio


def tone(seconds, rate=audio.SAMPLE_RATE, freq=440.0, seed=0, noise=0.01):
    """A sine plus a little noise, float32, shape = (n_samples,)."""
    t = np.arange(int(seconds * rate)) / rate
    hiss = noise * np.random.default_rng(seed).standard_normal(t.shape)
    return (0.5 * np.sin(2 * np.pi * freq * t) + hiss).astype(np.float32)


def slaney_mel_filters(rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Slaney-scale, Slaney-normalised triangular filters (librosa's formula), numpy.

    returns: shape = (n_mels, n_fft // 2 + 1)
    """

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, lin)

    def mel_to_hz(m):
        lin = m * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, lin)

    fft_freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(rate / 2), n_mels + 2))
    lower = (fft_freqs[None, :] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    upper = (edges[2:, None] - fft_freqs[None, :]) / np.diff(edges)[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


def reference_log_mel(x: np.ndarray) -> np.ndarray:
    """The same recipe by a second path: torch.stft and a numpy filter bank."""
    spec = torch.stft(
        torch.from_numpy(x).double(),
        audio.N_FFT,
        audio.HOP_LENGTH,
        window=torch.hann_window(audio.N_FFT, dtype=torch.float64),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    power = spec.abs().numpy() ** 2  # (n_fft // 2 + 1, n_frames)
    filters = slaney_mel_filters(audio.SAMPLE_RATE, audio.N_FFT, audio.N_MELS)
    log_spec = np.log10(np.maximum(filters @ power, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).T


@pytest.mark.parametrize("n_samples", [audio.MIN_SAMPLES, 1000, 6615, 22050])
def test_log_mel_shape(n_samples):
    x = tone(n_samples / audio.SAMPLE_RATE + 1e-9)[:n_samples]
    mel = audio.log_mel(x)
    assert mel.dtype == np.float32
    assert mel.shape == (1 + n_samples // 160, 80) == (audio.n_frames(n_samples), 80)


def test_log_mel_refuses_too_short_or_not_mono():
    with pytest.raises(ValueError):
        audio.log_mel(np.zeros(audio.MIN_SAMPLES - 1, np.float32))
    with pytest.raises(ValueError):
        audio.log_mel(np.zeros((2, 1000), np.float32))


def test_log_mel_range_after_normalisation():
    x = tone(0.5, noise=0.0)
    mel, ref = audio.log_mel(x), reference_log_mel(x)
    # the top is (max_log + 4) / 4 and the (max - 8) floor is 2 in scaled units
    assert mel.max() == pytest.approx(ref.max(), abs=1e-4)
    assert mel.min() >= mel.max() - 2.0 - 1e-6
    assert mel.min() == pytest.approx(mel.max() - 2.0, abs=1e-4)  # a pure tone hits it


@pytest.mark.parametrize("seconds, seed", [(0.3, 0), (0.77, 1)])
def test_log_mel_agrees_with_stft_and_numpy_filters(seconds, seed):
    rng = np.random.default_rng(seed)
    x = tone(seconds, seed=seed) + 0.2 * rng.standard_normal(int(seconds * 22050))
    x = x.astype(np.float32)
    np.testing.assert_allclose(audio.log_mel(x), reference_log_mel(x), atol=2e-4)


def test_silence_sits_at_the_floor():
    mel = audio.log_mel(np.zeros(4000, np.float32))
    np.testing.assert_allclose(mel, (-10.0 + 4.0) / 4.0)


def test_crop_gives_max_frames():
    x = tone(1.0)
    cropped, was = audio.crop(x, max_frames=50)
    assert was and audio.log_mel(cropped).shape == (50, 80)
    same, was = audio.crop(x, max_frames=audio.n_frames(len(x)))
    assert not was and same is x


def test_load_wav_pcm16_mono(tmp_path):
    x = tone(0.4)
    sf.write(tmp_path / "a.wav", x, audio.SAMPLE_RATE, subtype="PCM_16")
    y, info = audio.load_wav(tmp_path / "a.wav")
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=1 / 2**15)
    assert (info.mixed, info.resampled, info.n_samples) == (False, False, len(x))


def test_load_wav_mixes_stereo_to_mono(tmp_path):
    left, right = tone(0.3, freq=300), tone(0.3, freq=500)
    sf.write(tmp_path / "s.wav", np.stack([left, right], 1), audio.SAMPLE_RATE)
    y, info = audio.load_wav(tmp_path / "s.wav")
    assert info.mixed and info.channels == 2 and y.ndim == 1
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-4)


def test_load_wav_resamples_16k(tmp_path):
    sf.write(tmp_path / "r.wav", tone(0.8, rate=16000), 16000)
    sf.write(tmp_path / "n.wav", tone(0.8), audio.SAMPLE_RATE)
    y16, info = audio.load_wav(tmp_path / "r.wav")
    y22, _ = audio.load_wav(tmp_path / "n.wav")
    assert info.resampled and info.sample_rate == 16000
    assert abs(len(y16) - len(y22)) <= 2
    assert abs(len(audio.log_mel(y16)) - len(audio.log_mel(y22))) <= 1
    # the same 440 Hz tone: the loudest mel band agrees
    top = np.argmax(audio.log_mel(y16).mean(0)), np.argmax(audio.log_mel(y22).mean(0))
    assert top[0] == top[1]


def test_missing_wav_is_named(tmp_path):
    with pytest.raises(DataError, match="nothere.wav"):
        audio.load_wav(tmp_path / "nothere.wav")
    with pytest.raises(DataError, match="nothere.wav"):
        audio.wav_info(tmp_path / "nothere.wav")


def test_corrupt_wav_is_named(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(np.random.default_rng(0).bytes(3000))
    with pytest.raises(DataError, match="bad.wav.*unreadable"):
        audio.load_wav(bad)
    with pytest.raises(DataError, match="bad.wav.*unreadable"):
        audio.wav_info(bad)


@pytest.mark.parametrize("rate", [8000, 16000, audio.SAMPLE_RATE, 44100, 192000])
def test_load_wav_crops_before_resampling_as_if_after(tmp_path, rate, monkeypatch):
    sf.write(tmp_path / "long.wav", tone(3.0, rate=rate), rate, subtype="FLOAT")
    whole, info = audio.load_wav(tmp_path / "long.wav")
    expected, _ = audio.crop(whole, max_frames=50)
    assert not info.cropped
    seen = []
    resampler = audio._resampler

    def recording(orig_rate):
        def resample(x):
            seen.append(len(x))
            return resampler(orig_rate)(x)

        return resample

    monkeypatch.setattr(audio, "_resampler", recording)
    y, info = audio.load_wav(tmp_path / "long.wav", max_frames=50)
    assert info.cropped and info.n_samples == 3 * rate
    np.testing.assert_allclose(y, expected, atol=1e-6)
    # only what the 50 frames need was resampled, not the 3 s
    assert all(n < 50 * audio.HOP_LENGTH * rate / audio.SAMPLE_RATE + 200 for n in seen)
    short, info = audio.load_wav(tmp_path / "long.wav", max_frames=5000)
    assert not info.cropped and len(short) == len(whole)


@pytest.mark.parametrize("rate", [1, 7999, 192001])
def test_absurd_sample_rate_is_refused_naming_the_file(tmp_path, rate):
    # a 1 Hz header: resampled as it stands, 44 KB would become 19 s and 4.5 GB
    path = tmp_path / "odd.wav"
    sf.write(path, np.zeros(400, np.float32), rate, subtype="PCM_16")
    for read in (audio.wav_info, audio.load_wav):
        with pytest.raises(DataError, match=rf"odd.wav: a sample rate of {rate} Hz"):
            read(path)
