"""About how much a stage writes to disk and holds in memory, from params.yaml alone.

The preflight stage compares these with the free space and memory before DVC
deletes any output, and a stage that runs out of disk anyway names its figure.
They are estimates from sizes measured on the default sample (bytes per image,
clip and feature clip) and the full sets' published sizes, rounded up; the
memory figures count only arrays that must exist, so they never overstate.
Values are read raw (no checks): the stages' own configurations check them.
"""

from collections.abc import Mapping
from typing import Any

from hw2.core.params import lookup

IMAGE_BYTES = 700  # octmnist.npz per image, compressed (5.4 MB for 8,000)
CLIP_BYTES = 300_000  # a synthesised 16-bit clip at 22,050 Hz (400 MB for 1,400)
FEATURE_BYTES = 150_000  # float16 log-mels of a clip (200 MB for 1,400 clips)
OCTMNIST_BYTES = 55_000_000  # octmnist.npz (MedMNIST v2, 28x28)
LJSPEECH_CLIPS = 13_100
LJSPEECH_ARCHIVE_BYTES = 2_750_000_000  # LJSpeech-1.1.tar.bz2
LJSPEECH_BYTES = 3_900_000_000  # the extracted wavs/ and metadata.csv
SMALL = 10_000_000  # metrics, plots, reports: a few MB at most
PIXELS = 28 * 28


def _int(data: Any, dotted: str, default: int = 0) -> int:
    value = lookup(data, dotted)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return max(int(value), 0)


def _full(data: Any, branch: str) -> bool:
    return lookup(data, f"data.{branch}.source") == "full"


def n_images(data: Mapping) -> int:
    """Images in all three splits of the configured source."""
    if _full(data, "images"):
        return 97_477 + 10_832 + 1_000
    return sum(
        _int(data, f"data.images.sample.n_{s}") for s in ("train", "val", "test")
    )


def n_clips(data: Mapping) -> int:
    """Clips in the configured speech corpus."""
    if _full(data, "speech"):
        return LJSPEECH_CLIPS
    return _int(data, "data.speech.sample.n_clips")


def asr_parameters(data: Mapping) -> int:
    """A lower bound of the ASR model's weights: the encoder's convolutions and
    blocks, the decoder's two attentions and MLP (1.29 of 1.33 million by default)."""
    h = _int(data, "asr.model.hidden", 200)
    mlp = _int(data, "asr.model.mlp", 400)
    layers = _int(data, "asr.model.encoder_layers", 2)
    block = 4 * h * h + 2 * h * mlp
    return layers * block + 8 * h * h + 2 * h * mlp + 3 * h * (80 + h)


def disk_bytes(stage: str, data: Mapping) -> int:
    """About how many bytes `stage` writes (outputs and temporary copies)."""
    if stage == "download_images":
        if _full(data, "images"):
            return OCTMNIST_BYTES
        return n_images(data) * IMAGE_BYTES + SMALL
    if stage == "download_speech":
        if _full(data, "speech"):
            return LJSPEECH_ARCHIVE_BYTES + LJSPEECH_BYTES
        return n_clips(data) * CLIP_BYTES
    if stage == "preprocess_speech":
        return n_clips(data) * FEATURE_BYTES + SMALL
    if stage == "train_asr":
        # the model, and the resume checkpoint with AdamW's two moments
        return 4 * 4 * asr_parameters(data) + SMALL
    if stage == "train_cnn":
        return _int(data, "cnn.seeds", 1) * 1_000_000 + SMALL
    return SMALL


def memory_bytes(stage: str, data: Mapping) -> int:
    """A lower bound of the memory `stage` needs: the arrays it cannot do without."""
    if stage == "download_images":
        # the uint8 images, once as generated and once stacked for the npz
        return 2 * n_images(data) * PIXELS
    if stage in ("train_cnn", "evaluate_cnn"):
        return n_images(data) * PIXELS * (1 + 4)  # uint8 and float32 copies
    if stage == "train_asr":
        # float32 weights, gradients and AdamW's two moments
        return 16 * asr_parameters(data)
    if stage == "evaluate_asr":
        return 4 * asr_parameters(data)
    return 0
