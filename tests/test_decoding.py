"""Greedy decoding: the cached path gives exactly the tokens of full recomputation."""

import pytest
import torch

from hw2.asr.decoding import greedy_decode
from hw2.asr.model import ASRModel, ModelDimensions
from hw2.asr.text import EOS, PAD, SOS

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"n_state": 16, "n_head": 2, "n_mlp": 32, "n_audio_layer": 1, "n_mels": 8}


MODELS = [
    ("transformer", "softmax"),
    ("lstm", "softmax"),
    ("transformer", "mclaurin"),
    ("lstm", "mclaurin-all"),  # cross-attention McLaurin too
]


def model_and_batch(decoder, attention, seed=0):
    torch.manual_seed(seed)
    kind, _, everywhere = attention.partition("-")
    cross = kind if everywhere else "softmax"
    model = ASRModel(
        ModelDimensions(**TINY, decoder=decoder, attention=kind, cross_attention=cross)
    )
    model = model.double().eval()
    n_frames = torch.tensor([21, 8, 15, 30])
    mel = torch.randn(4, 8, 30, dtype=torch.double)
    for i, n in enumerate(n_frames.tolist()):
        mel[i, :, n:] = 0
    return model, mel, n_frames


@pytest.mark.parametrize(("decoder", "attention"), MODELS)
def test_cache_gives_the_same_tokens_as_recomputing(decoder, attention):
    model, mel, n_frames = model_and_batch(decoder, attention)
    cached = greedy_decode(model, mel, n_frames, max_tokens=60, stop_early=False)
    full = greedy_decode(
        model, mel, n_frames, max_tokens=60, use_cache=False, stop_early=False
    )
    assert cached.shape == (4, 60)
    assert torch.equal(cached, full)


@pytest.mark.parametrize(("decoder", "attention"), MODELS)
def test_cached_logits_match_the_full_prefix(decoder, attention):
    model, mel, n_frames = model_and_batch(decoder, attention)
    tokens = torch.randint(4, 35, (4, 12))
    with torch.no_grad():
        audio, mask = model.encoder(mel, n_frames)
        full = model.decoder(tokens, audio, mask)
        cache: dict = {}
        steps = [
            model.decoder(tokens[:, t : t + 1], audio, mask, cache) for t in range(12)
        ]
    torch.testing.assert_close(torch.cat(steps, dim=1), full)


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
