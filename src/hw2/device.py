"""Device choice and seeding shared by the training stages."""

import random

import numpy as np
import torch

from hw2.errors import ParamError

DEVICES = ("auto", "cpu", "cuda")


def pick_device(name: str) -> torch.device:
    """auto → cuda when available, else cpu; cuda without a GPU is an error."""
    if name not in DEVICES:
        raise ParamError(f"device must be one of {' | '.join(DEVICES)}, got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamError("device is 'cuda' but no CUDA device is available")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) for a reproducible run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
