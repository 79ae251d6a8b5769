"""Stage train_cnn: cnn.seeds networks trained together; curves logged with dvclive."""

import hw2.core.pin_cpu  # noqa: F401  (first: pins the CPU kernels before torch)

# isort: split

from hw2.core.errors import run_stage
from hw2.core.io import save_torch
from hw2.core.params import load_params
from hw2.oct.data import load_octmnist
from hw2.oct.train import CNNTrainConfig, checkpoint, train_cnn_runs

DATA = "data/images/octmnist.npz"
MODEL = "data/models/cnn.pt"
LIVE_DIR = "metrics/train_cnn"


def main() -> None:
    config = CNNTrainConfig.from_params(load_params())
    data = load_octmnist(DATA)
    runs = train_cnn_runs(config, data, live_dir=LIVE_DIR)
    save_torch(MODEL, checkpoint(runs, config))


if __name__ == "__main__":
    run_stage(main)
