"""Stage download_images: data/images/octmnist.npz (generated or downloaded) and
metrics/images.json, the images per class in each split."""

from hw2.core.errors import run_stage
from hw2.core.io import write_json
from hw2.core.params import load_params
from hw2.oct.data import ImageDataConfig, class_counts, load_octmnist, prepare_images

OUT = "data/images/octmnist.npz"
METRICS = "metrics/images.json"


def main() -> None:
    config = ImageDataConfig.from_params(load_params())
    path = prepare_images(config, OUT)
    counts = class_counts(load_octmnist(path))
    write_json(METRICS, {"class_counts": counts})
    sizes = {split: sum(c.values()) for split, c in counts.items()}
    print(f"{path} ({config.source}): {sizes}")


if __name__ == "__main__":
    run_stage(main)
