"""Stage train_cnn: SGD on OCTMNIST, curves logged per epoch with dvclive."""

from dvclive import Live

from hw2.core.cli import stage_paths
from hw2.core.errors import run_stage
from hw2.core.io import save_torch
from hw2.core.params import load_params
from hw2.oct.data import load_octmnist
from hw2.oct.train import CNNTrainConfig, checkpoint, epoch_summary, train_cnn_runs


def main() -> None:
    args = stage_paths(__doc__, "data", "model", "live")
    config = CNNTrainConfig.from_params(load_params())
    data = load_octmnist(args.data)
    runs = train_cnn_runs(config, data)
    # dvcyaml=None: dvc.yaml declares these plots itself; save_dvc_exp=False: the
    # stage runs inside `dvc repro` / `dvc exp run`, which record the experiment.
    with Live(str(args.live), dvcyaml=None, save_dvc_exp=False) as live:
        for row in epoch_summary(runs):  # means over seeds (one seed: the run)
            live.log_metric("train/loss", row["train_loss"])
            live.log_metric("val/acc", row["val_acc"])
            if "val_acc_std" in row:
                live.log_metric("train/loss_std", row["train_loss_std"])
                live.log_metric("val/acc_std", row["val_acc_std"])
            live.next_step()
    save_torch(args.model, checkpoint(runs, config))


if __name__ == "__main__":
    run_stage(main)
