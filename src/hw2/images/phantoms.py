"""Synthetic retina OCT B-scans in OCTMNIST's format, for running with no network.

Each image is a 28x28 crop of a layered retina (vitreous, nerve fibre layer,
plexiform and nuclear layers, a bright retinal pigment epithelium (RPE), choroid)
with a foveal pit, tilt and curvature, speckle noise and per-image gain. The four
classes follow the real labels:
    0 CNV     choroidal neovascularisation: a bright irregular mass at the RPE that
              lifts the retina, with dark subretinal fluid above it
    1 DME     diabetic macular edema: thickened retina, no pit, dark cystoid spaces
    2 drusen  small bright bumps of the RPE
    3 normal  thin, smooth layers and a clear foveal pit
Lesion severity is drawn per image and can be faint, and normal scans carry mild
irregularities, so the classes overlap: the task is learnable but not trivial.
Each split draws its classes in given proportions, by default OCTMNIST's: train
and validation imbalanced (normal 47 %, CNV 34 %, DME 10 %, drusen 8 %), test
balanced, so the rare classes are as scarce in training as in the real set.
"""

from collections.abc import Sequence

import numpy as np

from hw2.images.octmnist import CLASSES, SPLITS

SIZE = 28
CNV, DME, DRUSEN, NORMAL = range(len(CLASSES))

_Y, _X = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)


def _bump(center: float, width: float, x: np.ndarray = _X[0]) -> np.ndarray:
    return np.exp(-0.5 * ((x - center) / width) ** 2)


def _blob(cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    return np.exp(-0.5 * (((_Y - cy) / ry) ** 2 + ((_X - cx) / rx) ** 2))


def render(label: int, rng: np.random.Generator) -> np.ndarray:
    """One synthetic B-scan of the given class, uint8 (28, 28)."""
    x = _X[0]
    severity = rng.uniform(0.25, 1.0)
    # Retina geometry per column: inner surface, thickness, RPE line.
    top0 = rng.uniform(5.0, 11.0)
    tilt = rng.normal(0.0, 0.12)
    curve = rng.normal(0.006, 0.006)
    xc = rng.uniform(10.0, 18.0)
    top = top0 + tilt * (x - 14) + curve * (x - 14) ** 2
    thickness = rng.uniform(7.0, 9.5) + 0.0 * x
    pit_depth = rng.uniform(1.5, 3.5)
    rpe_offset = np.zeros(SIZE)

    if label == DME:
        thickness = thickness + severity * rng.uniform(1.5, 4.0) * _bump(xc, 6.0)
        pit_depth *= 1.0 - severity  # swelling fills the pit
    elif label == CNV:
        w = rng.uniform(2.5, 4.5)
        lift = severity * rng.uniform(2.0, 4.5) * _bump(xc, w)
        top = top - lift
        rpe_offset -= lift
    elif label == DRUSEN:
        for _ in range(rng.integers(1, 4)):
            rpe_offset -= (
                severity
                * rng.uniform(1.0, 2.5)
                * _bump(rng.uniform(4, 24), rng.uniform(0.8, 1.8))
            )
    else:  # normal retinas are not perfectly smooth either
        rpe_offset -= rng.uniform(0.0, 0.6) * _bump(rng.uniform(4, 24), 1.2)

    surface = top + pit_depth * _bump(xc, rng.uniform(2.0, 3.5))
    rpe = top + thickness + rpe_offset
    d = _Y - surface[None, :]  # depth below the inner surface
    r = _Y - rpe[None, :]  # depth below the RPE
    rel = d / np.maximum(rpe - surface, 1.0)[None, :]

    img = np.full((SIZE, SIZE), 0.06)
    inside = (d >= 0) & (r < 0)
    layers = (
        0.75 * np.exp(-0.5 * (d / 0.9) ** 2)  # nerve fibre layer
        + 0.35 * np.exp(-0.5 * ((rel - 0.35) / 0.12) ** 2)  # plexiform layers
        + 0.18
    )
    img = np.where(inside, layers, img)
    img += 1.0 * np.exp(-0.5 * (r / 0.8) ** 2)  # RPE
    img += np.where(r > 0, 0.45 * np.exp(-r / 3.0), 0.0)  # choroid

    if label == DME:
        for _ in range(rng.integers(1, 4)):
            cx = xc + rng.normal(0, 4)
            col = int(np.clip(round(cx), 0, SIZE - 1))
            cy = surface[col] + rng.uniform(0.35, 0.75) * (rpe[col] - surface[col])
            rad = rng.uniform(1.0, 2.2) * (0.5 + 0.5 * severity)
            img *= 1.0 - 0.85 * severity * _blob(cy, cx, rad, rad * rng.uniform(1, 1.6))
    elif label == CNV:
        col = int(np.clip(round(xc), 0, SIZE - 1))
        mass = _blob(rpe[col] + 0.5, xc + rng.normal(0, 1), 1.2, rng.uniform(2, 3.5))
        mass *= 1.0 + 0.5 * rng.standard_normal((SIZE, SIZE)).clip(-1, 1)  # irregular
        img += severity * 0.9 * mass
        fluid = _blob(rpe[col] - 1.8, xc, 0.9, rng.uniform(1.5, 3.0))
        img *= 1.0 - 0.7 * severity * rng.uniform(0.3, 1.0) * fluid
    elif label == DRUSEN:
        img += (
            severity * 0.4 * np.exp(-0.5 * ((r + 0.8) / 0.8) ** 2) * (rpe_offset < -0.3)
        )

    # Speckle (multiplicative, gamma-distributed as in coherent imaging), then noise.
    looks = rng.uniform(3.0, 8.0)
    img = img * rng.gamma(looks, 1.0 / looks, size=img.shape)
    img += rng.normal(0.0, 0.04, size=img.shape)
    gain = rng.uniform(150.0, 230.0)
    return np.clip(img * gain + rng.uniform(-8, 12), 0, 255).astype(np.uint8)


def class_counts(n: int, priors: Sequence[float] | None = None) -> list[int]:
    """n split into classes in proportion to priors (largest remainders; balanced
    when priors is None), so that a split's class counts are exact, not drawn."""
    k = len(CLASSES)
    p = np.full(k, 1 / k) if priors is None else np.asarray(priors, dtype=np.float64)
    raw = p * n
    counts = np.floor(raw).astype(int)
    # ties go to the lower class index, so equal priors give 0, 1, 2, ... first
    order = sorted(range(k), key=lambda c: (-(raw[c] - counts[c]), c))
    for c in order[: n - counts.sum()]:
        counts[c] += 1
    return counts.tolist()


def make_split(
    n: int, rng: np.random.Generator, priors: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """n images with class counts from class_counts(n, priors), shuffled.

    Returns images uint8 (n, 28, 28) and labels uint8 (n, 1), as OCTMNIST stores them.
    """
    labels = np.repeat(np.arange(len(CLASSES)), class_counts(n, priors))
    rng.shuffle(labels)
    images = (
        np.stack([render(int(c), rng) for c in labels])
        if n
        else np.zeros((0, SIZE, SIZE), np.uint8)
    )
    return images.astype(np.uint8), labels.astype(np.uint8).reshape(n, 1)


def make_dataset(
    n_train: int,
    n_val: int,
    n_test: int,
    seed: int,
    priors: dict[str, Sequence[float]] | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of an octmnist.npz: {train,val,test}_{images,labels}.

    priors: class proportions per split (default: balanced in every split).
    """
    out = {}
    # One child generator per split: a split's images don't depend on other sizes.
    children = np.random.SeedSequence(seed).spawn(3)
    for split, n, ss in zip(SPLITS, (n_train, n_val, n_test), children, strict=True):
        p = None if priors is None else priors[split]
        images, labels = make_split(n, np.random.default_rng(ss), p)
        out[f"{split}_images"] = images
        out[f"{split}_labels"] = labels
    return out
