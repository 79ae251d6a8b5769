"""The download_images stage's logic: octmnist.npz generated (the phantoms) or
downloaded and verified, and a grid of its images per class."""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw2.core.download import download
from hw2.core.errors import ParamError
from hw2.core.io import atomic_path
from hw2.core.params import DATA_SOURCES, Params
from hw2.images import phantoms
from hw2.images.octmnist import CLASSES, IMAGE_SHAPE, N_CLASSES, SPLITS, load_octmnist

# The sample grid: tiles enlarged GRID_SCALE times (nearest neighbour: the pixels as
# they are), a class name before each row.
GRID_SCALE, GRID_GAP, GRID_LABEL_WIDTH, GRID_FONT = 3, 3, 100, 20


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
    priors: dict[str, tuple[float, ...]]

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
            priors={s: _priors(p, f"data.images.sample.priors.{s}") for s in SPLITS},
        )


def _priors(p: Params, key: str) -> tuple[float, ...]:
    """One split's class proportions: one number >= 0 per class, summing to 1."""
    value = p.get(key)
    allowed = f"a list of {N_CLASSES} numbers >= 0 ({', '.join(CLASSES)}) summing to 1"
    if (
        not isinstance(value, list)
        or len(value) != N_CLASSES
        or any(isinstance(v, bool) or not isinstance(v, int | float) for v in value)
        or any(not math.isfinite(v) or v < 0 for v in value)
        or abs(sum(value) - 1) > 1e-6
    ):
        raise ParamError(f"{p.source}: {key} must be {allowed}, got {value!r}")
    return tuple(float(v) for v in value)


def prepare_images(config: ImageDataConfig, dest: str | Path) -> Path:
    """Write octmnist.npz at dest: generated (sample) or downloaded and verified."""
    dest = Path(dest)
    if config.source == "full":
        download(config.url, dest, checksum=config.md5, algorithm="md5")
    else:
        arrays = phantoms.make_dataset(
            config.n_train, config.n_val, config.n_test, config.seed, config.priors
        )
        with atomic_path(dest) as tmp, tmp.open("wb") as f:
            np.savez_compressed(f, **arrays)
    load_octmnist(dest)  # refuse to hand on a file the next stage would reject
    return dest


def class_grid(
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    dest: str | Path,
    split: str = "train",
    per_class: int = 8,
) -> Path:
    """A PNG of the first `per_class` images of each class of a split, one row per
    class in label order (CNV, DME, drusen, normal) named at its left, each image
    GRID_SCALE times its size; written atomically."""
    from PIL import Image, ImageDraw, ImageFont

    images, labels = data[split]
    tile = IMAGE_SHAPE[0] * GRID_SCALE + GRID_GAP
    width = GRID_LABEL_WIDTH + per_class * tile + GRID_GAP
    grid = Image.new("L", (width, N_CLASSES * tile + GRID_GAP), 255)
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default(size=GRID_FONT)
    for c, name in enumerate(CLASSES):
        top = GRID_GAP + c * tile
        draw.text((8, top + tile // 2), name, fill=0, font=font, anchor="lm")
        for i, image in enumerate(images[labels == c][:per_class]):
            big = np.kron(image, np.ones((GRID_SCALE, GRID_SCALE), np.uint8))
            grid.paste(Image.fromarray(big), (GRID_LABEL_WIDTH + i * tile, top))
    dest = Path(dest)
    with atomic_path(dest) as tmp:
        grid.save(tmp, format="png")
    return dest
