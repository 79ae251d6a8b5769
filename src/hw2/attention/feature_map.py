"""The McLaurin kernel Σ_{n<K} (σqᵀk)ⁿ/n! and its exact feature map φ.

φ holds every monomial of degree n < K in the D coordinates, weighted by
sqrt(1/α!) for the exponent vector α, so that by the multinomial theorem

    φ(q)ᵀφ(k) = Σ_{n<K} Σ_{|α|=n} q^α k^α / α! = Σ_{n<K} (qᵀk)ⁿ / n!   exactly,

with M = Σ_{n<K} C(n+D-1, n) features (feature_dim).

Monomials are built feature-major, (rows, M, C) for a block of C positions, and
unweighted: the attention puts the weights 1/α! (both sides' sqrt weights
together) and the scale of qᵀk on its small M×(Dv+1) key-value state instead
(Plan.state_weight). Plan.features builds them in fresh tensors (what autograd
needs); FeatureBuffer writes the same monomials into one buffer reused block
after block (inference, where each tensor op costs more in dispatch than in
arithmetic at these sizes).
"""

import math
from functools import lru_cache

import torch
from torch import Tensor


def feature_dim(terms: int, dim: int) -> int:
    """M(K, D) = Σ_{n<K} C(n+D-1, n): the number of monomials of degree < K."""
    if terms < 1 or dim < 1:
        raise ValueError(f"need terms >= 1 and dim >= 1, got {terms} and {dim}")
    return sum(math.comb(n + dim - 1, n) for n in range(terms))


@lru_cache(maxsize=64)
def monomial_layout(terms: int, dim: int) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """The monomials of φ per degree n < K, as sorted index tuples, in φ's order.

    Degree 2 goes by cyclic offset: x_i·x_{(i+d) mod D} for d = 0, 1, ...,
    each unordered pair once (for even D the offset D/2 only for i < D/2); so
    its rows are a broadcast product of x with sliding windows of [x, x], no
    gather. Degree n >= 3 extends each degree n-1 tuple by j >= its last index.
    """
    layout: list[tuple[tuple[int, ...], ...]] = [((),)]
    if terms > 1:
        layout.append(tuple((i,) for i in range(dim)))
    if terms > 2:
        half = dim // 2
        full = half if dim % 2 == 0 else half + 1
        pairs = [(i, (i + d) % dim) for d in range(full) for i in range(dim)]
        pairs += [(i, i + half) for i in range(half if dim % 2 == 0 else 0)]
        layout.append(tuple(tuple(sorted(p)) for p in pairs))
    for _ in range(3, terms):
        layout.append(tuple((*m, j) for m in layout[-1] for j in range(m[-1], dim)))
    return tuple(layout)


class Plan:
    """Index tensors and weights for one (K, D, device, dtype); built once, cached.

    Feature rows are [1 | degree 1 (= x) | degree 2 | degree 3 | ...]; degree
    n >= 3 rows are m_n = m_{n-1}[parent] * x[last].
    """

    def __init__(self, terms: int, dim: int, device: torch.device, dtype: torch.dtype):
        layout = monomial_layout(terms, dim)
        self.terms, self.dim = terms, dim
        self.size = sum(len(d) for d in layout)
        self.half = dim // 2
        self.windows = self.half if dim % 2 == 0 else self.half + 1
        self.extra = self.half if dim % 2 == 0 else 0
        inv = [
            1.0 / math.prod(math.factorial(m.count(i)) for i in set(m))
            for d in layout
            for m in d
        ]
        self.weight = torch.tensor(inv, dtype=dtype, device=device)[:, None]  # (M, 1)
        self.weight_sqrt = self.weight.sqrt().squeeze(-1)
        degree = [n for n, d in enumerate(layout) for _ in d]
        self.degree = torch.tensor(degree, dtype=dtype, device=device)
        self._state_weight: dict[float, Tensor] = {}
        # rows of degree n: [start[n], start[n + 1])
        self.start = [0]
        for d in layout:
            self.start.append(self.start[-1] + len(d))
        self.parent, self.last = [], []
        for n in range(3, terms):
            index = {m: i for i, m in enumerate(layout[n - 1])}
            parent = [index[m[:-1]] for m in layout[n]]
            self.parent.append(torch.tensor(parent, device=device))
            self.last.append(torch.tensor([m[-1] for m in layout[n]], device=device))

    def features(self, xt: Tensor) -> Tensor:
        """Unweighted monomials feature-major, new tensors: (R, D, C) -> (R, M, C)."""
        rows, dim, size = xt.shape
        parts = [xt.new_ones(()).expand(rows, 1, size)]
        if self.terms > 1:
            parts.append(xt)
        if self.terms > 2:
            twice = torch.cat([xt, xt], dim=1)  # row d + i is x_{(i+d) mod D}
            window = twice.as_strided(
                (rows, self.windows, dim, size), (2 * dim * size, size, size, 1)
            )
            prev = (xt[:, None] * window).reshape(rows, -1, size)
            if self.extra:
                tail = xt[:, : self.extra] * twice[:, self.half : dim]
                prev = torch.cat([prev, tail], dim=1)
            parts.append(prev)
            for parent, last in zip(self.parent, self.last, strict=True):
                prev = prev.index_select(1, parent) * xt.index_select(1, last)
                parts.append(prev)
        return torch.cat(parts, dim=1)

    def state_weight(self, scale: float) -> Tensor:
        """1/α! · scale^|α| per feature row, (M, 1), cached per scale."""
        if scale not in self._state_weight:
            # cached across calls: must not be an inference tensor (see plan)
            with torch.inference_mode(False):
                powers = torch.pow(scale, self.degree).unsqueeze(-1)
                self._state_weight[scale] = self.weight * powers
        return self._state_weight[scale]


_PLANS: dict[tuple, Plan] = {}


def plan(terms: int, dim: int, device: torch.device, dtype: torch.dtype) -> Plan:
    """The cached Plan of (K, D) on a device in a dtype."""
    key = (terms, dim, str(device), dtype)
    if key not in _PLANS:
        # A plan built under torch.inference_mode would hold inference tensors,
        # which a later call with autograd cannot save for backward.
        with torch.inference_mode(False):
            _PLANS[key] = Plan(terms, dim, device, dtype)
    return _PLANS[key]


class FeatureBuffer:
    """A reused (R, M, C) feature buffer and its views, prepared once (no autograd)."""

    def __init__(self, plan: Plan, rows: int, size: int, dtype, device):
        dim, start = plan.dim, plan.start
        self.plan = plan
        self.feats = torch.empty(rows, plan.size, size, dtype=dtype, device=device)
        self.feats[:, 0] = 1.0
        self.x = self.feats[:, 1 : 1 + dim]
        self.higher = []
        if plan.terms > 2:
            self.twice = torch.empty(rows, 2, dim, size, dtype=dtype, device=device)
            flat = self.twice.view(rows, 2 * dim, size)
            self.x_row = self.x.unsqueeze(1)
            self.window = flat.as_strided(
                (rows, plan.windows, dim, size), (2 * dim * size, size, size, 1)
            )
            n_full = plan.windows * dim
            self.full = self.feats[:, start[2] : start[2] + n_full].view(
                self.window.shape
            )
            self.tail = (
                self.x[:, : plan.extra],
                flat[:, plan.half : dim],
                self.feats[:, start[2] + n_full : start[3]],
            )
        for n, (parent, last) in enumerate(zip(plan.parent, plan.last, strict=True), 3):
            prev = self.feats[:, start[n - 1] : start[n]]
            self.higher.append(
                (prev, self.feats[:, start[n] : start[n + 1]], parent, last)
            )

    def fill(self, x: Tensor) -> Tensor:
        """Monomials of x (R, C, D) written into the buffer: (R, M, C)."""
        if self.plan.terms == 1:
            return self.feats
        xt = x.transpose(1, 2)
        self.x.copy_(xt)  # also casts bf16 -> float32
        if self.plan.terms > 2:
            self.twice.copy_(xt.unsqueeze(1))
            torch.mul(self.x_row, self.window, out=self.full)
            if self.plan.extra:
                torch.mul(self.tail[0], self.tail[1], out=self.tail[2])
        for prev, rows, parent, last in self.higher:
            torch.index_select(prev, 1, parent, out=rows)  # parents straight in place
            rows.mul_(self.x.index_select(1, last))
        return self.feats


def series(scores: Tensor, terms: int, scale: float) -> Tensor:
    """The kernel itself: Σ_{n<K} (σt)ⁿ/n! elementwise by Horner (fresh tensors)."""
    if terms == 1:
        return torch.ones_like(scores)
    one = scores.new_ones(())
    acc = torch.add(one, scores, alpha=scale / (terms - 1))
    for n in range(terms - 2, 0, -1):
        acc = torch.addcmul(one, scores, acc, value=scale / n)
    return acc
