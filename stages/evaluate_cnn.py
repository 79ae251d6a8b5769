"""Stage evaluate_cnn: test metrics of the CNN and its confusion matrix."""

import hw2.core.pin_cpu  # noqa: F401  (first: pins the CPU kernels before torch)

# isort: split

import json

from hw2.core.cli import stage_paths
from hw2.core.device import DEVICES, pick_device
from hw2.core.errors import run_stage
from hw2.core.io import write_json, write_text
from hw2.core.params import load_params
from hw2.oct.checkpoint import load_runs
from hw2.oct.evaluate import evaluate_cnn
from hw2.oct.octmnist import load_octmnist


def main() -> None:
    args = stage_paths(__doc__, "data", "model", "metrics", "confusion")
    device = pick_device(load_params().choice("device", DEVICES))
    data = load_octmnist(args.data)
    metrics, confusion_csv = evaluate_cnn(load_runs(args.model, device), data, device)
    write_json(args.metrics, metrics)
    write_text(args.confusion, confusion_csv)
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    run_stage(main)
