"""Tiny ASR models and padded batches shared by the model, decoding and autocast
tests (imported as a plain module: pytest puts tests/ on sys.path)."""

import torch

from hw2.asr.model import ASRModel, ModelDimensions

TINY = {"n_state": 16, "n_head": 2, "n_mlp": 32, "n_audio_layer": 1, "n_mels": 8}
DECODERS = ["transformer", "lstm"]
# self-attention kind ("-all": cross-attention too), and for McLaurin the form
KINDS = ["softmax", "mclaurin:linear", "mclaurin:quadratic", "mclaurin-all:linear"]


def tiny_dims(decoder: str = "transformer", attention: str = "softmax"):
    """ModelDimensions of a tiny model; attention as in KINDS."""
    kind, _, form = attention.partition(":")
    kind, _, everywhere = kind.partition("-")
    return ModelDimensions(
        **TINY,
        decoder=decoder,
        attention=kind,
        cross_attention=kind if everywhere else "softmax",
        attention_form=form or "auto",
    )


def tiny_model(
    decoder: str = "transformer",
    attention: str = "softmax",
    seed: int = 0,
    dtype: torch.dtype = torch.double,
) -> ASRModel:
    """A seeded tiny model in eval mode."""
    torch.manual_seed(seed)
    return ASRModel(tiny_dims(decoder, attention)).to(dtype).eval()


def padded_batch(lengths, n_mels=8, seed=1, dtype=torch.double):
    """Random mels (B, n_mels, max length), zero past each clip's n_frames."""
    g = torch.Generator().manual_seed(seed)
    n_frames = torch.tensor(lengths)
    mel = torch.randn(len(lengths), n_mels, max(lengths), generator=g, dtype=dtype)
    for i, n in enumerate(lengths):
        mel[i, :, n:] = 0
    return mel, n_frames
