"""N copies of the homework CNN trained as one network: one seed per copy.

A batch-8 step of the CNN is a handful of tiny kernels, so N separate trainings
pay N times the per-kernel overhead for little arithmetic each. Here the N
networks' weights are stacked along a leading axis and each layer runs once for
all of them: the convolutions as one grouped convolution (groups = N, so copy i
only ever sees its own channels) and the linear layers as one batched matrix
product (torch.baddbmm). Nothing is shared between the copies: the loss is the
sum of the copies' losses, so each copy's gradient is the one it would get alone,
and plain SGD updates each slice independently.

Each copy also keeps its own data order and dropout masks (a generator per copy,
seeded as a lone run would be): a stacked copy follows the same trajectory as
that seed trained alone, up to float rounding, so the spread over copies is the
spread over independent runs (initialisation, shuffle and dropout all vary).
"""

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from hw2.oct.model import CNNDimensions, OCTNet

_CONVS = ("conv1", "conv2")


class StackedOCTNet(nn.Module):
    """N OCTNets evaluated together; parameters are (N, *shape of one OCTNet's)."""

    def __init__(self, models: list[OCTNet], dropout_generators: list[torch.Generator]):
        super().__init__()
        if len(models) != len(dropout_generators) or not models:
            raise ValueError("one dropout generator per model, at least one model")
        self.dims: CNNDimensions = models[0].dims
        self.n = len(models)
        self.generators = dropout_generators
        first = models[0]
        self.conv_args = {
            name: (getattr(first, name).stride, getattr(first, name).padding)
            for name in _CONVS
        }
        # Linear weights are kept as (N, in, out), the layout baddbmm reads and
        # writes its gradient in: nn.Linear's (out, in) would be a transposed view
        # whose gradient autograd copies into place on every step.
        self.params = nn.ParameterDict(
            {
                key.replace(".", "_"): nn.Parameter(
                    _to_stacked(key, torch.stack([m.state_dict()[key] for m in models]))
                )
                for key in first.state_dict()
            }
        )

    def unstack(self) -> list[OCTNet]:
        """The N networks as ordinary OCTNets (copies of the current weights)."""
        out = []
        for i in range(self.n):
            model = OCTNet(self.dims)
            state = {
                key: _from_stacked(key, self.params[key.replace(".", "_")][i].detach())
                for key in model.state_dict()
            }
            model.load_state_dict(state)
            out.append(model)
        return out

    def _conv(self, x: Tensor, name: str) -> Tensor:
        w, b = self.params[f"{name}_weight"], self.params[f"{name}_bias"]
        stride, padding = self.conv_args[name]
        return F.conv2d(
            x,
            w.reshape(-1, *w.shape[2:]),
            b.reshape(-1),
            stride=stride,
            padding=padding,
            groups=self.n,
        )

    def _linear(self, x: Tensor, name: str) -> Tensor:
        w, b = self.params[f"{name}_weight"], self.params[f"{name}_bias"]
        return torch.baddbmm(b.unsqueeze(1), x, w)

    def _dropout(self, x: Tensor) -> Tensor:
        p = self.dims.dropout
        if not self.training or p == 0:
            return x
        # The draw a lone nn.Dropout makes (bernoulli_(1 - p), scaled), per copy
        # from that copy's generator.
        # The generators live on the CPU (a lone CPU run's draws); on a GPU the
        # small mask is drawn there and copied over.
        mask = torch.empty(x.shape, dtype=x.dtype)
        for i, g in enumerate(self.generators):
            mask[i].bernoulli_(1 - p, generator=g)
        return x * mask.div_(1 - p).to(x.device, non_blocking=True)

    def forward(self, x: Tensor) -> Tensor:
        """x (N, batch, 1, 28, 28), copy i's images at [i] → log-probs (N, batch, C)."""
        n, batch = x.shape[:2]
        h = x.transpose(0, 1).reshape(batch, n, *x.shape[3:])  # channels = copies
        # oneDNN's grouped convolution is several times faster channels-last
        # (benchmarks/bench_cnn_seeds.py), and max-pooling follows the layout.
        h = h.contiguous(memory_format=torch.channels_last)
        # max-pool then ReLU: the same values as ReLU then max-pool (both are
        # monotone), on a quarter of the elements
        h = self._conv(h, "conv1")
        h = F.relu(F.max_pool2d(h, 2) if self.dims.maxpool else h)
        h = self._conv(h, "conv2")
        h = F.relu(F.max_pool2d(h, 2) if self.dims.maxpool else h)
        h = h.reshape(batch, n, -1).transpose(0, 1)  # (N, batch, 576)
        h = self._dropout(F.relu(self._linear(h, "fc1")))
        h = F.relu(self._linear(h, "fc2"))
        return F.log_softmax(self._linear(h, "fc3"), dim=-1)


def _to_stacked(key: str, value: Tensor) -> Tensor:
    is_linear_weight = key.startswith("fc") and key.endswith("weight")
    return (value.transpose(1, 2) if is_linear_weight else value).contiguous()


def _from_stacked(key: str, value: Tensor) -> Tensor:
    is_linear_weight = key.startswith("fc") and key.endswith("weight")
    return (value.t() if is_linear_weight else value).contiguous()


def stacked_nll(log_probs: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """(sum over copies of each copy's mean NLL, per-copy mean NLL (N,)).

    The sum, not the mean, so that each copy's gradient is its lone-run gradient.
    """
    n, batch, c = log_probs.shape
    per_item = F.nll_loss(
        log_probs.reshape(n * batch, c), y.reshape(-1), reduction="none"
    )
    per_copy = per_item.view(n, batch).mean(1)
    return per_copy.sum(), per_copy
