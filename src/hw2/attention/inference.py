"""The inference fast path of linear McLaurin attention: no autograd, reused buffers.

The same block recurrence as hw2.attention.linear.linear_attention, the same
numbers up to rounding (tests hold them together), but every block writes into
buffers and views prepared once: at these sizes each tensor op costs more in
dispatch than in arithmetic, so fresh tensors per block would dominate. Only
for calls that autograd does not track, since later blocks overwrite what an
earlier block's backward would need.
"""

import torch
from torch import Tensor

from hw2.attention.feature_map import FeatureBuffer
from hw2.attention.linear import Inputs, lower


class FastLinear:
    """One call of the linear form without autograd: run() -> (N, Lq, Dv)."""

    def __init__(self, x: Inputs):
        self.x = x
        self.out = x.q.new_empty(x.rows, x.len_q, x.dim_v)
        self.space: FeatureBuffer | None = None
        self.value_buf: Tensor | None = None

    def run(self, causal: bool, size: int) -> Tensor:
        """The attention output, in the input dtype, by blocks of `size` positions."""
        if self.x.len_q:
            if causal:
                self._causal(size)
            else:
                self._global(size)
        return self.out

    def features(self, rows: Tensor) -> Tensor:
        """Monomials of positions (R, C, D) as (R, M, C), in the reused buffer."""
        space, shape = self.space, (rows.shape[0], self.x.n_features, rows.shape[1])
        if space is None or space.feats.shape != shape:
            self.space = space = None  # a short tail: let the old buffer go first
            self.space = space = FeatureBuffer(
                self.x.plan, rows.shape[0], rows.shape[1], self.x.work, rows.device
            )
        return space.fill(rows)

    def values(self, s: int, e: int) -> Tensor:
        """[v, 1] (N, C, Dv+1) for keys [s, e), masked keys zeroed."""
        x = self.x
        buf = self.value_buf
        if buf is None or buf.shape[1] != e - s:
            self.value_buf = buf = None
            self.value_buf = buf = x.v.new_ones(
                x.rows, e - s, x.dim_v + 1, dtype=x.work
            )
        buf[..., : x.dim_v].copy_(x.v[:, s:e])
        if x.mask is not None:
            mask = x.mask[:, s:e]
            buf[..., : x.dim_v].mul_(mask)
            buf[..., x.dim_v :].copy_(mask)
        return buf

    def emit(self, s: int, e: int, acc: Tensor) -> None:
        """Positions [s, e) of the output from acc = [numerator, normaliser]."""
        x = self.x
        den = acc[..., x.dim_v :]
        if x.mask is not None or not x.len_k:  # no visible key: zeros
            den = den.clamp_min(torch.finfo(x.work).tiny)
        num = acc[..., : x.dim_v]
        if self.out.dtype == x.work:
            torch.div(num, den, out=self.out[:, s:e])
        else:
            self.out[:, s:e].copy_(num / den)

    def _global(self, size: int) -> None:
        """Non-causal: S = Σ_k φ(k)[v, 1]ᵀ block by block, then φ(q)ᵀS per block."""
        x = self.x
        state = x.q.new_zeros(x.rows, x.n_features, x.dim_v + 1, dtype=x.work)
        for s in range(0, x.len_k, size):
            e = min(s + size, x.len_k)
            state.add_(torch.bmm(self.features(x.k[:, s:e]), self.values(s, e)))
        state = state * x.weight
        self.value_buf = None
        for s in range(0, x.len_q, size):
            e = min(s + size, x.len_q)
            # no local name for the features: it would keep the previous block's
            # buffer alive while a shorter tail's is allocated
            self.emit(s, e, torch.bmm(self.features(x.q[:, s:e]).mT, state))

    def _causal(self, size: int) -> None:
        """Causal: the block recurrence in reused buffers.

        Sub-chunk rows are ordered (n, N) here, so that the states of a block's
        sub-chunks, (n+1, N, M, Dv+1) with the carry in front, take a
        cumulative sum over the first dimension and stay contiguous.
        """
        x = self.x
        space = None
        carry = None  # view of the previous block's total, (N, M, Dv+1)
        for s, e, n, c in x.blocks(size):
            if space is None or (space.n, space.c) != (n, c):
                space = None
                space = _CausalSpace(x, n, c)
            qs, ks = space.split(x.q, s, e), space.split(x.k, s, e)
            values = space.load_values(x, s, e)
            torch.bmm(qs, ks.transpose(1, 2), out=space.scores)
            torch.bmm(space.kernel(x), values, out=space.acc)
            if carry is None and n == 1:  # nothing earlier to read
                if e < x.len_q:
                    carry = torch.bmm(space.feats.fill(ks), values)
            else:
                if carry is None:
                    space.states[0].zero_()
                else:
                    space.states[0].copy_(carry)
                torch.bmm(space.feats.fill(ks), values, out=space.increments)
                torch.cumsum(space.states, 0, out=space.prefix)
                carry = space.prefix[n]
                space.before.mul_(x.weight)
                space.acc.baddbmm_(space.feats.fill(qs).transpose(1, 2), space.before)
            space.emit(x, self.out, s, e)


class _CausalSpace:
    """Buffers and views for causal blocks of n sub-chunks of c positions."""

    def __init__(self, x: Inputs, n: int, c: int):
        rows, m, dv = x.rows, x.n_features, x.dim_v
        kw = {"dtype": x.work, "device": x.q.device}
        self.n, self.c, self.rows = n, c, rows
        self.feats = FeatureBuffer(x.plan, n * rows, c, x.work, x.q.device)
        self.values = torch.ones(n, rows, c, dv + 1, **kw)
        self.values_flat = self.values.view(n * rows, c, dv + 1)
        self.scores = torch.empty(n * rows, c, c, **kw)
        self.series = torch.empty(n * rows, c, c, **kw) if x.terms > 3 else None
        self.lower = lower(c, self.scores)
        self.scaled_lower = self.lower * x.scale
        self.one = self.scores.new_ones(())
        self.acc = torch.empty(n * rows, c, dv + 1, **kw)
        acc = self.acc.view(n, rows, c, dv + 1)
        self.num, self.den = acc[..., :dv], acc[..., dv:]
        self.states = torch.empty(n + 1, rows, m, dv + 1, **kw)
        self.increments = self.states[1:].view(n * rows, m, dv + 1)
        self.prefix = torch.empty_like(self.states)
        self.before = self.prefix[:n].view(n * rows, m, dv + 1)

    def split(self, t: Tensor, s: int, e: int) -> Tensor:
        """Positions [s, e) of t (N, L, D) as sub-chunk rows (n·N, c, D)."""
        chunks = t[:, s:e].unflatten(1, (self.n, self.c)).transpose(0, 1)
        return chunks.reshape(self.n * self.rows, self.c, -1).to(self.scores.dtype)

    def load_values(self, x: Inputs, s: int, e: int) -> Tensor:
        """[v, 1] of positions [s, e) into the buffer, masked keys zeroed."""
        dv = x.dim_v
        self.values[..., :dv].copy_(
            x.v[:, s:e].unflatten(1, (self.n, self.c)).transpose(0, 1)
        )
        if x.mask is not None:
            mask = x.mask[:, s:e].unflatten(1, (self.n, self.c)).transpose(0, 1)
            self.values[..., :dv].mul_(mask)
            self.values[..., dv:].copy_(mask)
        return self.values_flat

    def kernel(self, x: Inputs) -> Tensor:
        """The masked series of the scores, in place where it can be."""
        scores = self.scores
        if x.terms == 1:
            return self.lower.expand_as(scores)
        if x.terms == 3:  # L ⊙ (1 + σs + (σs)²/2) = L + σL ⊙ (s + σs²/2)
            scores.addcmul_(scores, scores, value=x.scale / 2)
            return scores.mul_(self.scaled_lower).add_(self.lower)
        acc = self.series
        torch.add(self.one, scores, alpha=x.scale / (x.terms - 1), out=acc)
        for n in range(x.terms - 2, 0, -1):
            torch.addcmul(self.one, scores, acc, value=x.scale / n, out=acc)
        return acc.mul_(self.lower)

    def emit(self, x: Inputs, out: Tensor, s: int, e: int) -> None:
        """Positions [s, e) of out from the block's [numerator, normaliser]."""
        if x.mask is not None:  # a query whose keys are all masked gets zeros
            self.den.clamp_min_(torch.finfo(self.den.dtype).tiny)
        out = out[:, s:e].unflatten(1, (self.n, self.c)).transpose(0, 1)
        if out.dtype == self.num.dtype:
            torch.div(self.num, self.den, out=out)
        else:
            out.copy_(self.num / self.den)
