"""McLaurin attention: softmax's exp(σqᵀk) replaced by its truncated Taylor series.

The kernel Σ_{n<K} (σqᵀk)ⁿ/n! (K odd, so that it stays positive) is evaluated in
one of two forms that give the same numbers up to rounding:
- "linear": through the exact feature map φ(q)ᵀφ(k) = Σ_{n<K} (qᵀk)ⁿ/n! with
  M = Σ_{n<K} C(n+D-1, n) features (hw2.attention.feature_map), so that attention
  costs O(L·M·D) instead of O(L²·D): Z = Φ(Q)(Φ(K)ᵀV) / Φ(Q)(Φ(K)ᵀ1)
  (hw2.attention.linear; without autograd, hw2.attention.inference);
- "quadratic": on all Lq×Lk scores, like softmax attention.
pick_form says which costs less for given sizes; form="auto" takes it per call.
"""

import math

import torch
from torch import Tensor

from hw2.attention.feature_map import feature_dim, series
from hw2.attention.inference import FastLinear
from hw2.attention.linear import Inputs, linear_attention, lower


def check_terms(terms: int) -> None:
    """Refuse a K that is not an odd integer >= 1 (ValueError)."""
    if isinstance(terms, bool) or not isinstance(terms, int) or terms < 1:
        raise ValueError(f"terms (K) must be an odd integer >= 1, got {terms!r}")
    if terms % 2 == 0:
        raise ValueError(
            f"terms (K) must be odd, got {terms}: only an even top degree K-1 keeps "
            "Σ_{n<K} tⁿ/n! positive for every t, so the normaliser never vanishes"
        )


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
    check_finite: bool = True,
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
    NaN or inf in q, k or v: ValueError. That check reads the result back (a
    device sync per call on a GPU); check_finite=False skips it and lets NaN
    and inf through to the output, as softmax attention does.
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
            x = Inputs(q, k, v, terms, key_mask, scale)
            out = _linear(x, causal, chunk_size, recompute)
    if check_finite:
        _check_finite(out, q, k, v)
    return out.squeeze(1) if squeeze else out


def _linear(x: Inputs, causal: bool, chunk_size: int | None, recompute: bool):
    """The linear form: with autograd its one implementation, else the fast path.

    Both give the same numbers up to rounding; the fast path reuses buffers,
    which autograd could not save for backward.
    """
    if not x.len_q or not x.rows:
        return x.q.new_zeros(x.out_shape)
    size = x.block_size(causal, chunk_size)
    if torch.is_grad_enabled() and any(t.requires_grad for t in (x.q, x.k, x.v)):
        return x.finish(linear_attention(x, causal, size, recompute))
    return x.finish(FastLinear(x).run(causal, size))


def _quadratic(q, k, v, terms, causal, key_mask, scale) -> Tensor:
    """The McLaurin kernel on all Lq×Lk pairs, normalised: (B, H, Lq, Dv)."""
    work = torch.float64 if q.dtype == torch.float64 else torch.float32
    kernel = series(q.to(work) @ k.to(work).transpose(-1, -2), terms, scale)
    visible = None
    if key_mask is not None:
        visible = key_mask[:, None, None, :]  # (B, 1, 1, Lk)
    if causal:
        tri = lower(q.shape[-2], kernel).bool()
        visible = tri if visible is None else visible & tri
    if visible is not None:
        kernel = torch.where(visible, kernel, 0.0)
    den = kernel.sum(-1, keepdim=True)
    if visible is not None or not k.shape[-2]:  # no visible key: zeros
        den = den.clamp_min(torch.finfo(work).tiny)
    return ((kernel @ v.to(work)) / den).to(q.dtype)


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
