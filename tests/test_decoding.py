"""Greedy decoding: the cached path gives exactly the tokens of full recomputation."""

import pytest
import torch
from tiny_asr import padded_batch, tiny_model

from hw2.asr.decoding import greedy_decode
from hw2.asr.model import TEXT_POSITIONS, DecodingCache, MultiHeadAttention
from hw2.speech.text import EOS, MAX_TOKENS, PAD, SOS

pytestmark = pytest.mark.usefixtures("one_thread")

MODELS = [
    ("transformer", "softmax"),
    ("lstm", "softmax"),
    ("transformer", "mclaurin"),
    ("lstm", "mclaurin-all"),  # cross-attention McLaurin too
]


def model_and_batch(decoder, attention, seed=0):
    model = tiny_model(decoder, attention, seed=seed)
    with torch.no_grad():  # greedy picks that vary from step to step
        model.decoder.head.weight.mul_(20)  # sharper logits
        if decoder == "lstm":  # an untrained LSTM settles into one state
            model.decoder.lstm.weight_ih_l0.mul_(5)
            model.decoder.lstm.weight_hh_l0.mul_(5)
    mel, n_frames = padded_batch([21, 8, 15, 30])
    return model, mel, n_frames


@pytest.mark.parametrize(("decoder", "attention"), MODELS)
def test_cache_gives_the_same_tokens_as_recomputing(decoder, attention):
    model, mel, n_frames = model_and_batch(decoder, attention)
    kw = {"max_tokens": MAX_TOKENS, "stop_early": False}  # every text position
    cached = greedy_decode(model, mel, n_frames, **kw)
    full = greedy_decode(model, mel, n_frames, use_cache=False, **kw)
    assert cached.shape == (4, MAX_TOKENS)
    assert len(cached.unique()) > 2  # not one repeated token: a real comparison
    assert torch.equal(cached, full)


@pytest.mark.parametrize(("decoder", "attention"), MODELS)
def test_cached_logits_match_the_full_prefix(decoder, attention):
    model, mel, n_frames = model_and_batch(decoder, attention)
    tokens = torch.randint(4, 35, (4, 12))
    with torch.no_grad():
        audio, mask = model.encoder(mel, n_frames)
        full = model.decoder(tokens, audio, mask)
        cache = DecodingCache()
        steps = [
            model.decoder(tokens[:, t : t + 1], audio, mask, cache) for t in range(12)
        ]
    torch.testing.assert_close(torch.cat(steps, dim=1), full)
    assert cache.offset == 12
    attentions = {
        m for m in model.decoder.modules() if isinstance(m, MultiHeadAttention)
    }
    assert set(cache.keys_values) == attentions  # self (if any) and cross
    for module, (k, v) in cache.keys_values.items():
        is_self = module is getattr(model.decoder.block, "attn", None)
        assert k.shape[2] == v.shape[2] == (12 if is_self else audio.shape[1])
    assert (cache.lstm is not None) == (decoder == "lstm")


def test_decoding_fills_every_text_position_and_no_more():
    model, mel, n_frames = model_and_batch("transformer", "softmax")
    tokens = greedy_decode(model, mel, n_frames, stop_early=False)
    assert tokens.shape[1] - 1 == TEXT_POSITIONS  # the last token is never fed
    with pytest.raises(ValueError, match="exceed the decoder"):
        greedy_decode(model, mel, n_frames, max_tokens=MAX_TOKENS + 1)


def test_sequences_start_with_sos_and_pad_after_stop():
    model, mel, n_frames = model_and_batch("transformer", "softmax")
    with torch.no_grad():  # make the stop token win from the third step on
        model.decoder.head.bias[EOS] = 0.0
    tokens = greedy_decode(model, mel, n_frames, max_tokens=20, stop_early=False)
    assert tokens.shape == (4, 20)
    assert torch.all(tokens[:, 0] == SOS)
    for row in tokens.tolist():
        if EOS in row:
            assert set(row[row.index(EOS) + 1 :]) <= {PAD}
    with torch.no_grad():
        model.decoder.head.bias[EOS] = 1e6
    stopped = greedy_decode(model, mel, n_frames)
    assert stopped.tolist() == [[SOS, EOS]] * 4  # everyone stopped: no more steps


@pytest.mark.parametrize("decoder", ["transformer", "lstm"])
def test_batched_decoding_equals_one_by_one(decoder):
    model, mel, n_frames = model_and_batch(decoder, "softmax")
    batched = greedy_decode(model, mel, n_frames, max_tokens=25, stop_early=False)
    for i, n in enumerate(n_frames.tolist()):
        alone = greedy_decode(
            model, mel[i : i + 1, :, :n], max_tokens=25, stop_early=False
        )
        assert torch.equal(alone[0], batched[i])


def test_decoding_keeps_the_training_mode():
    model, mel, n_frames = model_and_batch("lstm", "softmax")
    model.train()
    greedy_decode(model, mel, n_frames, max_tokens=3)
    assert model.training
