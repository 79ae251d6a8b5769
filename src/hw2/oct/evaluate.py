"""Evaluating trained CNNs: accuracies over seeds, a confidence interval, confusions."""

import numpy as np
import torch
from torch import Tensor

from hw2.core.device import one_cpu_thread
from hw2.core.stats import bootstrap_ci_over_runs, fraction_equal, mean_std
from hw2.images.octmnist import CLASSES
from hw2.oct import metric_keys as keys
from hw2.oct.checkpoint import Run
from hw2.oct.model import OCTNet, labels_tensor, to_tensor

CI_LEVEL = 0.95
CI_RESAMPLES = 2000
CI_SEED = 0  # the interval is a pure function of the predictions


@torch.no_grad()
def predict(model: OCTNet, x: Tensor, batch_size: int = 1024) -> Tensor:
    """Predicted classes (N,) for images x (N, 1, 28, 28), in eval mode."""
    model.eval()
    out = [
        model(x[i : i + batch_size]).argmax(-1) for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out)


def confusion_matrix(y_true: Tensor, y_pred: Tensor, n_classes: int) -> np.ndarray:
    """counts[i, j] = images of class i predicted as j."""
    idx = (y_true * n_classes + y_pred).cpu().numpy()
    return np.bincount(idx, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def evaluate_cnn(
    runs: list[Run],
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    device: torch.device,
) -> tuple[dict, str]:
    """metrics/cnn.json and the test predictions as CSV rows (actual, predicted).

    Accuracies are means over the seeds with their per-seed values; the
    test accuracy's 95 % interval resamples both the test images and the seeds
    (hw2.core.stats.bootstrap_ci_over_runs), so it covers what another test draw
    and another set of seeds could give. The confusion rows hold every seed's
    predictions.
    """
    x_val, y_val = to_tensor(data["val"][0]).to(device), labels_tensor(data["val"][1])
    x_test = to_tensor(data["test"][0]).to(device)
    y_test = labels_tensor(data["test"][1])
    # One thread, as in training: no OMP_NUM_THREADS can flip a near-tie's argmax.
    with one_cpu_thread(device):
        val_preds = [predict(r.model, x_val).cpu() for r in runs]
        test_preds = [predict(r.model, x_test).cpu() for r in runs]
    per_seed = {
        keys.VAL_ACC: [fraction_equal(p, y_val) for p in val_preds],
        keys.TEST_ACC: [fraction_equal(p, y_test) for p in test_preds],
        keys.TRAIN_LOSS: [r.history[-1]["train_loss"] for r in runs],
    }
    metrics: dict = {}
    for key, values in per_seed.items():  # the spread is the per-seed values' std
        metrics[key] = mean_std(values)[0]
        metrics[keys.per_seed_key(key)] = values
    # Every seed sees the same images, so the mean accuracy is the share of correct
    # predictions over all of them: an exact ratio of counts (0.7296, not 0.72959..).
    for key, preds, y in (
        (keys.VAL_ACC, val_preds, y_val),
        (keys.TEST_ACC, test_preds, y_test),
    ):
        metrics[key] = fraction_equal(torch.cat(preds), y.repeat(len(runs)))
    correct = np.stack([(p == y_test).numpy() for p in test_preds]).astype(float)
    metrics[keys.TEST_ACC_CI95] = list(
        bootstrap_ci_over_runs(
            correct, n_boot=CI_RESAMPLES, level=CI_LEVEL, seed=CI_SEED
        )
    )
    counts = sum(confusion_matrix(y_test, p, len(CLASSES)) for p in test_preds)
    metrics[keys.TEST_ACC_PER_CLASS] = {
        name: int(counts[i, i]) / int(counts[i].sum()) if counts[i].sum() else None
        for i, name in enumerate(CLASSES)
    }
    metrics[keys.SEEDS] = len(runs)
    metrics[keys.N_PARAMS] = runs[0].model.n_params()
    rows = ["actual,predicted"] + [
        f"{CLASSES[a]},{CLASSES[p]}"
        for pred in test_preds
        for a, p in zip(y_test.tolist(), pred.tolist(), strict=True)
    ]
    return metrics, "\n".join(rows) + "\n"
