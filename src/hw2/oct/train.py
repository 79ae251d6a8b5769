"""Training and evaluating the OCT CNN: SGD, batch 8, NLL loss, per-epoch logging."""

import math
import pickle
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F
from tqdm import tqdm

from hw2.core.device import DEVICES, cpu_threads, pick_device, seed_everything
from hw2.core.errors import Hw2Error
from hw2.core.params import Params
from hw2.oct.model import CNNDimensions, OCTNet


class TrainingDiverged(Hw2Error):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class CNNTrainConfig:
    """The CNN study's recipe: SGD at `lr`, batch 8, 15 epochs, seed 42."""

    lr: float = 0.01
    maxpool: bool = True
    batch_size: int = 8
    epochs: int = 15
    seed: int = 42
    seeds: int = 1  # independent runs with seeds seed, seed+1, ...
    device: str = "auto"

    @classmethod
    def from_params(cls, p: Params) -> "CNNTrainConfig":
        return cls(
            lr=p.number("lr", low=0, low_open=True, high=10),
            maxpool=p.boolean("cnn.maxpool"),
            batch_size=p.integer("cnn.batch_size", low=1),
            epochs=p.integer("cnn.epochs", low=1),
            seed=p.integer("cnn.seed", low=0),
            seeds=p.integer("cnn.seeds", low=1),
            device=p.choice("device", DEVICES),
        )


def to_tensor(images: np.ndarray) -> Tensor:
    """uint8 (N, 28, 28) → float32 (N, 1, 28, 28) in [-1, 1].

    The same as torchvision's ToTensor then Normalize(0.5, 0.5).
    """
    x = torch.from_numpy(np.ascontiguousarray(images)).float().unsqueeze(1)
    return x.div_(127.5).sub_(1.0)


def iterate_batches(n: int, batch_size: int, generator: torch.Generator | None):
    """Index tensors of one epoch, shuffled when a generator is given."""
    order = torch.randperm(n, generator=generator) if generator is not None else None
    for start in range(0, n, batch_size):
        if order is None:
            yield slice(start, min(start + batch_size, n))
        else:
            yield order[start : start + batch_size]


def train_epoch(
    model: OCTNet,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    batch_size: int,
    generator: torch.Generator,
    progress: tqdm | None = None,
) -> float:
    """One pass over (x, y) held in memory; returns the mean training loss.

    Batches are gathered by index from the preloaded tensors: at batch 8 a step
    takes a few milliseconds, so a DataLoader's per-sample fetch and collate is a
    visible share of it.
    """
    model.train()
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for idx in iterate_batches(len(x), batch_size, generator):
        xb, yb = x[idx], y[idx]
        loss = F.nll_loss(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(yb)
        if progress is not None:
            progress.update(1)
    mean = float(total) / len(x)
    if not math.isfinite(mean):
        raise TrainingDiverged(
            f"training loss became {mean}: lower the learning rate (lr)"
        )
    return mean


@torch.no_grad()
def predict(model: OCTNet, x: Tensor, batch_size: int = 1024) -> Tensor:
    """Predicted classes (N,) for images x (N, 1, 28, 28), in eval mode."""
    model.eval()
    out = [
        model(x[i : i + batch_size]).argmax(-1) for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def accuracy(model: OCTNet, x: Tensor, y: Tensor) -> float:
    """Fraction of correctly classified images."""
    return fraction_equal(predict(model, x), y)


def fraction_equal(a: Tensor, b: Tensor) -> float:
    """Share of equal entries, as an exact ratio of counts (0.815, not 0.81499)."""
    return int((a == b).sum()) / len(a) if len(a) else float("nan")


def train_cnn(
    config: CNNTrainConfig,
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    log_epoch: Callable[[int, float, float], None] | None = None,
    progress: bool = True,
) -> tuple[OCTNet, list[dict[str, float]]]:
    """Train on data["train"], validating on data["val"] after every epoch.

    log_epoch(epoch, train_loss, val_acc) is called after each epoch (dvclive).
    Returns the model and the per-epoch history.
    """
    device = pick_device(config.device)
    seed_everything(config.seed)
    x_train, y_train = (
        to_tensor(data["train"][0]).to(device),
        torch.from_numpy(data["train"][1]).to(device),
    )
    x_val, y_val = (
        to_tensor(data["val"][0]).to(device),
        torch.from_numpy(data["val"][1]).to(device),
    )
    model = OCTNet(CNNDimensions(maxpool=config.maxpool)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    steps = math.ceil(len(x_train) / config.batch_size)
    history = []
    threads = cpu_threads(1) if device.type == "cpu" else nullcontext()
    with (
        threads,
        tqdm(
            total=steps * config.epochs,
            desc="train_cnn",
            unit="step",
            disable=not progress,
        ) as bar,
    ):
        for epoch in range(config.epochs):
            bar.set_postfix(epoch=f"{epoch + 1}/{config.epochs}")
            loss = train_epoch(
                model, optimizer, x_train, y_train, config.batch_size, generator, bar
            )
            val_acc = accuracy(model, x_val, y_val)
            history.append({"epoch": epoch + 1, "train_loss": loss, "val_acc": val_acc})
            bar.write(
                f"epoch {epoch + 1}: train loss {loss:.4f}, val acc {val_acc:.4f}"
            )
            if log_epoch is not None:
                log_epoch(epoch, loss, val_acc)
    return model, history


@dataclass
class Run:
    """One trained network of a (possibly multi-seed) training."""

    seed: int
    model: OCTNet
    history: list[dict[str, float]]


def train_cnn_runs(
    config: CNNTrainConfig,
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    progress: bool = True,
) -> list[Run]:
    """config.seeds independent trainings (seeds seed, seed+1, ...), one after another.

    One learning-rate comparison on one draw can be decided by the draw; several
    seeds give a mean and a spread.
    """
    runs = []
    for i in range(config.seeds):
        run_config = replace(config, seed=config.seed + i, seeds=1)
        model, history = train_cnn(run_config, data, progress=progress)
        runs.append(Run(run_config.seed, model, history))
    return runs


def epoch_summary(runs: list[Run]) -> list[dict[str, float]]:
    """Per epoch: the mean (and, over several seeds, the std) of loss and accuracy."""
    out = []
    for rows in zip(*(r.history for r in runs), strict=True):
        entry: dict[str, float] = {"epoch": rows[0]["epoch"]}
        for key in ("train_loss", "val_acc"):
            values = np.array([row[key] for row in rows])
            entry[key] = float(values.mean())
            if len(values) > 1:
                entry[f"{key}_std"] = float(values.std(ddof=1))
        out.append(entry)
    return out


def checkpoint(runs: list[Run], config: CNNTrainConfig) -> dict:
    """What train_cnn saves: the dims to rebuild, the recipe, each run's weights."""
    return {
        "dims": asdict(runs[0].model.dims),
        "config": asdict(config),
        "runs": [
            {
                "seed": r.seed,
                "model_state_dict": {
                    k: v.cpu() for k, v in r.model.state_dict().items()
                },
                "history": r.history,
            }
            for r in runs
        ],
    }


def load_models(path, device: torch.device) -> list[tuple[int, OCTNet]]:
    """Rebuild the CNNs of a train_cnn checkpoint: [(seed, model)] (weights only)."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
        out = []
        for run in ckpt["runs"]:
            model = OCTNet(CNNDimensions(**ckpt["dims"]))
            model.load_state_dict(run["model_state_dict"])
            out.append((int(run["seed"]), model.to(device).eval()))
    except FileNotFoundError:
        raise Hw2Error(f"{path}: file not found (run train_cnn)") from None
    except (
        OSError,
        RuntimeError,
        KeyError,
        TypeError,
        EOFError,
        pickle.UnpicklingError,
    ) as exc:
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        raise Hw2Error(
            f"{path}: not a CNN checkpoint ({type(exc).__name__}: {reason})"
        ) from None
    return out


def confusion_matrix(y_true: Tensor, y_pred: Tensor, n_classes: int) -> np.ndarray:
    """counts[i, j] = images of class i predicted as j."""
    idx = (y_true * n_classes + y_pred).cpu().numpy()
    return np.bincount(idx, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def evaluate_cnn(
    models: list[OCTNet],
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    device: torch.device,
) -> tuple[dict, str]:
    """Validation and test accuracy, per-class test accuracy, and the test predictions
    as CSV rows (actual, predicted) for DVC's confusion-matrix plot.

    Over several models (seeds) the accuracies are means, with their standard
    deviation beside them, and the confusion rows hold every model's predictions.
    """
    per_model = [_evaluate_one(m, data, device) for m in models]
    metrics: dict = {}
    for key in ("val_acc", "test_acc"):
        values = np.array([m[key] for m, _ in per_model])
        metrics[key] = float(values.mean())
        if len(values) > 1:
            metrics[f"{key}_std"] = float(values.std(ddof=1))
    metrics["test_acc_per_class"] = {}
    for name in per_model[0][0]["test_acc_per_class"]:
        values = [m["test_acc_per_class"][name] for m, _ in per_model]
        values = [v for v in values if v is not None]  # None: no test image of it
        metrics["test_acc_per_class"][name] = float(np.mean(values)) if values else None
    if len(models) > 1:
        metrics["seeds"] = len(models)
        metrics["test_acc_per_seed"] = [m["test_acc"] for m, _ in per_model]
    rows = ["actual,predicted"] + [row for _, rows in per_model for row in rows]
    return metrics, "\n".join(rows) + "\n"


def _evaluate_one(
    model: OCTNet, data: dict[str, tuple[np.ndarray, np.ndarray]], device: torch.device
) -> tuple[dict, list[str]]:
    from hw2.oct.phantoms import CLASSES

    x_val, y_val = (
        to_tensor(data["val"][0]).to(device),
        torch.from_numpy(data["val"][1]),
    )
    x_test, y_test = (
        to_tensor(data["test"][0]).to(device),
        torch.from_numpy(data["test"][1]),
    )
    val_pred = predict(model, x_val).cpu()
    test_pred = predict(model, x_test).cpu()
    counts = confusion_matrix(y_test, test_pred, len(CLASSES))
    per_class = {
        name: int(counts[i, i]) / int(counts[i].sum()) if counts[i].sum() else None
        for i, name in enumerate(CLASSES)
    }
    metrics = {
        "val_acc": fraction_equal(val_pred, y_val),
        "test_acc": fraction_equal(test_pred, y_test),
        "test_acc_per_class": per_class,
    }
    rows = [
        f"{CLASSES[a]},{CLASSES[p]}"
        for a, p in zip(y_test.tolist(), test_pred.tolist(), strict=True)
    ]
    return metrics, rows
