"""Training the OCT CNN: SGD, batch 8, NLL loss, several seeds stacked in one network.

Seed s of a training is the run that `torch.manual_seed(s)`, OCTNet(), SGD and a
shuffle generator seeded with s would give alone (`train_epoch`); train_cnn_runs
trains all seeds at once as one StackedOCTNet (see hw2.oct.stacked), which
follows the same trajectories up to float rounding at a fraction of the cost.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from hw2.core.device import DEVICES, one_cpu_thread, pick_device
from hw2.core.errors import NonFiniteLossError, ParamError
from hw2.core.live import EpochLog
from hw2.core.params import Params
from hw2.core.progress import tqdm
from hw2.core.stats import fraction_equal, mean_std
from hw2.oct.checkpoint import Run
from hw2.oct.model import CNNDimensions, OCTNet, labels_tensor, to_tensor
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


def start(
    config: CNNTrainConfig, device: torch.device
) -> tuple[StackedOCTNet, torch.optim.SGD, list[torch.Generator]]:
    """The seeds' initial networks stacked on `device`, their SGD and their
    shuffle generators.

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
    net = StackedOCTNet(models, dropout).to(device)
    return net, torch.optim.SGD(net.parameters(), lr=config.lr), shuffles


def check_finite(losses: list[float], seeds: list[int], epoch: int) -> None:
    """NonFiniteLossError naming the first seed whose epoch loss is not finite."""
    bad = [s for s, v in zip(seeds, losses, strict=True) if not math.isfinite(v)]
    if bad:
        raise NonFiniteLossError(
            f"the CNN training loss became non-finite (seed {bad[0]}, "
            f"epoch {epoch + 1}): lower the learning rate (lr)"
        )


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
    x_train = to_tensor(data["train"][0]).to(device)
    y_train = labels_tensor(data["train"][1]).to(device)
    x_val, y_val = to_tensor(data["val"][0]).to(device), labels_tensor(data["val"][1])
    net, optimizer, shuffles = start(config, device)
    seeds = [config.seed + i for i in range(config.seeds)]
    histories: list[list[dict[str, float]]] = [[] for _ in seeds]
    steps = math.ceil(len(x_train) / config.batch_size)
    desc = f"train_cnn ({len(seeds)} seeds)"
    bar = tqdm(total=steps * config.epochs, desc=desc, disable=not progress)
    # One thread: these kernels are too small for a thread pool to pay.
    with one_cpu_thread(device), bar, EpochLog(live_dir) as log:
        for epoch in range(config.epochs):
            bar.set_postfix(epoch=f"{epoch + 1}/{config.epochs}")
            losses = stacked_epoch(
                net, optimizer, x_train, y_train, config.batch_size, shuffles, bar
            )
            check_finite(losses, seeds, epoch)
            accs = [fraction_equal(p, y_val) for p in stacked_predict(net, x_val).cpu()]
            for h, loss, acc in zip(histories, losses, accs, strict=True):
                h.append({"epoch": epoch + 1, "train_loss": loss, "val_acc": acc})
            logged = {}
            for name, values in (("train/loss", losses), ("val/acc", accs)):
                logged[name] = mean_std(values)[0]
                logged[f"{name}_min"], logged[f"{name}_max"] = min(values), max(values)
            log.log(logged)
            bar.write(
                f"epoch {epoch + 1}: train loss {np.mean(losses):.4f}, "
                f"val acc {np.mean(accs):.4f} (mean of {len(seeds)})"
            )
    models = [m.eval() for m in net.cpu().unstack()]
    return [Run(s, m, h) for s, m, h in zip(seeds, models, histories, strict=True)]
