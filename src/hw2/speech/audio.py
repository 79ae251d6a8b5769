"""WAV loading and the ASR study's log-mel features.

The recipe (docs/design.md; Whisper's at LJ Speech's rate): power spectrogram
(n_fft 400, hop 160, centred, Hann window) -> 80 mel bands (Slaney scale and norm) ->
log10 with a 1e-10 floor, floored at (max - 8), then (x + 4) / 4.
"""

import dataclasses
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from hw2.core.errors import DataError
from hw2.speech.ljspeech import SAMPLE_RATE  # other rates are resampled to it

N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80
# The homework's frame limit. At 22,050 Hz and hop 160 that is 2,754 * 160 / 22,050
# = 20.0 s of audio, twice LJ Speech's longest clip (10.1 s -> 1,392 frames).
MAX_FRAMES = 2754
# Centred frames reflect-pad n_fft // 2 samples, which needs a longer signal.
MIN_SAMPLES = N_FFT // 2 + 1
# The smallest usable asr.max_frames: crop() keeps max_frames * HOP_LENGTH - 1
# samples, which must still make a frame (the encoder's kernel-3, stride-2
# convolutions then give it ceil(2 / 2) = 1 position).
MIN_FRAMES = -(-(MIN_SAMPLES + 1) // HOP_LENGTH)
# Sample rates taken, in Hz: telephone speech to studio masters. A header outside
# says the file is damaged; taken, a 1 Hz header would resample every stored
# sample into 22,050.
MIN_RATE, MAX_RATE = 8_000, 192_000
# How far past an output sample torchaudio's resampling filter reads, in file
# samples per ceil(file rate / SAMPLE_RATE): 6 / 0.99 (lowpass_filter_width,
# rolloff) and some to spare. A prefix that much longer than the part kept
# resamples as the whole file does (the filter's weights beyond are zero).
_FILTER_REACH = 16


@dataclass(frozen=True)
class WavInfo:
    """What load_wav found and changed, so callers can count it."""

    sample_rate: int  # the file's own rate
    channels: int  # the file's channel count; > 1 means it was mixed down
    n_samples: int  # samples per channel in the file, before resampling
    cropped: bool = False  # load_wav kept only the first max_frames

    @property
    def mixed(self) -> bool:
        return self.channels > 1

    @property
    def resampled(self) -> bool:
        return self.sample_rate != SAMPLE_RATE


def wav_info(path: str | Path) -> WavInfo:
    """Read a WAV header only (cheap): missing or unreadable -> DataError naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: audio file not found")
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError) as exc:
        raise DataError(f"{path}: unreadable audio ({_reason(exc)})") from None
    return _checked(
        path, WavInfo(int(info.samplerate), int(info.channels), int(info.frames))
    )


def _checked(path: Path, info: WavInfo) -> WavInfo:
    if not MIN_RATE <= info.sample_rate <= MAX_RATE:
        raise DataError(
            f"{path}: a sample rate of {info.sample_rate} Hz (taken: {MIN_RATE:,}"
            f"-{MAX_RATE:,} Hz); a damaged header?"
        )
    return info


def load_wav(
    path: str | Path, max_frames: int | None = None
) -> tuple[np.ndarray, WavInfo]:
    """Read a sound file as float32 mono at SAMPLE_RATE, shape = (n_samples,).

    Multi-channel audio is averaged to mono and other rates are resampled;
    max_frames: keep the audio of that many frames (crop()), reading and
    resampling no more of the file than that. The returned WavInfo says what
    happened. Problems (a sample rate outside MIN_RATE-MAX_RATE too) -> DataError
    naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: audio file not found")
    try:
        with sf.SoundFile(str(path)) as f:
            info = _checked(path, WavInfo(f.samplerate, f.channels, f.frames))
            keep = -1 if max_frames is None else _file_samples(max_frames, f.samplerate)
            data = f.read(keep, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError) as exc:
        raise DataError(f"{path}: unreadable audio ({_reason(exc)})") from None
    audio = data.mean(axis=1, dtype=np.float32) if info.mixed else data[:, 0]
    if not np.all(np.isfinite(audio)):
        raise DataError(f"{path}: audio holds NaN or infinite samples")
    if info.resampled and audio.size:
        audio = _resampler(info.sample_rate)(torch.from_numpy(audio)).numpy()
    if max_frames is not None:
        audio, cropped = crop(audio, max_frames)
        info = dataclasses.replace(info, cropped=cropped)
    return np.ascontiguousarray(audio, dtype=np.float32), info


def _file_samples(max_frames: int, rate: int) -> int:
    """Samples at `rate` whose resampling gives crop()'s prefix of max_frames."""
    keep = max_frames * HOP_LENGTH - 1
    if rate == SAMPLE_RATE:
        return keep + 1  # one more than kept: says whether crop() cut
    reach = _FILTER_REACH * -(-rate // SAMPLE_RATE)
    return -(-keep * rate // SAMPLE_RATE) + reach


def n_frames(n_samples: int) -> int:
    """Frames of a centred STFT of n_samples at HOP_LENGTH."""
    return 1 + n_samples // HOP_LENGTH


def crop(audio: np.ndarray, max_frames: int = MAX_FRAMES) -> tuple[np.ndarray, bool]:
    """Cut audio (n_samples,) to the longest prefix that gives max_frames frames.

    Cropping the audio rather than the frames keeps the (max - 8) floor and the
    scaling those of the frames that are kept.
    """
    limit = max_frames * HOP_LENGTH - 1  # n_frames(limit) == max_frames
    if audio.shape[-1] <= limit:
        return audio, False
    return audio[..., :limit], True


def log_mel(audio: np.ndarray | torch.Tensor) -> np.ndarray:
    """Log-mel features of mono audio at SAMPLE_RATE.

    audio: shape = (n_samples,), n_samples >= MIN_SAMPLES
    returns: float32, shape = (n_frames, N_MELS), n_frames = 1 + n_samples // 160
    """
    x = torch.as_tensor(audio, dtype=torch.float32)
    if x.ndim != 1 or x.shape[0] < MIN_SAMPLES:
        raise ValueError(f"audio shape {tuple(x.shape)}: want (n >= {MIN_SAMPLES},)")
    with torch.inference_mode():
        mel = _mel_transform()(x)  # (N_MELS, n_frames)
        log_spec = torch.clamp(mel, min=1e-10).log10()
        log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
        log_spec = (log_spec + 4.0) / 4.0
    return log_spec.T.contiguous().numpy()


@cache
def _mel_transform() -> torchaudio.transforms.MelSpectrogram:
    # built once: the filter bank and window are the costly parts to make
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE,
        n_fft=N_FFT,
        hop_length=HOP_LENGTH,
        n_mels=N_MELS,
        power=2.0,
        center=True,
        pad_mode="reflect",
        norm="slaney",
        mel_scale="slaney",
    )


@cache
def _resampler(orig_rate: int) -> torchaudio.transforms.Resample:
    # the transform caches the sinc kernel of torchaudio.functional.resample,
    # which is worth it when a whole corpus shares one foreign rate
    return torchaudio.transforms.Resample(orig_rate, SAMPLE_RATE)


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
