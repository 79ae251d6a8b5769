"""McLaurin linear attention: the feature identity, agreement with the quadratic
form it linearises, masks, dtypes, gradients and bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from hw2.attention.feature_map import (
    _PLANS,
    feature_dim,
    monomial_layout,
    plan,
)
from hw2.attention.inference import FastLinear
from hw2.attention.linear import Inputs, linear_attention
from hw2.attention.mclaurin import FORMS, check_terms, mclaurin_attention, pick_form


def mclaurin_features(x: torch.Tensor, terms: int) -> torch.Tensor:
    """φ(x): (..., D) -> (..., M) with φ(q)ᵀφ(k) = Σ_{n<K} (qᵀk)ⁿ/n! exactly.

    Order: [1, x_1..x_D, x_1²/√2..x_D²/√2, then x_i·x_j once per pair i ≠ j
    by cyclic offset, then degree 3, ...]; see monomial_layout.
    Any K >= 1 is allowed here (the attention itself needs K odd).
    """
    if isinstance(terms, bool) or not isinstance(terms, int) or terms < 1:
        raise ValueError(f"terms (K) must be an integer >= 1, got {terms!r}")
    p = plan(terms, x.shape[-1], x.device, x.dtype)
    flat = x.reshape(-1, x.shape[-1], 1)  # each vector a block of one position
    feats = p.features(flat).squeeze(-1) * p.weight_sqrt
    return feats.reshape(*x.shape[:-1], p.size)


def series(t: torch.Tensor, terms: int) -> torch.Tensor:
    """Σ_{n<K} tⁿ/n!, the kernel the feature map reproduces."""
    return sum(t**n / math.factorial(n) for n in range(terms))


def quadratic(q, k, v, terms, causal=False, key_mask=None):
    """The same kernel attention computed the O(L²) way: the reference."""
    weights = series(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), terms)
    if causal:
        weights = weights.tril()
    if key_mask is not None:
        weights = weights * key_mask[:, None, None, :]
    return weights @ v / weights.sum(-1, keepdim=True)


def randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(
        *shape, generator=torch.Generator().manual_seed(seed), dtype=dtype
    )


@pytest.mark.parametrize("terms", [1, 3, 5])
@pytest.mark.parametrize("dim", [1, 4, 5, 16])
def test_features_reproduce_the_series(terms, dim):
    x, y = randn(20, dim, seed=1) * 0.6, randn(20, dim, seed=2) * 0.6
    got = (mclaurin_features(x, terms) * mclaurin_features(y, terms)).sum(-1)
    torch.testing.assert_close(got, series((x * y).sum(-1), terms), rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("terms", "dim", "m"),
    [(1, 7, 1), (2, 7, 8), (3, 16, 153), (3, 5, 21), (5, 16, 4845), (4, 3, 20)],
)
def test_feature_count_is_m(terms, dim, m):
    assert feature_dim(terms, dim) == m
    assert mclaurin_features(randn(2, dim), terms).shape == (2, m)
    for n, monomials in enumerate(monomial_layout(terms, dim)):
        assert len(set(monomials)) == len(monomials) == math.comb(n + dim - 1, n)


def test_three_terms_are_one_x_squares_and_cross_products():
    x = torch.tensor([2.0, 3.0, 5.0], dtype=torch.float64)
    got = sorted(mclaurin_features(x, 3).tolist())
    squares = [v * v / math.sqrt(2) for v in x.tolist()]
    expected = sorted([1.0, 2.0, 3.0, 5.0, *squares, 6.0, 10.0, 15.0])
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("terms", [1, 3, 5])
@pytest.mark.parametrize("causal", [False, True])
def test_equals_the_quadratic_form(terms, causal):
    q, k, v = (
        randn(2, 3, 150, 6, seed=3),
        randn(2, 3, 150, 6, seed=4),
        randn(2, 3, 150, 5, seed=5),
    )
    got = mclaurin_attention(q, k, v, terms=terms, causal=causal)
    torch.testing.assert_close(
        got, quadratic(q, k, v, terms, causal), rtol=0, atol=1e-12
    )


def test_cross_attention_lengths_may_differ():
    q, k, v = randn(2, 1, 7, 4, seed=1), randn(2, 1, 31, 4, seed=2), randn(2, 1, 31, 4)
    got = mclaurin_attention(q, k, v, chunk_size=8)
    torch.testing.assert_close(got, quadratic(q, k, v, 3), rtol=0, atol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("chunk", [1, 5, 64, 100, 128, 200, 1000])
def test_chunk_size_does_not_change_the_result(causal, chunk):
    q, k, v = (randn(1, 2, 333, 4, seed=s) for s in (6, 7, 8))
    whole = mclaurin_attention(q, k, v, causal=causal, chunk_size=10_000)
    got = mclaurin_attention(q, k, v, causal=causal, chunk_size=chunk)
    torch.testing.assert_close(got, whole, rtol=0, atol=1e-12)


def test_masked_keys_are_as_if_dropped():
    q, k, v = randn(2, 2, 9, 4, seed=1), randn(2, 2, 40, 4, seed=2), randn(2, 2, 40, 3)
    mask = randn(2, 40, seed=9) > 0
    got = mclaurin_attention(q, k, v, key_mask=mask, chunk_size=16)
    for b in range(2):
        keep = mask[b]
        alone = mclaurin_attention(
            q[b : b + 1], k[b : b + 1, :, keep], v[b : b + 1, :, keep]
        )
        torch.testing.assert_close(got[b : b + 1], alone, rtol=0, atol=1e-12)


def test_causal_mask_and_a_query_with_no_visible_key():
    q, k, v = (randn(1, 1, 70, 4, seed=s) for s in (1, 2, 3))
    mask = randn(1, 70, seed=4) > 0
    mask[0, :3] = False  # the first three queries see nothing
    got = mclaurin_attention(q, k, v, causal=True, key_mask=mask, chunk_size=32)
    assert torch.equal(got[0, 0, :3], torch.zeros(3, 4, dtype=torch.float64))
    want = quadratic(q, k, v, 3, causal=True, key_mask=mask)
    torch.testing.assert_close(got[..., 3:, :], want[..., 3:, :], rtol=0, atol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
def test_error_against_softmax_falls_with_more_terms(causal):
    q, k = randn(1, 2, 256, 8, seed=1) * 0.5, randn(1, 2, 256, 8, seed=2) * 0.5
    v = randn(1, 2, 256, 8, seed=3)
    exact = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    errors = [
        float((mclaurin_attention(q, k, v, terms=t, causal=causal) - exact).norm())
        / float(exact.norm())
        for t in (1, 3, 5, 7)
    ]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 1e-3 < errors[0]


@pytest.mark.parametrize("causal", [False, True])
def test_gradients_match_finite_differences(causal):
    q, k, v = (randn(1, 2, 10, 3, seed=s).requires_grad_() for s in (1, 2, 3))
    mask = torch.tensor([[True] * 8 + [False, True]])

    def fn(q, k, v):
        return mclaurin_attention(q, k, v, causal=causal, key_mask=mask, chunk_size=4)

    assert torch.autograd.gradcheck(fn, (q, k, v))


def test_training_and_inference_paths_agree():
    q, k, v = (randn(2, 2, 300, 8, seed=s, dtype=torch.float32) for s in (1, 2, 3))
    for causal in (False, True):
        with torch.no_grad():
            plain = mclaurin_attention(q, k, v, causal=causal)
        q.requires_grad_()
        tracked = mclaurin_attention(q, k, v, causal=causal)
        tracked.sum().backward()
        q.requires_grad_(False)
        torch.testing.assert_close(tracked.detach(), plain, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("terms", [1, 3, 5])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("chunk", [5, 64, 1000])
def test_fast_path_computes_what_the_autograd_implementation_does(terms, causal, chunk):
    q, k, v = (randn(2, 2, 203, 4, seed=s) for s in (1, 2, 3))
    mask = randn(2, 203, seed=4) > -0.5
    x = Inputs(q, k, v, terms, mask, 0.5)
    size = x.block_size(causal, chunk)
    fast = FastLinear(x).run(causal, size)
    tracked = linear_attention(x, causal, size, recompute=False)
    torch.testing.assert_close(fast, tracked, rtol=0, atol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
def test_recomputing_features_changes_no_gradient(causal):
    grads = []
    for recompute in (True, False):
        q, k, v = (randn(2, 2, 150, 4, seed=s).requires_grad_() for s in (1, 2, 3))
        out = mclaurin_attention(q, k, v, causal=causal, recompute=recompute)
        out.square().sum().backward()
        grads.append([out.detach(), q.grad, k.grad, v.grad])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_input_is_computed_in_float32(dtype):
    q, k, v = (
        randn(1, 2, 200, 8, seed=s, dtype=torch.float32).to(dtype) for s in (1, 2, 3)
    )
    for causal in (False, True):
        got = mclaurin_attention(q, k, v, causal=causal)
        assert got.dtype == dtype
        wide = mclaurin_attention(q.float(), k.float(), v.float(), causal=causal)
        torch.testing.assert_close(got, wide.to(dtype), rtol=0, atol=0)


def test_autocast_does_not_lower_the_precision():
    q, k, v = (randn(1, 1, 100, 8, seed=s, dtype=torch.float32) for s in (1, 2, 3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = mclaurin_attention(q, k, v, causal=True)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, mclaurin_attention(q, k, v, causal=True))


def test_three_dimensional_input():
    q, k, v = (randn(2, 30, 4, seed=s) for s in (1, 2, 3))
    got = mclaurin_attention(q, k, v, causal=True)
    assert got.shape == (2, 30, 4)
    torch.testing.assert_close(
        got, mclaurin_attention(q[:, None], k[:, None], v[:, None], causal=True)[:, 0]
    )


@pytest.mark.parametrize("terms", [0, 2, 4, -1, 3.0, True])
def test_bad_number_of_terms(terms):
    q = randn(1, 1, 4, 2)
    with pytest.raises(ValueError, match="terms"):
        mclaurin_attention(q, q, q, terms=terms)
    with pytest.raises(ValueError, match="terms"):
        check_terms(terms)


def test_even_terms_says_why():
    with pytest.raises(ValueError, match="must be odd.*normaliser"):
        check_terms(4)


@pytest.mark.parametrize("name", ["q", "k", "v"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("causal", [False, True])
def test_nan_or_inf_input_is_refused_by_name(name, bad, causal):
    t = {n: randn(1, 2, 90, 4, seed=i) for i, n in enumerate("qkv")}
    t[name][0, 1, 77, 2] = bad
    with pytest.raises(ValueError, match=f"{name} contain"):
        mclaurin_attention(t["q"], t["k"], t["v"], causal=causal, chunk_size=32)


@pytest.mark.parametrize("form", ["linear", "quadratic"])
def test_unchecked_nan_propagates_as_in_softmax(form):
    q, k, v = (randn(1, 2, 40, 4, seed=s) for s in (1, 2, 3))
    v[0, 1, 7, 2] = math.nan  # reaches that column for every query of its head
    out = mclaurin_attention(q, k, v, form=form, check_finite=False)
    soft = F.scaled_dot_product_attention(q, k, v)
    assert torch.equal(out.isnan(), soft.isnan())
    assert out.isnan().sum() == 40


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        (((1, 1, 4, 2), (1, 1, 4, 3), (1, 1, 4, 2)), "head dims"),
        (((1, 1, 4, 2), (1, 2, 4, 2), (1, 2, 4, 2)), "shapes do not match"),
        (((1, 4, 2), (1, 4, 2), (1, 5, 2)), "shapes do not match"),
        (((4, 2), (4, 2), (4, 2)), "must be"),
    ],
)
def test_bad_shapes(shapes, match):
    q, k, v = (torch.zeros(s) for s in shapes)
    with pytest.raises(ValueError, match=match):
        mclaurin_attention(q, k, v)


def test_causal_needs_equal_lengths_and_masks_need_bool():
    q, k = randn(1, 1, 3, 2), randn(1, 1, 5, 2)
    with pytest.raises(ValueError, match="causal"):
        mclaurin_attention(q, k, k, causal=True)
    with pytest.raises(ValueError, match="key_mask"):
        mclaurin_attention(q, k, k, key_mask=torch.ones(1, 5))


@pytest.mark.parametrize("causal", [False, True])
def test_strided_inputs_as_from_a_head_split(causal):
    x = randn(2, 300, 3, 8, seed=1)  # (B, L, H, D), as a projection then view gives
    q = k = v = x.transpose(1, 2)
    got = mclaurin_attention(q, k, v, causal=causal)
    torch.testing.assert_close(
        got,
        quadratic(*(t.contiguous() for t in (q, k, v)), 3, causal),
        rtol=0,
        atol=1e-12,
    )


def test_cached_plans_from_inference_mode_serve_autograd_later():
    _PLANS.clear()
    q, k, v = (torch.randn(1, 1, 8, 5) for _ in range(3))
    with torch.inference_mode():
        mclaurin_attention(q, k, v)  # builds and caches the (K, D) plan
    q.requires_grad_(True)
    mclaurin_attention(q, k, v).sum().backward()
    assert q.grad is not None and torch.isfinite(q.grad).all()


@pytest.mark.parametrize("terms", [1, 3, 5])
@pytest.mark.parametrize("causal", [False, True])
def test_quadratic_form_gives_the_linear_result(terms, causal):
    q, k, v = (randn(2, 3, 50, 6, seed=s) * 0.7 for s in (1, 2, 3))
    mask = None if causal else torch.arange(50)[None, :] < torch.tensor([[50], [31]])
    kw = {"terms": terms, "causal": causal, "key_mask": mask}
    linear = mclaurin_attention(q, k, v, **kw)
    quad = mclaurin_attention(q, k, v, form="quadratic", **kw)
    torch.testing.assert_close(quad, linear, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(quad, quadratic(q, k, v, terms, causal, mask))


def test_quadratic_form_query_with_no_visible_key_gets_zeros():
    q, k, v = (randn(2, 1, 5, 4, seed=s) for s in (1, 2, 3))
    mask = torch.tensor([[True] * 5, [False] * 5])
    out = mclaurin_attention(q, k, v, key_mask=mask, form="quadratic")
    assert out[1].abs().max() == 0 and out[0].abs().max() > 0


@pytest.mark.parametrize("causal", [False, True])
def test_quadratic_form_gradients_match_finite_differences(causal):
    q, k, v = (randn(1, 2, 5, 3, seed=s).requires_grad_() for s in (1, 2, 3))
    torch.autograd.gradcheck(
        lambda q, k, v: mclaurin_attention(
            q, k, v, terms=3, causal=causal, form="quadratic"
        ),
        (q, k, v),
    )


def test_quadratic_form_computes_in_float32_and_refuses_nan():
    q, k, v = (randn(1, 1, 9, 4, seed=s, dtype=torch.float32) for s in (1, 2, 3))
    ref = mclaurin_attention(q, k, v, form="quadratic")
    got = mclaurin_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), form="quadratic")
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), ref, rtol=0.05, atol=0.05)
    k[0, 0, 3, 1] = math.nan
    with pytest.raises(ValueError, match="k contain"):
        mclaurin_attention(q, k, v, form="quadratic")


def test_auto_form_takes_the_cheaper_side_of_the_crossover():
    # D = 16, K = 3: M = 153, (2L)·153·18 = L²·35 at L ≈ 157
    assert pick_form(3, 16, 150, 150) == "quadratic"
    assert pick_form(3, 16, 160, 160) == "linear"
    assert pick_form(3, 16, 16384, 16384) == "linear"
    # the ASR's head size D = 100 (M = 5,151): every clip and decoding step
    assert pick_form(3, 100, 1377, 1377) == "quadratic"
    assert pick_form(3, 100, 1, 99) == "quadratic"
    assert pick_form(3, 100, 6000, 6000) == "linear"
    assert pick_form(1, 8, 1000, 1000) == "linear"  # M = 1: O(L) wins early


def test_auto_form_agrees_with_both_forms():
    for length in (40, 400):  # one either side of the D = 16 crossover
        q, k, v = (randn(1, 2, length, 16, seed=s) * 0.5 for s in (1, 2, 3))
        auto = mclaurin_attention(q, k, v, form="auto", causal=True)
        for form in ("linear", "quadratic"):
            got = mclaurin_attention(q, k, v, form=form, causal=True)
            torch.testing.assert_close(auto, got, rtol=1e-10, atol=1e-12)


def test_unknown_form_is_refused():
    q = randn(1, 1, 4, 2)
    with pytest.raises(ValueError, match="form must be one of"):
        mclaurin_attention(q, q, q, form="fast")
    assert FORMS == ("linear", "quadratic", "auto")
