"""OCTMNIST's npz format: load and check, and the download_images stage's logic."""

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw2.core.download import download
from hw2.core.errors import DataError
from hw2.core.io import atomic_path
from hw2.core.params import DATA_SOURCES, Params
from hw2.oct import phantoms

SPLITS = ("train", "val", "test")
N_CLASSES = 4
IMAGE_SHAPE = (28, 28)


@dataclass(frozen=True)
class ImageDataConfig:
    """Where OCTMNIST comes from: generated here or downloaded."""

    source: str
    url: str
    md5: str
    n_train: int
    n_val: int
    n_test: int
    seed: int

    @classmethod
    def from_params(cls, p: Params) -> "ImageDataConfig":
        return cls(
            source=p.choice("data.images.source", DATA_SOURCES),
            url=p.string("data.images.url"),
            md5=p.string("data.images.md5"),
            n_train=p.integer("data.images.sample.n_train", low=4),
            n_val=p.integer("data.images.sample.n_val", low=4),
            n_test=p.integer("data.images.sample.n_test", low=4),
            seed=p.integer("data.images.sample.seed", low=0),
        )


def prepare_images(config: ImageDataConfig, dest: str | Path) -> Path:
    """Write octmnist.npz at dest: generated (sample) or downloaded and verified."""
    dest = Path(dest)
    if config.source == "full":
        download(config.url, dest, checksum=config.md5, algorithm="md5")
    else:
        arrays = phantoms.make_dataset(
            config.n_train, config.n_val, config.n_test, config.seed
        )
        with atomic_path(dest) as tmp, tmp.open("wb") as f:
            np.savez_compressed(f, **arrays)
    load_octmnist(dest)  # refuse to hand on a file the next stage would reject
    return dest


def load_octmnist(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read and check an octmnist.npz.

    Returns {split: (images uint8 (N, 28, 28), labels int64 (N,))}.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable npz file ({exc})") from None
    out = {}
    with npz:
        for split in SPLITS:
            arrays = []
            for kind in ("images", "labels"):
                key = f"{split}_{kind}"
                if key not in npz.files:
                    raise DataError(f"{path}: missing key '{key}'")
                try:
                    arrays.append(npz[key])
                except ValueError as exc:  # object arrays need pickle: refused
                    raise DataError(
                        f"{path}: '{key}' cannot be loaded ({exc})"
                    ) from None
            images, labels = arrays
            key = f"{split}_images"
            if images.dtype != np.uint8:
                raise DataError(
                    f"{path}: '{key}' has dtype {images.dtype}, expected uint8"
                )
            if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
                raise DataError(
                    f"{path}: '{key}' has shape {images.shape}, expected (N, 28, 28)"
                )
            key = f"{split}_labels"
            if labels.dtype.kind not in "iu":
                raise DataError(
                    f"{path}: '{key}' has dtype {labels.dtype}, expected integers"
                )
            if labels.shape not in ((len(images), 1), (len(images),)):
                raise DataError(
                    f"{path}: '{key}' has shape {labels.shape}, "
                    f"expected ({len(images)}, 1)"
                )
            labels = labels.reshape(-1).astype(np.int64)
            bad = (labels < 0) | (labels >= N_CLASSES)
            if bad.any():
                i = int(np.argmax(bad))
                raise DataError(
                    f"{path}: '{key}'[{i}] = {labels[i]} is outside 0..{N_CLASSES - 1}"
                )
            out[split] = (images, labels)
    return out
