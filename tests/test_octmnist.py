import hashlib

import numpy as np
import pytest

from hw2.core.errors import DataError, ParamError
from hw2.core.params import Params
from hw2.images.octmnist import load_octmnist
from hw2.images.phantoms import make_dataset
from hw2.images.prepare import ImageDataConfig, prepare_images


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


PRIORS = {
    "train": [0.344, 0.105, 0.079, 0.472],
    "val": [0.344, 0.105, 0.080, 0.471],
    "test": [0.25] * 4,
}


def params(**images):
    priors = {k: list(v) for k, v in PRIORS.items()}
    sample = {"n_train": 8, "n_val": 4, "n_test": 4, "seed": 0, "priors": priors}
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
    p = params().override({"data.images.sample.n_val": 0})
    with pytest.raises(ParamError, match="data.images.sample.n_val must be an integer"):
        ImageDataConfig.from_params(p)
    p = params().override({}, remove=["data.images.md5"])
    with pytest.raises(ParamError, match="missing key 'data.images.md5'"):
        ImageDataConfig.from_params(p)


@pytest.mark.parametrize(
    "key, value",
    [
        ("n_train", 0),
        ("n_test", -3),
        ("priors.val", [0.5, 0.5, 0.5, 0.5]),
        ("priors.train", [0.5, 0.5]),
        ("priors.test", [1.2, -0.2, 0, 0]),
        ("priors.test", "balanced"),
    ],
)
def test_bad_sizes_and_priors_name_the_key(key, value):
    p = params().override({f"data.images.sample.{key}": value})
    with pytest.raises(ParamError, match=f"data.images.sample.{key} must be"):
        ImageDataConfig.from_params(p)


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_an_empty_split_is_refused_naming_it(tmp_path, arrays, split):
    arrays[f"{split}_images"] = arrays[f"{split}_images"][:0]
    arrays[f"{split}_labels"] = arrays[f"{split}_labels"][:0]
    path = save(tmp_path / "e.npz", arrays)
    with pytest.raises(DataError, match=f"the {split} split is empty .* 0 images"):
        load_octmnist(path)


def _corrupt(path, member, offset):
    """Flip one byte inside the stored data of an npz member."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    raw = bytearray(path.read_bytes())
    # local header: 30 bytes + name + extra, then the (compressed) data
    name_len = int.from_bytes(
        raw[info.header_offset + 26 : info.header_offset + 28], "little"
    )
    extra_len = int.from_bytes(
        raw[info.header_offset + 28 : info.header_offset + 30], "little"
    )
    start = info.header_offset + 30 + name_len + extra_len
    raw[start + offset] ^= 0xFF
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("compressed", [False, True])
def test_a_corrupted_member_is_a_data_error(tmp_path, arrays, compressed):
    path = tmp_path / "c.npz"
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    _corrupt(path, "train_images.npy", 40 if compressed else 200)
    with pytest.raises(DataError, match="'train_images' is corrupted"):
        load_octmnist(path)


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


def _run_download_images(tmp_path, **sample):
    import json

    import yaml
    from helpers import ROOT, run_stage

    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p["data"]["images"]["sample"].update(sample)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    proc = run_stage("download_images", tmp_path)
    metrics = tmp_path / "metrics" / "images.json"
    return proc, json.loads(metrics.read_text()) if metrics.exists() else None


@pytest.mark.slow
def test_download_images_writes_class_counts_per_split(tmp_path):
    proc, metrics = _run_download_images(tmp_path, n_train=40, n_val=20, n_test=8)
    assert proc.returncode == 0, proc.stderr
    assert metrics["class_counts"] == {
        "train": {"CNV": 14, "DME": 4, "drusen": 3, "normal": 19},
        "val": {"CNV": 7, "DME": 2, "drusen": 2, "normal": 9},
        "test": {"CNV": 2, "DME": 2, "drusen": 2, "normal": 2},
    }
    png = (tmp_path / "metrics/images_samples.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_download_images_refuses_bad_priors_in_one_line(tmp_path):
    proc, metrics = _run_download_images(tmp_path, priors={"train": [1, 1, 1, 1]})
    assert proc.returncode == 2 and metrics is None
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: params.yaml: data.images.sample.priors.train must")


def test_class_grid_shows_each_class_in_a_row_named(tmp_path, arrays):
    from PIL import Image

    from hw2.images.prepare import GRID_GAP, GRID_LABEL_WIDTH, GRID_SCALE, class_grid

    data = load_octmnist(save(tmp_path / "o.npz", arrays))
    path = class_grid(data, tmp_path / "grid.png", per_class=3)
    grid = np.asarray(Image.open(path).convert("L"))
    tile = 28 * GRID_SCALE + GRID_GAP  # enlarged tiles, gaps between
    assert grid.shape == (GRID_GAP + 4 * tile, GRID_LABEL_WIDTH + 3 * tile + GRID_GAP)
    images, labels = data["train"]
    first_dme = images[labels == 1][0]
    top, left = GRID_GAP + tile, GRID_LABEL_WIDTH  # row 1 (DME), column 0
    shown = grid[top : top + 28 * GRID_SCALE, left : left + 28 * GRID_SCALE]
    assert np.array_equal(shown[::GRID_SCALE, ::GRID_SCALE], first_dme)
    assert np.array_equal(shown, np.kron(first_dme, np.ones((GRID_SCALE,) * 2)))
    for row in range(4):  # a class name (dark text) left of every row
        label = grid[GRID_GAP + row * tile : (row + 1) * tile, :GRID_LABEL_WIDTH]
        assert label.min() < 100 and label.max() == 255
    assert class_grid(data, tmp_path / "again.png", per_class=3).read_bytes() == (
        path.read_bytes()
    )
