"""Training the OCT CNN: SGD, batch 8, NLL loss, several seeds stacked in one network.

Seed s of a training is the run that `torch.manual_seed(s)`, OCTNet(), SGD and a
shuffle generator seeded with s would give alone (`train_epoch`); train_cnn_runs
trains all seeds at once as one StackedOCTNet (see hw2.oct.stacked), which
follows the same trajectories up to float rounding at a fraction of the cost.
"""

import math
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from hw2.core.device import DEVICES, cpu_threads, pick_device
from hw2.core.errors import DataError, NonFiniteLossError, ParamError
from hw2.core.io import load_torch
from hw2.core.params import Params
from hw2.core.progress import tqdm
from hw2.core.stats import mean_std
from hw2.oct.model import CNNDimensions, OCTNet
from hw2.oct.stacked import StackedOCTNet, stacked_nll

# Stacking pays off up to a few dozen copies; beyond that a typo is likelier than
# a plan (64 seeds of 15 epochs would take an hour on the sample).
MAX_SEEDS = 32


@dataclass(frozen=True)
class CNNTrainConfig:
    """The CNN study's recipe: SGD at `lr`, batch 8, 15 epochs, seeds 42, 43, ..."""

    lr: float = 0.01
    maxpool: bool = True
    batch_size: int = 8
    epochs: int = 15
    seed: int = 42
    seeds: int = 1  # networks trained, with seeds seed, seed+1, ...
    device: str = "auto"

    @classmethod
    def from_params(cls, p: Params) -> "CNNTrainConfig":
        return cls(
            lr=p.number("lr", low=0, low_open=True, high=10),
            maxpool=p.boolean("cnn.maxpool"),
            batch_size=p.integer("cnn.batch_size", low=1),
            epochs=p.integer("cnn.epochs", low=1),
            seed=p.integer("cnn.seed", low=0),
            seeds=p.integer("cnn.seeds", low=1, high=MAX_SEEDS),
            device=p.choice("device", DEVICES),
        )

    def check_data(self, n_train: int) -> None:
        """Refuse seeds or a batch size the training split cannot serve."""
        if self.batch_size > n_train:
            raise ParamError(
                f"cnn.batch_size must be <= the {n_train} training images, "
                f"got {self.batch_size}"
            )


def to_tensor(images: np.ndarray) -> Tensor:
    """uint8 (N, 28, 28) → float32 (N, 1, 28, 28) in [-1, 1].

    The same as torchvision's ToTensor then Normalize(0.5, 0.5).
    """
    x = torch.from_numpy(np.ascontiguousarray(images)).float().unsqueeze(1)
    return x.div_(127.5).sub_(1.0)


def labels_tensor(labels: np.ndarray) -> Tensor:
    """Labels (N,) or (N, 1) of any integer type → int64 (N,)."""
    return torch.from_numpy(np.asarray(labels).reshape(-1).astype(np.int64))


def iterate_batches(n: int, batch_size: int, generator: torch.Generator):
    """Shuffled index tensors of one epoch."""
    order = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def train_epoch(
    model: OCTNet,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """One epoch of one network alone: the reference a stacked seed reproduces.

    Batches are gathered by index from preloaded tensors (no DataLoader: at batch
    8 its per-sample fetch and collate is a visible share of a step).
    """
    model.train()
    total = torch.zeros((), dtype=torch.float64)
    for idx in iterate_batches(len(x), batch_size, generator):
        loss = F.nll_loss(model(x[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(idx)
    return float(total) / len(x)


def stacked_epoch(
    net: StackedOCTNet,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    batch_size: int,
    shuffles: list[torch.Generator],
    progress: tqdm | None = None,
) -> list[float]:
    """One epoch of every stacked network, each in its own order; mean losses (N,)."""
    net.train()
    total = torch.zeros(net.n, dtype=torch.float64, device=x.device)
    batches = zip(
        *(iterate_batches(len(x), batch_size, g) for g in shuffles), strict=True
    )
    for idxs in batches:
        idx = torch.stack(idxs).to(x.device)  # (N, batch): copy i's images
        loss, per_copy = stacked_nll(net(x[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += per_copy.detach() * idx.shape[1]
        if progress is not None:
            progress.update(1)
    return (total / len(x)).tolist()


@torch.no_grad()
def stacked_predict(net: StackedOCTNet, x: Tensor, batch_size: int = 1000) -> Tensor:
    """Every stacked network's predicted classes (N, M) for images x (M, 1, 28, 28)."""
    net.eval()
    out = [
        net(x[i : i + batch_size].expand(net.n, -1, -1, -1, -1)).argmax(-1)
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out, dim=1)


def fraction_equal(a: Tensor, b: Tensor) -> float:
    """Share of equal entries, as an exact ratio of counts (0.815, not 0.81499)."""
    return int((a == b).sum()) / len(a)


@dataclass
class Run:
    """One trained network of a (possibly multi-seed) training."""

    seed: int
    model: OCTNet
    history: list[dict[str, float]]


def init_stacked(config: CNNTrainConfig) -> tuple[StackedOCTNet, list[torch.Generator]]:
    """The seeds' initial networks, stacked, and their shuffle generators.

    Seed s initialises its OCTNet after torch.manual_seed(s) and draws its dropout
    masks from where that generator then stands, as a lone run would.
    """
    models, dropout = [], []
    for i in range(config.seeds):
        torch.manual_seed(config.seed + i)
        models.append(OCTNet(CNNDimensions(maxpool=config.maxpool)))
        dropout.append(torch.Generator().set_state(torch.get_rng_state()))
    shuffles = [
        torch.Generator().manual_seed(config.seed + i) for i in range(config.seeds)
    ]
    return StackedOCTNet(models, dropout), shuffles


def train_cnn_runs(
    config: CNNTrainConfig,
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    live_dir: str | Path | None = None,
    progress: bool = True,
) -> list[Run]:
    """Train config.seeds networks together; validate each after every epoch.

    With live_dir, dvclive logs per epoch the mean over seeds of train/loss and
    val/acc, and their min and max (the band of the curves).
    """
    config.check_data(len(data["train"][0]))
    device = pick_device(config.device)
    x_train, y_train = to_tensor(data["train"][0]), labels_tensor(data["train"][1])
    x_val, y_val = to_tensor(data["val"][0]), labels_tensor(data["val"][1])
    net, shuffles = init_stacked(config)
    net, x_train, y_train = net.to(device), x_train.to(device), y_train.to(device)
    x_val = x_val.to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=config.lr)
    seeds = [config.seed + i for i in range(config.seeds)]
    histories: list[list[dict[str, float]]] = [[] for _ in seeds]
    live = _live(live_dir)
    steps = math.ceil(len(x_train) / config.batch_size)
    # One thread: these kernels are too small for a thread pool to pay, and a
    # fixed thread count keeps results independent of the machine's core count.
    threads = cpu_threads(1) if device.type == "cpu" else nullcontext()
    desc = f"train_cnn ({len(seeds)} seeds)"
    with (
        threads,
        tqdm(total=steps * config.epochs, desc=desc, disable=not progress) as bar,
    ):
        for epoch in range(config.epochs):
            bar.set_postfix(epoch=f"{epoch + 1}/{config.epochs}")
            losses = stacked_epoch(
                net, optimizer, x_train, y_train, config.batch_size, shuffles, bar
            )
            bad = [
                s for s, v in zip(seeds, losses, strict=True) if not math.isfinite(v)
            ]
            if bad:
                raise NonFiniteLossError(
                    f"the CNN training loss became non-finite (seed {bad[0]}, "
                    f"epoch {epoch + 1}): lower the learning rate (lr)"
                )
            preds = stacked_predict(net, x_val).cpu()
            accs = [fraction_equal(p, y_val) for p in preds]
            for h, loss, acc in zip(histories, losses, accs, strict=True):
                h.append({"epoch": epoch + 1, "train_loss": loss, "val_acc": acc})
            bar.write(
                f"epoch {epoch + 1}: train loss {np.mean(losses):.4f}, "
                f"val acc {np.mean(accs):.4f} (mean of {len(seeds)})"
            )
            if live is not None:
                for name, values in (("train/loss", losses), ("val/acc", accs)):
                    live.log_metric(name, mean_std(values)[0])
                    live.log_metric(f"{name}_min", min(values))
                    live.log_metric(f"{name}_max", max(values))
                live.next_step()
    if live is not None:
        live.end()
    models = [m.eval() for m in net.cpu().unstack()]
    return [Run(s, m, h) for s, m, h in zip(seeds, models, histories, strict=True)]


def _live(live_dir: str | Path | None):
    if live_dir is None:
        return None
    from dvclive import Live  # imported here: it is slow, and params come first

    # dvcyaml=None: dvc.yaml declares the plots; save_dvc_exp=False: the stage runs
    # inside `dvc repro` / `dvc exp run`, which record the experiment.
    return Live(str(live_dir), dvcyaml=None, save_dvc_exp=False, report=None)


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


def load_runs(path, device: torch.device) -> list[Run]:
    """Rebuild the runs of a train_cnn checkpoint (weights-only loading)."""
    ckpt = load_torch(path, made_by="train_cnn", map_location=device)
    try:
        out = []
        for run in ckpt["runs"]:
            model = OCTNet(CNNDimensions(**ckpt["dims"]))
            model.load_state_dict(run["model_state_dict"])
            out.append(
                Run(int(run["seed"]), model.to(device).eval(), list(run["history"]))
            )
        if not out:
            raise KeyError("no runs")
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        raise DataError(
            f"{path}: not a CNN checkpoint ({type(exc).__name__}: {reason})"
        ) from None
    return out
