"""Stage evaluate_cnn: metrics/cnn.json and the test confusion matrix."""

import json

from hw2.core.device import DEVICES, pick_device
from hw2.core.errors import DataError, run_stage
from hw2.core.io import write_json, write_text
from hw2.core.params import load_params
from hw2.oct.data import load_octmnist
from hw2.oct.model import count_parameters
from hw2.oct.train import evaluate_cnn, load_models

DATA = "data/images/octmnist.npz"
MODEL = "data/models/cnn.pt"
TRAIN_SUMMARY = "metrics/train_cnn/metrics.json"
METRICS = "metrics/cnn.json"
CONFUSION = "metrics/cnn_confusion.csv"


def main() -> None:
    device = pick_device(load_params().choice("device", DEVICES))
    data = load_octmnist(DATA)
    models = [model for _, model in load_models(MODEL, device)]
    try:
        with open(TRAIN_SUMMARY) as f:
            train_loss = json.load(f)["train"]["loss"]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{TRAIN_SUMMARY}: no final training loss ({exc})") from None
    metrics, confusion_csv = evaluate_cnn(models, data, device)
    metrics = {
        **metrics,
        "train_loss": train_loss,
        "n_params": count_parameters(models[0]),
    }
    write_json(METRICS, metrics)
    write_text(CONFUSION, confusion_csv)
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    run_stage(main)
