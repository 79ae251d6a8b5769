import numpy as np

from hw2.images import phantoms
from hw2.images.octmnist import OCTMNIST_COUNTS

# OCTMNIST's class proportions per split
OCTMNIST_PRIORS = {
    split: tuple(c / sum(counts) for c in counts)
    for split, counts in OCTMNIST_COUNTS.items()
}


def test_dataset_has_octmnist_format():
    d = phantoms.make_dataset(10, 6, 5, seed=0)
    assert sorted(d) == sorted(
        f"{s}_{k}" for s in ("train", "val", "test") for k in ("images", "labels")
    )
    for split, n in (("train", 10), ("val", 6), ("test", 5)):
        assert d[f"{split}_images"].shape == (n, 28, 28)
        assert d[f"{split}_images"].dtype == np.uint8
        assert d[f"{split}_labels"].shape == (n, 1)
        assert d[f"{split}_labels"].dtype == np.uint8


def test_deterministic_for_a_seed_and_varies_with_it():
    a = phantoms.make_dataset(8, 4, 4, seed=3)
    b = phantoms.make_dataset(8, 4, 4, seed=3)
    c = phantoms.make_dataset(8, 4, 4, seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["train_images"], c["train_images"])
    # a split's content does not depend on the other splits' sizes
    d = phantoms.make_dataset(8, 40, 4, seed=3)
    assert np.array_equal(a["train_images"], d["train_images"])


def test_classes_are_balanced_without_priors():
    _, labels = phantoms.make_split(402, np.random.default_rng(0))
    counts = np.bincount(labels.ravel(), minlength=4)
    assert counts.max() - counts.min() <= 1


def test_class_counts_follow_the_priors_exactly():
    train = OCTMNIST_PRIORS["train"]
    assert phantoms.class_counts(97_477, train) == [33_484, 10_213, 7_754, 46_026]
    assert phantoms.class_counts(1000, OCTMNIST_PRIORS["test"]) == [250] * 4
    assert sum(phantoms.class_counts(7, train)) == 7
    d = phantoms.make_dataset(1000, 200, 100, seed=0, priors=OCTMNIST_PRIORS)
    counts = np.bincount(d["train_labels"].ravel(), minlength=4)
    assert counts.tolist() == phantoms.class_counts(1000, train) == [343, 105, 80, 472]
    assert np.bincount(d["test_labels"].ravel()).tolist() == [25] * 4
    assert d["train_labels"][:20].ravel().tolist() != sorted(d["train_labels"][:20])


def test_images_use_the_grey_range_and_differ():
    images, _ = phantoms.make_split(40, np.random.default_rng(1))
    assert images.min() < 30 and images.max() > 200  # dark vitreous, bright RPE
    assert len({im.tobytes() for im in images}) == 40


def test_classes_are_learnable_but_not_trivial():
    """A nearest-centroid classifier beats chance clearly but is far from perfect."""
    rng = np.random.default_rng(0)
    xt, yt = phantoms.make_split(800, rng)
    xv, yv = phantoms.make_split(400, rng)
    xt, xv = xt.reshape(len(xt), -1) / 255.0, xv.reshape(len(xv), -1) / 255.0
    centroids = np.stack([xt[yt.ravel() == c].mean(0) for c in range(4)])
    pred = ((xv[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
    acc = (pred == yv.ravel()).mean()
    assert 0.3 < acc < 0.9
