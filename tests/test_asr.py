"""The ASR model: sizes, padding invariance, causality, checkpoints."""

import pytest
import torch
from tiny_asr import DECODERS, KINDS, TINY, padded_batch, tiny_model

from hw2.asr.model import (
    ATTENTION_FORMS,
    TEXT_POSITIONS,
    ASRModel,
    AudioEncoder,
    ModelDimensions,
    conv_out_length,
    sinusoids,
)
from hw2.attention.mclaurin import FORMS
from hw2.speech.text import MAX_TOKENS, encode

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    ("decoder", "expected"), [("transformer", 1_329_835), ("lstm", 1_471_235)]
)
def test_homework_configuration_sizes(decoder, expected):
    model = ASRModel(ModelDimensions(decoder=decoder))
    assert model.n_params() == expected
    assert model.dims.n_state == 200 and model.dims.n_head == 2
    assert model.dims.n_audio_ctx == 1377  # 2,754 frames after the stride-2 conv


@pytest.mark.parametrize("n_frames", [1, 2, 3, 10, 11, 2754])
def test_conv_out_length_matches_the_convolution(n_frames):
    encoder = AudioEncoder(ModelDimensions(**TINY))
    out = encoder.conv2(encoder.conv1(torch.zeros(1, 8, n_frames)))
    assert out.shape[-1] == conv_out_length(n_frames)


def test_sinusoids_shape_and_start():
    table = sinusoids(50, 16)
    assert table.shape == (50, 16)
    assert torch.allclose(table[0], torch.cat([torch.zeros(8), torch.ones(8)]))


@pytest.mark.parametrize("attention", KINDS)
@pytest.mark.parametrize("decoder", DECODERS)
def test_logits_shape_and_padding_invariance(decoder, attention):
    model = tiny_model(decoder, attention)
    mel, n_frames = padded_batch([23, 9, 16])
    tokens = torch.randint(4, 35, (3, 7))
    with torch.no_grad():
        batched = model(mel, n_frames, tokens)
        assert batched.shape == (3, 7, 35)
        for i, n in enumerate(n_frames.tolist()):
            alone = model(mel[i : i + 1, :, :n], None, tokens[i : i + 1])
            torch.testing.assert_close(batched[i : i + 1], alone)


@pytest.mark.parametrize("attention", KINDS)
def test_padded_frames_do_not_leak(attention):
    model = tiny_model(attention=attention)
    mel, n_frames = padded_batch([12, 7])
    noisy = mel.clone()
    noisy[1, :, 7:] = 1e3  # garbage past the clip's end
    with torch.no_grad():
        a, mask = model.encoder(mel, n_frames)
        b, _ = model.encoder(noisy, n_frames)
    assert mask.tolist() == [[True] * 6, [True] * 4 + [False] * 2]
    torch.testing.assert_close(a[mask], b[mask])


@pytest.mark.parametrize("attention", KINDS)
@pytest.mark.parametrize("decoder", DECODERS)
def test_decoder_is_causal(decoder, attention):
    model = tiny_model(decoder, attention)
    mel, n_frames = padded_batch([10, 14])
    tokens = torch.randint(4, 35, (2, 8))
    changed = tokens.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 35
    with torch.no_grad():
        a = model(mel, n_frames, tokens)
        b = model(mel, n_frames, changed)
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


@pytest.mark.parametrize("decoder", DECODERS)
def test_checkpoint_round_trip(tmp_path, decoder):
    model = tiny_model(decoder).float()
    torch.save(model.checkpoint(), tmp_path / "asr.pt")
    loaded = ASRModel.from_checkpoint(
        torch.load(tmp_path / "asr.pt", weights_only=True)
    )
    assert loaded.dims == model.dims
    mel, n_frames = padded_batch([10, 6])
    tokens = torch.randint(4, 35, (2, 5))
    with torch.no_grad():
        torch.testing.assert_close(
            loaded.eval()(mel.float(), n_frames, tokens),
            model(mel.float(), n_frames, tokens),
        )


@pytest.mark.parametrize("decoder", DECODERS)
def test_mclaurin_forms_compute_the_same_model(decoder):
    linear = tiny_model(decoder, "mclaurin-all:linear")
    quadratic = tiny_model(decoder, "mclaurin-all:quadratic")
    quadratic.load_state_dict(linear.state_dict())
    mel, n_frames = padded_batch([10, 6])
    tokens = torch.randint(4, 35, (2, 7), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(
            quadratic(mel, n_frames, tokens), linear(mel, n_frames, tokens)
        )


def test_checkpoint_without_attention_form_loads_as_auto():
    checkpoint = tiny_model(attention="mclaurin").float().checkpoint()
    del checkpoint["dims"]["attention_form"]
    assert ASRModel.from_checkpoint(checkpoint).dims.attention_form == "auto"
    assert ModelDimensions.__dataclass_fields__["attention_form"].default == "auto"
    assert ATTENTION_FORMS == FORMS  # the model's names are the kernel's


def test_one_text_position_per_decoder_input():
    tokens, _, truncated = encode("a" * 500)  # cut to the longest transcript
    assert truncated and len(tokens) == MAX_TOKENS
    inputs = tokens[:-1]  # teacher forcing: the last token is only a target
    model = tiny_model()
    assert model.decoder.positional_embedding.shape[0] == len(inputs) == TEXT_POSITIONS
    mel, n_frames = padded_batch([10])
    with torch.no_grad():
        assert model(mel, n_frames, torch.as_tensor(inputs[None]).long()).shape == (
            1,
            TEXT_POSITIONS,
            35,
        )
    with pytest.raises(ValueError, match=f"exceed the decoder's {TEXT_POSITIONS}"):
        model(mel, n_frames, torch.zeros(1, TEXT_POSITIONS + 1, dtype=torch.long))


@pytest.mark.parametrize("attention", KINDS)
def test_non_finite_values_propagate_instead_of_raising(attention):
    # as with softmax: a diverged model shows as a non-finite loss, which the
    # training loop checks, not as an exception from inside the attention
    model = tiny_model("transformer", attention)
    with torch.no_grad():
        model.encoder.blocks[0].attn.query.weight[0, 0] = float("nan")
    mel, n_frames = padded_batch([10, 6])
    with torch.no_grad():
        logits = model(mel, n_frames, torch.randint(4, 35, (2, 5)))
    assert torch.isnan(logits).all()


def test_too_many_frames_is_an_error():
    model = ASRModel(ModelDimensions(**TINY, n_audio_ctx=4))
    with pytest.raises(ValueError, match="exceed"):
        model.encoder(torch.zeros(1, 8, 9))


@pytest.mark.parametrize(
    "bad",
    [
        {"decoder": "gru"},
        {"attention": "linear"},
        {"attention_form": "fast"},
        {"cross_attention": "linear"},
        {"n_state": 0},
        {"n_head": 3},
    ],
)
def test_bad_dimensions_are_refused(bad):
    with pytest.raises(ValueError):
        ModelDimensions(**{**TINY, **bad})
