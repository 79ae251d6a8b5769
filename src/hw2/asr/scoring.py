"""A model run over a split, as training (validation) and evaluation (test) both do:
the teacher-forced loss and greedy transcripts, batched by clip length."""

import torch
import torch.nn.functional as F

from hw2.asr.batching import Batch, LengthBucketSampler, SpeechDataset, loader
from hw2.asr.decoding import greedy_decode
from hw2.asr.model import ASRModel, ModelDimensions, conv_out_length
from hw2.core.device import autocast
from hw2.core.errors import DataError, NonFiniteLossError
from hw2.core.progress import tqdm
from hw2.speech.features import SpeechSplit
from hw2.speech.text import PAD


def check_split(split: SpeechSplit, dims: ModelDimensions, name: str) -> None:
    """DataError unless the split has clips, the model's mel bands, and no clip
    longer than the model's audio positions (asr.max_frames)."""
    if len(split) == 0:
        raise DataError(f"{split.path}: the {name} split has 0 clips")
    if split.n_mels != dims.n_mels:
        raise DataError(
            f"{split.path}: {split.n_mels} mel bands, the model takes {dims.n_mels}"
        )
    longest = int(split.n_frames.max())
    if conv_out_length(longest) > dims.n_audio_ctx:
        raise DataError(
            f"{split.path}: a clip of {longest} frames is longer than asr.max_frames "
            "allows (rerun preprocess_speech with the same asr.max_frames)"
        )


def token_loss(
    model: torch.nn.Module, batch: Batch, label_smoothing: float
) -> tuple[torch.Tensor, int]:
    """Teacher-forced mean cross-entropy over non-PAD targets, and their count."""
    inputs, targets = batch.tokens[:, :-1], batch.tokens[:, 1:]
    logits = model(batch.mels, batch.n_frames, inputs)  # (B, L-1, n_vocab)
    loss = F.cross_entropy(
        logits.float().transpose(1, 2),
        targets,
        ignore_index=PAD,
        label_smoothing=label_smoothing,
    )
    return loss, int((targets != PAD).sum())


def check_finite(loss: torch.Tensor, where: str) -> None:
    """NonFiniteLossError, saying `where`, if the loss is NaN or infinite."""
    if not torch.isfinite(loss):
        raise NonFiniteLossError(
            f"the ASR loss became {loss.item()} {where}; "
            "check the features for NaN/inf values or lower asr.lr"
        )


def sorted_batches(
    split: SpeechSplit, batch_size: int, device: torch.device, limit: int | None = None
) -> torch.utils.data.DataLoader:
    """The first `limit` clips of a split (all by default) in batches sorted by
    length: the least padding, the same batches every time."""
    lengths = split.n_frames if limit is None else split.n_frames[:limit]
    sampler = LengthBucketSampler(lengths, batch_size, shuffle=False)
    return loader(SpeechDataset(split), sampler, device)


@torch.no_grad()
def evaluate_loss(
    model: ASRModel,
    split: SpeechSplit,
    batch_size: int,
    device: torch.device,
    label_smoothing: float,
) -> float:
    """Token-weighted mean teacher-forced loss over a split."""
    model.eval()
    total, count = 0.0, 0
    for batch in sorted_batches(split, batch_size, device):
        batch = batch.to(device)
        with autocast(device):
            loss, n = token_loss(model, batch, label_smoothing)
        check_finite(loss, f"while evaluating {split.path}")
        total += loss.item() * n
        count += n
    return total / count


@torch.no_grad()
def transcribe(
    model: ASRModel,
    split: SpeechSplit,
    batch_size: int,
    device: torch.device,
    limit: int | None = None,
    progress: bool = False,
) -> list[list[int]]:
    """Greedy token sequences (SOS first) for the first `limit` clips of a split."""
    n = len(split) if limit is None else min(limit, len(split))
    out: list[list[int]] = [[] for _ in range(n)]
    model.eval()
    batches = sorted_batches(split, batch_size, device, limit=n)
    for batch in tqdm(batches, desc="decoding", unit="batch", disable=not progress):
        batch = batch.to(device)
        with autocast(device):
            tokens = greedy_decode(model, batch.mels, batch.n_frames)
        for i, row in zip(batch.indices.tolist(), tokens.tolist(), strict=True):
            out[i] = row
    return out
