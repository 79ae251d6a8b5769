"""What train_cnn saves and evaluate_cnn loads: every seed's trained network."""

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from hw2.core.errors import DataError
from hw2.core.io import load_torch, save_torch
from hw2.oct.model import CNNDimensions, OCTNet


@dataclass
class Run:
    """One trained network of a (possibly multi-seed) training."""

    seed: int
    model: OCTNet
    history: list[dict[str, float]]


def save_runs(path: str | Path, runs: list[Run], config: Any) -> None:
    """The dims to rebuild the networks, the recipe (a dataclass) and each run's
    seed, weights and per-epoch history, saved atomically."""
    save_torch(
        path,
        {
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
        },
    )


def load_runs(path: str | Path, device: torch.device) -> list[Run]:
    """Rebuild the runs save_runs saved (weights-only loading), in eval mode."""
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
