"""The linear form of McLaurin attention: Z = Φ(Q)(Φ(K)ᵀ[V, 1]), block by block.

Cost O(L·M·D) instead of O(L²·D). V gets a column of ones, so that one product
gives numerator and normaliser, and zeroing a key's [v, 1] row drops it from
both (key_mask). Positions go block by block, so memory beyond inputs and
output is O(C·M + M·Dv), never O(L·M):
- non-causal: S = Σ_blocks Φ(k)ᵀ[v, 1], weighted once, then Φ(q)S per block;
- causal: a block holds n sub-chunks of c positions; pairs inside a sub-chunk
  by the masked c×c quadratic form, earlier sub-chunks by a cumulative sum of
  their states, earlier blocks by one carried state.

linear_attention is the one implementation autograd sees: every block makes
fresh tensors, so nothing saved for backward is overwritten, and a block's
features are by default recomputed in backward (torch.utils.checkpoint) rather
than saved. Without autograd the same recurrence runs in reused buffers
(hw2.attention.inference.FastLinear), since at these sizes each tensor op costs
more in dispatch than in arithmetic.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from hw2.attention.feature_map import feature_dim, plan, series

# Elements per (batch·head) row that a block's temporaries may take: 2^16
# float32 = 256 KiB. Larger blocks mean fewer, larger tensor ops; smaller ones
# less memory. See block_size.
BLOCK_ELEMENTS = 1 << 16
SUB_CHUNK = 64  # causal: positions whose pairs are summed directly (c×c)
_MAX_BLOCK = 4096


def block_size(terms: int, dim: int, rows: int, causal: bool, dim_v: int = 0) -> int:
    """Default positions per block: a block's temporaries near BLOCK_ELEMENTS.

    Per position and row: M features, a gathered operand for degree >= 3,
    [x, x] for degree 2, [v, 1] and the block's output, and when causal the c
    scores of its sub-chunk.
    """
    dim_v = dim_v or dim
    top = math.comb(terms + dim - 2, terms - 1) if terms > 3 else 0
    per_position = feature_dim(terms, dim) + top + 2 * dim + 2 * (dim_v + 1)
    per_position += SUB_CHUNK if causal else 0
    size = max(SUB_CHUNK, min(_MAX_BLOCK, BLOCK_ELEMENTS // (rows * per_position)))
    return size // SUB_CHUNK * SUB_CHUNK if causal else size


def lower(c: int, like: Tensor) -> Tensor:
    """The c×c causal mask as 0/1, for a multiply.

    Not tril/tril_: they hand even a 4×4 matrix to the thread pool, which on a
    busy machine costs milliseconds per call.
    """
    i = torch.arange(c, device=like.device)
    return (i[:, None] >= i[None, :]).to(like.dtype)


class Inputs:
    """One call's inputs with heads folded into the batch: (N = B·H, L, D)."""

    def __init__(self, q, k, v, terms: int, key_mask: Tensor | None, scale: float):
        batch, heads, self.len_q, dim = q.shape
        self.len_k, self.dim_v = k.shape[-2], v.shape[-1]
        self.rows = batch * heads
        self.out_shape = (batch, heads, self.len_q, self.dim_v)
        self.dtype = q.dtype
        self.work = torch.float64 if q.dtype == torch.float64 else torch.float32
        self.q = q.reshape(self.rows, self.len_q, dim)
        self.k = k.reshape(self.rows, self.len_k, dim)
        self.v = v.reshape(self.rows, self.len_k, self.dim_v)
        self.mask = None
        if key_mask is not None:  # (N, Lk, 1)
            self.mask = (
                key_mask.to(self.work)[:, None, :, None]
                .expand(batch, heads, self.len_k, 1)
                .reshape(self.rows, self.len_k, 1)
            )
        self.terms, self.scale, self.dim = terms, scale, dim
        self.plan = plan(terms, dim, q.device, self.work)
        self.n_features = self.plan.size
        self.weight = self.plan.state_weight(scale)  # 1/α! · scale^|α|, (M, 1)

    def block_size(self, causal: bool, chunk_size: int | None) -> int:
        """Positions per block: chunk_size, or by default block_size's."""
        return chunk_size or block_size(
            self.terms, self.dim, self.rows, causal, self.dim_v
        )

    def finish(self, out: Tensor) -> Tensor:
        """(N, Lq, Dv) in the working dtype -> (B, H, Lq, Dv) in the input dtype."""
        return out.to(self.dtype).reshape(self.out_shape)

    def blocks(self, size: int):
        """Causal blocks (s, e, n, c): n sub-chunks of c positions; a short tail."""
        sub = min(size, SUB_CHUNK)
        s = 0
        while s < self.len_q:
            n = min(size, self.len_q - s) // sub
            c = sub if n else self.len_q - s
            n = max(n, 1)
            yield s, s + n * c, n, c
            s += n * c


def linear_attention(x: Inputs, causal: bool, size: int, recompute: bool) -> Tensor:
    """The linear form with autograd, blocks of `size` positions: (N, Lq, Dv).

    With `recompute`, each block's features are recomputed in backward.
    """
    run = _checkpointed if recompute else _direct
    blocks = _causal(x, size, run) if causal else _global(x, size, run)
    return torch.cat(blocks, dim=1)


def _direct(fn, *args):
    return fn(*args)


def _checkpointed(fn, *args):
    """fn(*args), recomputed in backward instead of saved.

    A block's features are C×M per row: kept for backward they would grow to
    L×M, the memory linear attention is meant to avoid. Recomputing them costs
    about one more forward.
    """
    return torch.utils.checkpoint.checkpoint(fn, *args, use_reentrant=False)


def features(x: Inputs, rows: Tensor) -> Tensor:
    """Unweighted monomials of positions (R, C, D) as (R, M, C), fresh tensors."""
    return x.plan.features(rows.to(x.work).transpose(1, 2))


def values(x: Inputs, s: int, e: int) -> Tensor:
    """[v, 1] (N, C, Dv+1) for keys [s, e), masked keys zeroed."""
    ve = F.pad(x.v[:, s:e].to(x.work), (0, 1), value=1.0)
    return ve if x.mask is None else ve * x.mask[:, s:e]


def ratio(x: Inputs, acc: Tensor) -> Tensor:
    """Numerator / normaliser of acc = [num, den]; a query with no key gets zeros."""
    den = acc[..., x.dim_v :]
    if x.mask is not None or not x.len_k:
        den = den.clamp_min(torch.finfo(x.work).tiny)
    return acc[..., : x.dim_v] / den


def _global(x: Inputs, size: int, run) -> list[Tensor]:
    """Non-causal: S = Σ_k φ(k)[v, 1]ᵀ block by block, then φ(q)ᵀS per block."""
    state = x.q.new_zeros(x.rows, x.n_features, x.dim_v + 1, dtype=x.work)
    for s in range(0, x.len_k, size):
        e = min(s + size, x.len_k)
        state = state + run(_key_state, x, x.k[:, s:e], values(x, s, e))
    state = state * x.weight
    return [
        ratio(x, run(_read, x, x.q[:, s : s + size], state))
        for s in range(0, x.len_q, size)
    ]


def _key_state(x: Inputs, k: Tensor, vals: Tensor) -> Tensor:
    """Φ(k)ᵀ[v, 1] of one block, unweighted: (N, M, Dv+1)."""
    return torch.bmm(features(x, k), vals)


def _read(x: Inputs, q: Tensor, state: Tensor) -> Tensor:
    """Φ(q) S of one block: (N, C, Dv+1), numerator and normaliser."""
    return torch.bmm(features(x, q).transpose(1, 2), state)


def _causal(x: Inputs, size: int, run) -> list[Tensor]:
    """Causal: the block recurrence, one carried state of all earlier blocks."""
    carry = x.q.new_zeros(x.rows, x.n_features, x.dim_v + 1, dtype=x.work)
    out = []
    for s, e, n, c in x.blocks(size):
        q, k = x.q[:, s:e].to(x.work), x.k[:, s:e].to(x.work)
        acc, carry = run(_causal_step, x, n, c, q, k, values(x, s, e), carry)
        out.append(ratio(x, acc))
    return out


def _causal_step(
    x: Inputs, n: int, c: int, q: Tensor, k: Tensor, vals: Tensor, carry: Tensor
) -> tuple[Tensor, Tensor]:
    """One block of n sub-chunks of c positions: (its [num, den], the carry)."""
    rows, m = x.rows, x.n_features
    qs, ks = q.reshape(rows * n, c, -1), k.reshape(rows * n, c, -1)
    vs = vals.reshape(rows * n, c, -1)
    scores = torch.bmm(qs, ks.transpose(1, 2))
    acc = torch.bmm(series(scores, x.terms, x.scale) * lower(c, vs), vs)
    inc = torch.bmm(features(x, ks), vs).view(rows, n, m, -1)
    before = inc.cumsum(1) - inc + carry[:, None]  # all earlier sub-chunks
    after = before[:, -1] + inc[:, -1]
    before = (before * x.weight).view(rows * n, m, -1)
    acc = torch.baddbmm(acc, features(x, qs).transpose(1, 2), before)
    return acc.view(rows, n * c, -1), after
