"""Stage evaluate_cnn: test metrics of the CNN and its confusion matrix."""

import json

from hw2.core.cli import stage_paths
from hw2.core.device import DEVICES, pick_device
from hw2.core.errors import DataError, run_stage
from hw2.core.io import write_json, write_text
from hw2.core.params import load_params
from hw2.oct.data import load_octmnist
from hw2.oct.model import count_parameters
from hw2.oct.train import evaluate_cnn, load_models


def main() -> None:
    args = stage_paths(
        __doc__, "data", "model", "train-summary", "metrics", "confusion"
    )
    device = pick_device(load_params().choice("device", DEVICES))
    data = load_octmnist(args.data)
    models = [model for _, model in load_models(args.model, device)]
    try:
        with open(args.train_summary) as f:
            train_loss = json.load(f)["train"]["loss"]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(
            f"{args.train_summary}: no final training loss ({exc})"
        ) from None
    metrics, confusion_csv = evaluate_cnn(models, data, device)
    metrics = {
        **metrics,
        "train_loss": train_loss,
        "n_params": count_parameters(models[0]),
    }
    write_json(args.metrics, metrics)
    write_text(args.confusion, confusion_csv)
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    run_stage(main)
