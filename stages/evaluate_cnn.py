"""Stage evaluate_cnn: the CNN's test metrics, their details, its confusion matrix."""

import hw2.core.pin_cpu  # noqa: F401  (first: pins the CPU kernels before torch)

# isort: split

import hw2.core.device  # noqa: F401  (its check picks the device there: a dep)
from hw2.core.cli import stage_paths
from hw2.core.io import write_json, write_text
from hw2.core.metrics import split_metrics
from hw2.core.stage import Checked, run_stage
from hw2.images.octmnist import load_octmnist
from hw2.oct import metric_keys as names
from hw2.oct.checkpoint import load_runs
from hw2.oct.evaluate import evaluate_cnn


def main(checked: Checked) -> None:
    args = stage_paths(__doc__, "data", "model", "metrics", "details", "confusion")
    device = checked.device
    data = load_octmnist(args.data)
    results, confusion_csv = evaluate_cnn(load_runs(args.model, device), data, device)
    metrics, details = split_metrics(results, names.METRICS)
    write_json(args.metrics, metrics)
    write_json(args.details, details)
    write_text(args.confusion, confusion_csv)
    low, high = metrics[names.TEST_ACC_CI95]
    print(
        f"evaluate_cnn: test accuracy {metrics[names.TEST_ACC]:.4f} "
        f"(95% interval {low:.4f}-{high:.4f}), validation "
        f"{metrics[names.VAL_ACC]:.4f}, mean of {details[names.SEEDS]} seeds"
    )


if __name__ == "__main__":
    run_stage(main)
