"""Stage train_cnn: SGD on OCTMNIST, curves logged per epoch with dvclive."""

from dvclive import Live

from hw2.errors import run_stage
from hw2.io import save_torch
from hw2.octmnist import load_octmnist
from hw2.params import load_params
from hw2.training import CNNTrainConfig, checkpoint, train_cnn

DATA = "data/images/octmnist.npz"
MODEL = "data/models/cnn.pt"
LIVE_DIR = "metrics/train_cnn"


def main() -> None:
    config = CNNTrainConfig.from_params(load_params())
    data = load_octmnist(DATA)
    # dvcyaml=None: dvc.yaml declares these plots itself; save_dvc_exp=False: the
    # stage runs inside `dvc repro` / `dvc exp run`, which record the experiment.
    with Live(LIVE_DIR, dvcyaml=None, save_dvc_exp=False) as live:
        def log_epoch(epoch: int, loss: float, val_acc: float) -> None:
            live.log_metric("train/loss", loss)
            live.log_metric("val/acc", val_acc)
            live.next_step()

        model, history = train_cnn(config, data, log_epoch)
    save_torch(MODEL, checkpoint(model, config, history))


if __name__ == "__main__":
    run_stage(main)
