"""Stage download_images: octmnist.npz, generated (sample) or downloaded (full), and
the images per class in each split (a metrics file)."""

from hw2.core.cli import stage_paths
from hw2.core.errors import run_stage
from hw2.core.io import write_json
from hw2.core.params import load_params
from hw2.oct.data import ImageDataConfig, class_counts, load_octmnist, prepare_images


def main() -> None:
    args = stage_paths(__doc__, "out", "metrics")
    config = ImageDataConfig.from_params(load_params())
    path = prepare_images(config, args.out)
    counts = class_counts(load_octmnist(path))
    write_json(args.metrics, {"class_counts": counts})
    sizes = {split: sum(c.values()) for split, c in counts.items()}
    print(f"{path} ({config.source}): {sizes}")


if __name__ == "__main__":
    run_stage(main)
