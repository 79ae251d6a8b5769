"""McLaurin linear attention: exp(qᵀk) ≈ φ(q)ᵀφ(k) with a truncated Taylor series.

φ holds every monomial of degree n < K in the D coordinates, weighted by
sqrt(1/α!) for the exponent vector α, so that by the multinomial theorem

    φ(q)ᵀφ(k) = Σ_{n<K} Σ_{|α|=n} q^α k^α / α! = Σ_{n<K} (qᵀk)ⁿ / n!   exactly,

with M = Σ_{n<K} C(n+D-1, n) features. Attention then costs O(L·M·D) instead of
O(L²·D): Z = Φ(Q)(Φ(K)ᵀV) / Φ(Q)(Φ(K)ᵀ1).

Why the code looks the way it does:
- Monomials are built feature-major, (rows, M, C) for a block of C positions,
  unweighted; the weights 1/α! (both sides' sqrt weights together) and the
  scale of qᵀk go on the small M×(Dv+1) key-value state, not on the features.
- V gets a column of ones: one product gives numerator and normaliser, and
  zeroing a key's [v, 1] row drops it from both (key_mask).
- Positions go block by block, so memory beyond inputs and output is
  O(C·M + M·Dv), never O(L·M). Causal blocks hold n sub-chunks of c positions:
  pairs inside a sub-chunk by the masked c×c quadratic form, earlier sub-chunks
  by a cumulative sum of their states, earlier blocks by one carried state.
- Without autograd (inference, the benchmark) every block reuses the same
  buffers and views prepared once, since at these sizes each tensor op costs
  more in dispatch than in arithmetic. With autograd every block makes fresh
  tensors, so nothing saved for backward is overwritten, and by default is
  recomputed in backward (torch.utils.checkpoint) rather than saved.
"""

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

# Elements per (batch·head) row that a block's temporaries may take: 2^16
# float32 = 256 KiB. Larger blocks mean fewer, larger tensor ops; smaller ones
# less memory. See block_size.
BLOCK_ELEMENTS = 1 << 16
SUB_CHUNK = 64  # causal: positions whose pairs are summed directly (c×c)
_MAX_BLOCK = 4096


def check_terms(terms: int) -> None:
    """Refuse a K that is not an odd integer >= 1 (ValueError)."""
    if isinstance(terms, bool) or not isinstance(terms, int) or terms < 1:
        raise ValueError(f"terms (K) must be an odd integer >= 1, got {terms!r}")
    if terms % 2 == 0:
        raise ValueError(
            f"terms (K) must be odd, got {terms}: only an even top degree K-1 keeps "
            "Σ_{n<K} tⁿ/n! positive for every t, so the normaliser never vanishes"
        )


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


class _Plan:
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
            # cached across calls: must not be an inference tensor (see _plan)
            with torch.inference_mode(False):
                powers = torch.pow(scale, self.degree).unsqueeze(-1)
                self._state_weight[scale] = self.weight * powers
        return self._state_weight[scale]


_PLANS: dict[tuple, _Plan] = {}


def _plan(terms: int, dim: int, device: torch.device, dtype: torch.dtype) -> _Plan:
    key = (terms, dim, str(device), dtype)
    if key not in _PLANS:
        # A plan built under torch.inference_mode would hold inference tensors,
        # which a later call with autograd cannot save for backward.
        with torch.inference_mode(False):
            _PLANS[key] = _Plan(terms, dim, device, dtype)
    return _PLANS[key]


class _FeatureSpace:
    """A reused (R, M, C) feature buffer and its views, prepared once (no autograd)."""

    def __init__(self, plan: _Plan, rows: int, size: int, dtype, device):
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


def mclaurin_features(x: Tensor, terms: int) -> Tensor:
    """φ(x): (..., D) -> (..., M) with φ(q)ᵀφ(k) = Σ_{n<K} (qᵀk)ⁿ/n! exactly.

    Order: [1, x_1..x_D, x_1²/√2..x_D²/√2, then x_i·x_j once per pair i ≠ j
    by cyclic offset, then degree 3, ...]; see monomial_layout.
    Any K >= 1 is allowed here (the attention itself needs K odd).
    """
    if isinstance(terms, bool) or not isinstance(terms, int) or terms < 1:
        raise ValueError(f"terms (K) must be an integer >= 1, got {terms!r}")
    plan = _plan(terms, x.shape[-1], x.device, x.dtype)
    flat = x.reshape(-1, x.shape[-1], 1)  # each vector a block of one position
    feats = plan.features(flat).squeeze(-1) * plan.weight_sqrt
    return feats.reshape(*x.shape[:-1], plan.size)


FORMS = ("linear", "quadratic", "auto")


def pick_form(
    terms: int, dim: int, len_q: int, len_k: int, dim_v: int | None = None
) -> str:
    """The cheaper way to evaluate the same McLaurin kernel: "linear" or "quadratic".

    Multiply-adds per (batch·head) row, ignoring constant factors the two
    share: the linear form builds M features for every query and key and
    multiplies them with the M×(Dv+1) state, (Lq + Lk)·M·(Dv + 2); the
    quadratic form scores every pair and weights the values, Lq·Lk·(D + Dv + K).
    With Lq = Lk = L and Dv = D: at D = 16, K = 3 (M = 153) they meet at
    L ≈ 157; at the ASR's head size D = 100 (M = 5,151) at L ≈ 5,180, far beyond
    any LJ Speech clip (at most about 700 encoder positions).
    """
    dim_v = dim if dim_v is None else dim_v
    linear = (len_q + len_k) * feature_dim(terms, dim) * (dim_v + 2)
    quadratic = len_q * len_k * (dim + dim_v + terms)
    return "quadratic" if quadratic <= linear else "linear"


def mclaurin_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    terms: int = 3,
    causal: bool = False,
    key_mask: Tensor | None = None,
    scale: float | None = None,
    chunk_size: int | None = None,
    recompute: bool = True,
    form: str = "linear",
) -> Tensor:
    """Linear attention with the K-term McLaurin kernel, in place of softmax.

    q: (B, H, Lq, D), k: (B, H, Lk, D), v: (B, H, Lk, Dv) -> (B, H, Lq, Dv);
    3-D (B, L, D) inputs give a 3-D output. key_mask: (B, Lk) bool, True for real
    keys; masked keys add nothing (a query with no visible key gets zeros).
    qᵀk is scaled by `scale` (default 1/√D, as in softmax attention). causal
    needs Lq == Lk (query i sees keys <= i). Computed in float32 (float64 for
    float64 input) with autocast off, returned in the input dtype. Positions go
    in blocks of `chunk_size` (default: block_size), so memory beyond inputs and
    output is O(C·M + M·Dv), never O(L·M). With autograd and `recompute`, a
    block's features are recomputed in backward rather than saved (which would
    keep L×M per row; about 2x the time of forward + backward at D=16).

    form: "linear" as above; "quadratic" evaluates the same kernel
    Σ_{n<K} (σqᵀk)ⁿ/n! on the Lq×Lk scores (O(Lq·Lk·D) time and Lq×Lk memory,
    like softmax attention; chunk_size and recompute do not apply); "auto" takes
    whichever pick_form says costs less for these lengths. Both give the same
    result up to rounding.
    NaN or inf in q, k or v: ValueError.
    """
    check_terms(terms)
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    squeeze = q.dim() == 3
    if squeeze:
        q, k, v = q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)
    _check_inputs(q, k, v, key_mask)
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"mclaurin_attention: causal needs Lq == Lk, got {q.shape[-2]} and "
            f"{k.shape[-2]}"
        )
    if chunk_size is not None and (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int)
        or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if scale is None:
        scale = q.shape[-1] ** -0.5
    if not math.isfinite(scale):
        raise ValueError(f"mclaurin_attention: scale must be finite, got {scale}")
    if form == "auto":
        form = pick_form(terms, q.shape[-1], q.shape[-2], k.shape[-2], v.shape[-1])
    with torch.autocast(device_type=q.device.type, enabled=False):
        if form == "quadratic":
            out = _quadratic(q, k, v, terms, causal, key_mask, scale)
        else:
            linear = _Linear(q, k, v, terms, key_mask, scale)
            linear.recompute = recompute and linear.grad
            out = linear.run(causal, chunk_size)
    _check_finite(out, q, k, v)
    return out.squeeze(1) if squeeze else out


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


def _check_inputs(q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not t.is_floating_point():
            raise ValueError(f"mclaurin_attention: {name} must be floating point")
        if t.dim() != 4:
            raise ValueError(
                f"mclaurin_attention: {name} must be (B, H, L, D) or (B, L, D), "
                f"got shape {tuple(t.shape)}"
            )
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(
            f"mclaurin_attention: q, k, v dtypes differ ({q.dtype}, {k.dtype}, "
            f"{v.dtype})"
        )
    if q.shape[:2] != k.shape[:2] or k.shape[:3] != v.shape[:3]:
        raise ValueError(
            "mclaurin_attention: shapes do not match: q (B, H, Lq, D), "
            f"k (B, H, Lk, D), v (B, H, Lk, Dv); got {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"mclaurin_attention: q and k head dims differ ({q.shape[-1]} vs "
            f"{k.shape[-1]})"
        )
    if key_mask is not None and (
        key_mask.dtype != torch.bool
        or tuple(key_mask.shape) != (k.shape[0], k.shape[2])
    ):
        raise ValueError(
            "mclaurin_attention: key_mask must be bool (B, Lk) = "
            f"{(k.shape[0], k.shape[2])}, got {key_mask.dtype} {tuple(key_mask.shape)}"
        )


def _check_finite(out: Tensor, q: Tensor, k: Tensor, v: Tensor) -> None:
    """Refuse a non-finite result, naming the input that caused it.

    A NaN or inf anywhere in q, k or v reaches the output, so one reduction of
    the output (no L×D temporary) covers the inputs; only on failure are the
    inputs searched.
    """
    if out.numel() == 0 or bool(torch.isfinite(torch.stack(torch.aminmax(out))).all()):
        return
    bad = [n for n, t in zip("qkv", (q, k, v), strict=True) if not t.isfinite().all()]
    if bad:
        raise ValueError(
            f"mclaurin_attention: {' and '.join(bad)} contain(s) NaN or inf"
        )
    raise ValueError(
        "mclaurin_attention: the result overflowed (|qᵀk| too large for the series)"
    )


class _Linear:
    """One call's working state; heads are folded into the batch: (N = B·H, L, D)."""

    def __init__(self, q, k, v, terms, key_mask, scale):
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
        self.plan = _plan(terms, dim, q.device, self.work)
        self.n_features = self.plan.size
        self.weight = self.plan.state_weight(scale)  # 1/α! · scale^|α|, (M, 1)
        self.grad = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v))
        self.recompute = False
        self.space: _FeatureSpace | None = None
        self.value_buf: Tensor | None = None

    def run(self, causal: bool, chunk_size: int | None) -> Tensor:
        self.pieces: list[Tensor] = []
        self.out = None
        if not self.grad:
            self.out = self.q.new_empty(self.rows, self.len_q, self.dim_v)
        if self.len_q:
            size = chunk_size or block_size(
                self.terms, self.dim, self.rows, causal, self.dim_v
            )
            if not causal:
                self._global(size)
            elif self.grad:
                self._causal_train(size)
            else:
                self._causal_infer(size)
        out = self.out if self.out is not None else torch.cat(self.pieces, dim=1)
        return out.to(self.dtype).reshape(self.out_shape)

    def features(self, x: Tensor) -> Tensor:
        """Monomials of x (R, C, D) as (R, M, C): fresh, or a reused buffer."""
        if self.grad:
            return self.plan.features(x.to(self.work).transpose(1, 2))
        space, shape = self.space, (x.shape[0], self.n_features, x.shape[1])
        if space is None or space.feats.shape != shape:
            self.space = space = None  # a short tail: let the old buffer go first
            self.space = space = _FeatureSpace(
                self.plan, x.shape[0], x.shape[1], self.work, x.device
            )
        return space.fill(x)

    def values(self, s: int, e: int) -> Tensor:
        """[v, 1] (N, C, Dv+1) for keys [s, e), masked keys zeroed."""
        v = self.v[:, s:e]
        mask = None if self.mask is None else self.mask[:, s:e]
        if self.grad:
            ve = F.pad(v.to(self.work), (0, 1), value=1.0)
            return ve if mask is None else ve * mask
        buf = self.value_buf
        if buf is None or buf.shape[1] != e - s:
            self.value_buf = buf = None
            self.value_buf = buf = v.new_ones(
                self.rows, e - s, self.dim_v + 1, dtype=self.work
            )
        buf[..., : self.dim_v].copy_(v)
        if mask is not None:
            buf[..., : self.dim_v].mul_(mask)
            buf[..., self.dim_v :].copy_(mask)
        return buf

    def emit(self, s: int, e: int, acc: Tensor) -> None:
        """Positions [s, e) of the output from acc = [numerator, normaliser]."""
        den = acc[..., self.dim_v :]
        if self.mask is not None or not self.len_k:  # no visible key: zeros
            den = den.clamp_min(torch.finfo(self.work).tiny)
        num = acc[..., : self.dim_v]
        if self.out is None:
            self.pieces.append(num / den)
        elif self.out.dtype == self.work:
            torch.div(num, den, out=self.out[:, s:e])
        else:
            self.out[:, s:e].copy_(num / den)

    def _global(self, size: int) -> None:
        """Non-causal: S = Σ_k φ(k)[v, 1]ᵀ block by block, then φ(q)ᵀS per block."""
        state = self.q.new_zeros(
            self.rows, self.n_features, self.dim_v + 1, dtype=self.work
        )
        for s in range(0, self.len_k, size):
            e = min(s + size, self.len_k)
            part = self._recompute(self._key_state, self.k[:, s:e], self.values(s, e))
            state = state + part if self.grad else state.add_(part)
        state = state * self.weight
        self.value_buf = None
        for s in range(0, self.len_q, size):
            e = min(s + size, self.len_q)
            self.emit(s, e, self._recompute(self._read, self.q[:, s:e], state))

    def _key_state(self, k: Tensor, values: Tensor) -> Tensor:
        """Φ(k)ᵀ[v, 1] of one block, unweighted: (N, M, Dv+1)."""
        return torch.bmm(self.features(k), values)

    def _read(self, q: Tensor, state: Tensor) -> Tensor:
        """Φ(q) S of one block: (N, C, Dv+1), numerator and normaliser."""
        return torch.bmm(self.features(q).transpose(1, 2), state)

    def _recompute(self, fn, *args):
        """fn(*args); with autograd, recomputed in backward instead of saved.

        A block's features are C×M per row: kept for backward they would grow
        to L×M, the memory linear attention is meant to avoid. Recomputing
        them costs about one more forward.
        """
        if not self.recompute:
            return fn(*args)
        return torch.utils.checkpoint.checkpoint(fn, *args, use_reentrant=False)

    def _blocks(self, size: int):
        """Causal blocks (s, e, n, c): n sub-chunks of c positions; a short tail."""
        sub = min(size, SUB_CHUNK)
        s = 0
        while s < self.len_q:
            n = min(size, self.len_q - s) // sub
            c = sub if n else self.len_q - s
            n = max(n, 1)
            yield s, s + n * c, n, c
            s += n * c

    def _causal_train(self, size: int) -> None:
        """Causal with autograd: the block recurrence with fresh tensors only."""
        carry = self.q.new_zeros(
            self.rows, self.n_features, self.dim_v + 1, dtype=self.work
        )  # unweighted state of all earlier blocks
        for s, e, n, c in self._blocks(size):
            q, k = self.q[:, s:e].to(self.work), self.k[:, s:e].to(self.work)
            acc, carry = self._recompute(
                self._causal_step, n, c, q, k, self.values(s, e), carry
            )
            self.emit(s, e, acc)

    def _causal_step(
        self, n: int, c: int, q: Tensor, k: Tensor, values: Tensor, carry: Tensor
    ) -> tuple[Tensor, Tensor]:
        """One block of n sub-chunks of c positions: (its [num, den], the carry)."""
        rows, size = self.rows, n * c
        qs, ks = q.reshape(rows * n, c, -1), k.reshape(rows * n, c, -1)
        vs = values.reshape(rows * n, c, -1)
        scores = torch.bmm(qs, ks.transpose(1, 2))
        acc = torch.bmm(_series(scores, self.terms, self.scale) * _lower(c, vs), vs)
        inc = torch.bmm(self.features(ks), vs).view(rows, n, self.n_features, -1)
        before = inc.cumsum(1) - inc + carry[:, None]  # all earlier sub-chunks
        after = before[:, -1] + inc[:, -1]
        before = (before * self.weight).view(rows * n, self.n_features, -1)
        acc = torch.baddbmm(acc, self.features(qs).transpose(1, 2), before)
        return acc.view(rows, size, -1), after

    def _causal_infer(self, size: int) -> None:
        """Causal without autograd: the same recurrence in reused buffers.

        Sub-chunk rows are ordered (n, N) here, so that the states of a block's
        sub-chunks, (n+1, N, M, Dv+1) with the carry in front, take a
        cumulative sum over the first dimension and stay contiguous.
        """
        space = None
        carry = None  # view of the previous block's total, (N, M, Dv+1)
        for s, e, n, c in self._blocks(size):
            if space is None or (space.n, space.c) != (n, c):
                space = None
                space = _CausalSpace(self, n, c)
            qs, ks = space.split(self.q, s, e), space.split(self.k, s, e)
            values = space.load_values(self, s, e)
            torch.bmm(qs, ks.transpose(1, 2), out=space.scores)
            torch.bmm(space.kernel(self), values, out=space.acc)
            if carry is None and n == 1:  # nothing earlier to read
                if e < self.len_q:
                    carry = torch.bmm(space.feats.fill(ks), values)
            else:
                if carry is None:
                    space.states[0].zero_()
                else:
                    space.states[0].copy_(carry)
                torch.bmm(space.feats.fill(ks), values, out=space.increments)
                torch.cumsum(space.states, 0, out=space.prefix)
                carry = space.prefix[n]
                space.before.mul_(self.weight)
                space.acc.baddbmm_(space.feats.fill(qs).transpose(1, 2), space.before)
            space.emit(self, s, e)


def _quadratic(q, k, v, terms, causal, key_mask, scale) -> Tensor:
    """The McLaurin kernel on all Lq×Lk pairs, normalised: (B, H, Lq, Dv)."""
    work = torch.float64 if q.dtype == torch.float64 else torch.float32
    kernel = _series(q.to(work) @ k.to(work).transpose(-1, -2), terms, scale)
    visible = None
    if key_mask is not None:
        visible = key_mask[:, None, None, :]  # (B, 1, 1, Lk)
    if causal:
        lower = _lower(q.shape[-2], kernel).bool()
        visible = lower if visible is None else visible & lower
    if visible is not None:
        kernel = torch.where(visible, kernel, 0.0)
    den = kernel.sum(-1, keepdim=True)
    if visible is not None or not k.shape[-2]:  # no visible key: zeros
        den = den.clamp_min(torch.finfo(work).tiny)
    return ((kernel @ v.to(work)) / den).to(q.dtype)


def _series(scores: Tensor, terms: int, scale: float) -> Tensor:
    """Σ_{n<K} (σt)ⁿ/n! elementwise by Horner, σ = scale (fresh tensors)."""
    if terms == 1:
        return torch.ones_like(scores)
    one = scores.new_ones(())
    acc = torch.add(one, scores, alpha=scale / (terms - 1))
    for n in range(terms - 2, 0, -1):
        acc = torch.addcmul(one, scores, acc, value=scale / n)
    return acc


def _lower(c: int, like: Tensor) -> Tensor:
    """The c×c causal mask as 0/1, for a multiply.

    Not tril/tril_: they hand even a 4×4 matrix to the thread pool, which on a
    busy machine costs milliseconds per call.
    """
    i = torch.arange(c, device=like.device)
    return (i[:, None] >= i[None, :]).to(like.dtype)


class _CausalSpace:
    """Buffers and views for causal blocks of n sub-chunks of c positions."""

    def __init__(self, lin: _Linear, n: int, c: int):
        rows, m, dv = lin.rows, lin.n_features, lin.dim_v
        kw = {"dtype": lin.work, "device": lin.q.device}
        self.n, self.c, self.rows = n, c, rows
        self.feats = _FeatureSpace(lin.plan, n * rows, c, lin.work, lin.q.device)
        self.values = torch.ones(n, rows, c, dv + 1, **kw)
        self.values_flat = self.values.view(n * rows, c, dv + 1)
        self.scores = torch.empty(n * rows, c, c, **kw)
        self.series = torch.empty(n * rows, c, c, **kw) if lin.terms > 3 else None
        self.lower = _lower(c, self.scores)
        self.scaled_lower = self.lower * lin.scale
        self.one = self.scores.new_ones(())
        self.acc = torch.empty(n * rows, c, dv + 1, **kw)
        acc = self.acc.view(n, rows, c, dv + 1)
        self.num, self.den = acc[..., :dv], acc[..., dv:]
        self.states = torch.empty(n + 1, rows, m, dv + 1, **kw)
        self.increments = self.states[1:].view(n * rows, m, dv + 1)
        self.prefix = torch.empty_like(self.states)
        self.before = self.prefix[:n].view(n * rows, m, dv + 1)

    def split(self, x: Tensor, s: int, e: int) -> Tensor:
        """Positions [s, e) of x (N, L, D) as sub-chunk rows (n·N, c, D)."""
        chunks = x[:, s:e].unflatten(1, (self.n, self.c)).transpose(0, 1)
        return chunks.reshape(self.n * self.rows, self.c, -1).to(self.scores.dtype)

    def load_values(self, lin: _Linear, s: int, e: int) -> Tensor:
        """[v, 1] of positions [s, e) into the buffer, masked keys zeroed."""
        dv = lin.dim_v
        self.values[..., :dv].copy_(
            lin.v[:, s:e].unflatten(1, (self.n, self.c)).transpose(0, 1)
        )
        if lin.mask is not None:
            mask = lin.mask[:, s:e].unflatten(1, (self.n, self.c)).transpose(0, 1)
            self.values[..., :dv].mul_(mask)
            self.values[..., dv:].copy_(mask)
        return self.values_flat

    def kernel(self, lin: _Linear) -> Tensor:
        """The masked series of the scores, in place where it can be."""
        scores = self.scores
        if lin.terms == 1:
            return self.lower.expand_as(scores)
        if lin.terms == 3:  # L ⊙ (1 + σs + (σs)²/2) = L + σL ⊙ (s + σs²/2)
            scores.addcmul_(scores, scores, value=lin.scale / 2)
            return scores.mul_(self.scaled_lower).add_(self.lower)
        acc = self.series
        torch.add(self.one, scores, alpha=lin.scale / (lin.terms - 1), out=acc)
        for n in range(lin.terms - 2, 0, -1):
            torch.addcmul(self.one, scores, acc, value=lin.scale / n, out=acc)
        return acc.mul_(self.lower)

    def emit(self, lin: _Linear, s: int, e: int) -> None:
        """Positions [s, e) of the output from the block's [numerator, normaliser]."""
        if lin.mask is not None:  # a query whose keys are all masked gets zeros
            self.den.clamp_min_(torch.finfo(self.den.dtype).tiny)
        out = lin.out[:, s:e].unflatten(1, (self.n, self.c)).transpose(0, 1)
        if out.dtype == self.num.dtype:
            torch.div(self.num, self.den, out=out)
        else:
            out.copy_(self.num / self.den)
