import hashlib

import numpy as np
import pytest

from hw2.core.errors import DataError, ParamError
from hw2.core.params import Params
from hw2.oct.data import ImageDataConfig, load_octmnist, prepare_images
from hw2.oct.phantoms import make_dataset


def save(path, arrays):
    np.savez(path, **arrays)
    return path


@pytest.fixture
def arrays():
    return make_dataset(8, 4, 4, seed=0)


def test_round_trip(tmp_path, arrays):
    data = load_octmnist(save(tmp_path / "o.npz", arrays))
    assert data["train"][0].shape == (8, 28, 28)
    assert data["val"][1].dtype == np.int64 and data["val"][1].shape == (4,)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.pop("val_labels"), "missing key 'val_labels'"),
        (
            lambda a: a.update(train_images=a["train_images"].astype(np.float32)),
            "'train_images' has dtype float32, expected uint8",
        ),
        (
            lambda a: a.update(test_images=a["test_images"][:, :27]),
            r"'test_images' has shape \(4, 27, 28\), expected \(N, 28, 28\)",
        ),
        (
            lambda a: a.update(train_labels=a["train_labels"][:5]),
            r"'train_labels' has shape \(5, 1\), expected \(8, 1\)",
        ),
        (
            lambda a: a.update(val_labels=np.full((4, 1), 7, np.uint8)),
            r"'val_labels'\[0\] = 7 is outside 0..3",
        ),
        (
            lambda a: a.update(
                val_labels=np.array([[1], [2], ["x"], [0]], dtype=object)
            ),
            "'val_labels' cannot be loaded",
        ),
    ],
)
def test_malformed_files_are_refused_with_the_reason(tmp_path, arrays, change, message):
    change(arrays)
    path = save(tmp_path / "bad.npz", arrays)
    with pytest.raises(DataError, match=message) as exc:
        load_octmnist(path)
    assert "bad.npz" in str(exc.value)


def test_not_an_npz(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(DataError, match="junk.npz: not a readable npz"):
        load_octmnist(path)
    with pytest.raises(DataError, match="file not found"):
        load_octmnist(tmp_path / "none.npz")


def params(**images):
    sample = {"n_train": 8, "n_val": 4, "n_test": 4, "seed": 0}
    return Params(
        {
            "data": {
                "images": {
                    "source": images.pop("source", "sample"),
                    "url": "https://example.org/o.npz",
                    "md5": "0" * 32,
                    "sample": sample,
                    **images,
                },
            }
        }
    )


def test_config_validation():
    assert ImageDataConfig.from_params(params()).n_train == 8
    with pytest.raises(
        ParamError, match="data.images.source must be one of sample | full"
    ):
        ImageDataConfig.from_params(params(source="foo"))
    p = params()
    p.data["data"]["images"]["sample"]["n_val"] = 0
    with pytest.raises(ParamError, match="data.images.sample.n_val must be an integer"):
        ImageDataConfig.from_params(p)
    del p.data["data"]["images"]["md5"]
    with pytest.raises(ParamError, match="missing key 'data.images.md5'"):
        ImageDataConfig.from_params(p)


def test_prepare_sample_writes_a_valid_file(tmp_path):
    dest = prepare_images(ImageDataConfig.from_params(params()), tmp_path / "o.npz")
    assert load_octmnist(dest)["test"][0].shape == (4, 28, 28)


def test_prepare_full_downloads_and_checks(tmp_path, http_server, arrays):
    served = save(http_server.root / "octmnist.npz", arrays)
    digest = hashlib.md5(served.read_bytes()).hexdigest()
    config = ImageDataConfig.from_params(
        params(source="full", url=http_server.url("octmnist.npz"), md5=digest)
    )
    dest = prepare_images(config, tmp_path / "o.npz")
    assert dest.read_bytes() == served.read_bytes()
    bad = ImageDataConfig.from_params(
        params(source="full", url=http_server.url("octmnist.npz"), md5="f" * 32)
    )
    with pytest.raises(DataError, match="checksum mismatch"):
        prepare_images(bad, tmp_path / "other.npz")
    assert not (tmp_path / "other.npz").exists()
