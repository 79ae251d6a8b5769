"""Stage train_cnn: cnn.seeds networks trained together; curves logged with dvclive."""

import hw2.core.pin_cpu  # noqa: F401  (first: pins the CPU kernels before torch)

# isort: split

from hw2.core.cli import stage_paths
from hw2.core.stage import Checked, run_stage
from hw2.images.octmnist import load_octmnist
from hw2.oct.checkpoint import save_runs
from hw2.oct.train import train_cnn_runs


def main(checked: Checked) -> None:
    args = stage_paths(__doc__, "data", "model", "live")
    config = checked.config
    data = load_octmnist(args.data)
    runs = train_cnn_runs(config, data, live_dir=args.live)
    save_runs(args.model, runs, config)


if __name__ == "__main__":
    run_stage(main)
