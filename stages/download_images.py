"""Stage download_images: octmnist.npz, generated (sample) or downloaded (full)."""

from hw2.core.cli import stage_paths
from hw2.core.errors import run_stage
from hw2.core.params import load_params
from hw2.oct.data import ImageDataConfig, load_octmnist, prepare_images


def main() -> None:
    args = stage_paths(__doc__, "out")
    config = ImageDataConfig.from_params(load_params())
    path = prepare_images(config, args.out)
    sizes = {split: len(x) for split, (x, _) in load_octmnist(path).items()}
    print(f"{path} ({config.source}): {sizes}")


if __name__ == "__main__":
    run_stage(main)
