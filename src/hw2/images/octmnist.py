"""OCTMNIST's npz format: its classes, splits and sizes, read and checked.

MedMNIST's octmnist.npz holds {split}_images uint8 (N, 28, 28) and {split}_labels
(N, 1) for the splits train, val and test; labels 0..3 are the classes below.
"""

import zipfile
import zlib
from pathlib import Path

import numpy as np

from hw2.core import npz as npz_headers
from hw2.core.errors import DataError

CLASSES = ("CNV", "DME", "drusen", "normal")  # OCTMNIST's labels 0..3
N_CLASSES = len(CLASSES)
SPLITS = ("train", "val", "test")
IMAGE_SHAPE = (28, 28)

# OCTMNIST's images per class (CNV, DME, drusen, normal) in each split: train and
# validation are imbalanced alike, the test split is balanced.
OCTMNIST_COUNTS = {
    "train": (33_484, 10_213, 7_754, 46_026),
    "val": (3_721, 1_135, 862, 5_114),
    "test": (250, 250, 250, 250),
}


def load_octmnist(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read and check an octmnist.npz.

    Returns {split: (images uint8 (N, 28, 28), labels int64 (N,))}.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    npz_headers.check(path)  # before np.load allocates what a header claims
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
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                    raise DataError(
                        f"{path}: '{key}' is corrupted ({exc}); download it again"
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
            if len(images) == 0:
                raise DataError(
                    f"{path}: the {split} split is empty ('{key}' has 0 images); "
                    "training and evaluation need at least one image in each split"
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


def class_counts(data: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    """Images per class in each split: {split: {class name: count}}."""
    return {
        split: dict(
            zip(
                CLASSES,
                np.bincount(labels, minlength=N_CLASSES).tolist(),
                strict=True,
            )
        )
        for split, (_, labels) in data.items()
    }
