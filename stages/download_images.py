"""Stage download_images: octmnist.npz, generated (sample) or downloaded (full), the
images per class in each split (a metrics file) and a grid of training images per
class (a PNG)."""

from hw2.core.cli import stage_paths
from hw2.core.errors import run_stage
from hw2.core.io import write_json
from hw2.core.params import load_params
from hw2.images.octmnist import class_counts, load_octmnist
from hw2.images.prepare import ImageDataConfig, class_grid, prepare_images


def main() -> None:
    args = stage_paths(__doc__, "out", "metrics", "samples")
    config = ImageDataConfig.from_params(load_params())
    path = prepare_images(config, args.out)
    data = load_octmnist(path)
    counts = class_counts(data)
    write_json(args.metrics, {"class_counts": counts})
    class_grid(data, args.samples)
    sizes = {split: sum(c.values()) for split, c in counts.items()}
    print(f"{path} ({config.source}): {sizes}")


if __name__ == "__main__":
    run_stage(main)
