"""The homework's CNN for 28x28 OCT images, with or without max-pooling, and the
tensors it takes."""

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from hw2.images.octmnist import N_CLASSES


def to_tensor(images: np.ndarray) -> Tensor:
    """uint8 (N, 28, 28) → float32 (N, 1, 28, 28) in [-1, 1], the network's input.

    The same as torchvision's ToTensor then Normalize(0.5, 0.5).
    """
    x = torch.from_numpy(np.ascontiguousarray(images)).float().unsqueeze(1)
    return x.div_(127.5).sub_(1.0)


def labels_tensor(labels: np.ndarray) -> Tensor:
    """Labels (N,) or (N, 1) of any integer type → int64 (N,)."""
    return torch.from_numpy(np.asarray(labels).reshape(-1).astype(np.int64))


@dataclass(frozen=True)
class CNNDimensions:
    """Every size of the network; a checkpoint stores it to rebuild the model."""

    maxpool: bool = True
    n_classes: int = N_CLASSES
    dropout: float = 0.7


class OCTNet(nn.Module):
    """conv 1→8 → ReLU → pool → conv 8→16 → ReLU → pool → 576 → 320 → 120 → 4.

    Without max-pooling the two convolutions take stride 2 instead, which gives the
    same 16 x 6 x 6 = 576 features and the same 224,892 parameters.
    """

    def __init__(self, dims: CNNDimensions):
        super().__init__()
        self.dims = dims
        stride = 1 if dims.maxpool else 2
        self.conv1 = nn.Conv2d(1, 8, 3, stride=stride, padding=1)  # 28 → 28 (or 14)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=stride, padding=0)  # 14 → 12 (or 6)
        self.fc1 = nn.Linear(16 * 6 * 6, 320)
        self.fc2 = nn.Linear(320, 120)
        self.fc3 = nn.Linear(120, dims.n_classes)
        self.dropout = nn.Dropout(dims.dropout)

    def forward(self, x: Tensor) -> Tensor:
        """x: (batch, 1, 28, 28) → log-probabilities (batch, n_classes)."""
        x = F.relu(self.conv1(x))
        if self.dims.maxpool:
            x = F.max_pool2d(x, 2)
        x = F.relu(self.conv2(x))
        if self.dims.maxpool:
            x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x)))
        x = F.relu(self.fc2(x))
        return F.log_softmax(self.fc3(x), dim=-1)

    def n_params(self) -> int:
        """Number of trainable parameters (the ASR model has the same method)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
