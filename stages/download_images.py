"""Stage download_images: octmnist.npz, generated (sample) or downloaded (full), the
images per class in each split (a metrics file) and a grid of training images per
class (a PNG)."""

import shutil

from hw2.core.cli import stage_paths
from hw2.core.io import write_json
from hw2.core.stage import Checked, run_stage
from hw2.images.octmnist import class_counts, load_octmnist
from hw2.images.prepare import class_grid, prepare_images


def main(checked: Checked) -> None:
    args = stage_paths(__doc__, "out", "metrics", "samples")
    config = checked.config
    if checked.download is not None:
        # fetched and verified before DVC deleted anything (preflight, or the
        # stage's own check): only moved into place here
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(checked.download, args.out)
    path = prepare_images(config, args.out)
    data = load_octmnist(path)
    counts = class_counts(data)
    write_json(args.metrics, {"class_counts": counts})
    class_grid(data, args.samples)
    sizes = {split: sum(c.values()) for split, c in counts.items()}
    print(f"{path} ({config.source}): {sizes}")


if __name__ == "__main__":
    run_stage(main)
