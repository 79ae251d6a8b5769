"""The CUDA path's dtypes, checked on the CPU: McLaurin attention, an ASR training
step, evaluation and cached greedy decoding under bf16 autocast, as train_asr runs
them on a GPU (there with device_type "cuda")."""

import pytest
import torch
from tiny_asr import DECODERS, KINDS, padded_batch, tiny_model

from hw2.asr.batching import Batch
from hw2.asr.decoding import greedy_decode
from hw2.asr.model import DecodingCache
from hw2.asr.scoring import token_loss
from hw2.attention.mclaurin import mclaurin_attention
from hw2.speech.text import EOS, PAD, SOS

pytestmark = pytest.mark.usefixtures("one_thread")


def bf16_autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16)


def randn(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("form", ["linear", "quadratic"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_mclaurin_attention_under_autocast(form, causal, dtype):
    q, k, v = (
        randn(2, 2, 150, 8, seed=s).to(dtype).requires_grad_() for s in (1, 2, 3)
    )
    mask = torch.arange(150)[None, :] < torch.tensor([[150], [97]])
    with bf16_autocast():
        # as in the model: q, k, v come out of autocast's bf16 projections
        out = mclaurin_attention(
            q, k, v, causal=causal, key_mask=mask, form=form, check_finite=False
        )
        loss = out.float().square().mean()
    loss.backward()
    assert out.dtype == dtype and torch.isfinite(out).all()
    for t in (q, k, v):
        assert t.grad.dtype == dtype and torch.isfinite(t.grad).all()
    with torch.no_grad():
        wide = mclaurin_attention(
            *(t.double() for t in (q, k, v)), causal=causal, key_mask=mask, form=form
        )
    torch.testing.assert_close(out.double(), wide, rtol=0.02, atol=0.02)


def batch(lengths, n_tokens, seed=2) -> Batch:
    mel, n_frames = padded_batch(lengths, dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(4, 35, (len(lengths), max(n_tokens)), generator=g)
    tokens[:, 0] = SOS
    for i, n in enumerate(n_tokens):
        tokens[i, n - 1] = EOS
        tokens[i, n:] = PAD
    n = len(lengths)
    return Batch(mel, n_frames, tokens, torch.tensor(n_tokens), torch.arange(n))


@pytest.mark.parametrize("attention", KINDS)
@pytest.mark.parametrize("decoder", DECODERS)
def test_training_step_and_evaluation_under_autocast(decoder, attention):
    model = tiny_model(decoder, attention, dtype=torch.float32).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    b = batch([23, 9, 16], [12, 5, 9])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    with bf16_autocast():
        loss, n = token_loss(model, b, label_smoothing=0.1)
    assert loss.dtype == torch.float32 and torch.isfinite(loss) and n == 23
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    for name, p in model.named_parameters():
        assert p.dtype == torch.float32 and torch.isfinite(p).all(), name
        assert not torch.equal(p, before[name]), f"{name} was not trained"
    model.eval()
    with torch.no_grad(), bf16_autocast():
        val, _ = token_loss(model, b, label_smoothing=0.1)
    assert val.dtype == torch.float32 and torch.isfinite(val)


@pytest.mark.parametrize("attention", KINDS)
@pytest.mark.parametrize("decoder", DECODERS)
def test_cached_decoding_under_autocast(decoder, attention):
    model = tiny_model(decoder, attention, dtype=torch.float32)
    mel, n_frames = padded_batch([21, 8, 15], dtype=torch.float32)
    tokens = torch.randint(4, 35, (3, 10), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        audio, mask = model.encoder(mel, n_frames)
        wide = model.decoder(tokens, audio, mask)  # float32 throughout
    with torch.no_grad(), bf16_autocast():
        audio, mask = model.encoder(mel, n_frames)
        full = model.decoder(tokens, audio, mask)
        cache = DecodingCache()
        steps = [
            model.decoder(tokens[:, t : t + 1], audio, mask, cache) for t in range(10)
        ]
        decoded = greedy_decode(model, mel, n_frames, max_tokens=30, stop_early=False)
    assert audio.dtype == full.dtype == torch.bfloat16  # autocast did take over
    # bf16 may round the cached and the full computation differently
    torch.testing.assert_close(
        torch.cat(steps, dim=1).float(), full.float(), rtol=0.02, atol=0.02
    )
    torch.testing.assert_close(full.float(), wide, rtol=0.02, atol=0.03)
    assert decoded.dtype == torch.long and decoded.shape == (3, 30)
    assert torch.all(decoded[:, 0] == SOS)
    assert int(decoded.max()) < 35 and int(decoded.min()) >= 0


@pytest.mark.parametrize("cpu_bf16", [True, False])
def test_cpu_bf16_decides_the_training_steps_precision(cpu_bf16):
    # asr.cpu_bf16: the step's matrix products run in bf16 on the CPU, or in float32
    from tiny_asr import tiny_dims

    from hw2.asr.config import ASRConfig
    from hw2.asr.step import start, train_step

    config = ASRConfig(dims=tiny_dims(), cpu_bf16=cpu_bf16)
    model, optimizer, scheduler = start(config, torch.device("cpu"), 10)
    seen = []
    hook = model.decoder.head.register_forward_hook(
        lambda module, args, out: seen.append(out.dtype)
    )
    mel, n_frames = padded_batch([12, 9], dtype=torch.float32)
    tokens = torch.tensor([[SOS, 5, 6, EOS], [SOS, 7, EOS, PAD]])
    batch = Batch(mel, n_frames, tokens, torch.tensor([4, 3]), torch.arange(2))
    loss, n_tokens = train_step(model, batch, optimizer, scheduler, config)
    hook.remove()
    assert seen == [torch.bfloat16 if cpu_bf16 else torch.float32]
    assert n_tokens == 5 and 0 < loss < 10
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights
