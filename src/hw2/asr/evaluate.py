"""Test metrics of a trained speech recogniser (the evaluate_asr stage's work)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hw2.asr.metrics import metrics_with_intervals
from hw2.asr.model import ASRModel
from hw2.asr.scoring import check_split, evaluate_loss, transcribe
from hw2.core.device import DEVICES, cpu_threads, pick_device
from hw2.core.errors import DataError
from hw2.core.io import load_torch
from hw2.core.params import Params
from hw2.speech.features import SpeechSplit
from hw2.speech.text import decode


@dataclass(frozen=True)
class ASREvalConfig:
    """What evaluate_asr reads from params.yaml, checked."""

    eval_batch_size: int = 16
    label_smoothing: float = 0.1  # the test loss is the training loss, smoothing too
    device: str = "auto"
    threads: int = 1  # CPU intra-op threads: the test loss's float sums depend on it

    @classmethod
    def from_params(cls, p: Params) -> "ASREvalConfig":
        """Read and check the keys; a bad value raises ParamError naming its key."""
        return cls(
            eval_batch_size=p.integer("asr.eval_batch_size", low=1),
            label_smoothing=p.number("asr.label_smoothing", low=0, high=0.99),
            device=p.choice("device", DEVICES),
            threads=p.integer("threads", low=1),
        )


def load_model(path: str | Path) -> ASRModel:
    """Rebuild a model saved by train_asr (safe loading; DataError in one line)."""
    checkpoint = load_torch(path, made_by="train_asr")
    try:
        return ASRModel.from_checkpoint(checkpoint)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(
            f"{path}: not a model saved by train_asr ({type(exc).__name__})"
        ) from None


def evaluate(
    model: ASRModel, split: SpeechSplit, config: ASREvalConfig, progress: bool = True
) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """Test metrics and (id, reference, hypothesis) transcripts of a split."""
    check_split(split, model.dims, "test")
    device = pick_device(config.device)
    model = model.to(device)
    batch_size = config.eval_batch_size
    with cpu_threads(config.threads):
        loss = evaluate_loss(model, split, batch_size, device, config.label_smoothing)
        hyps = transcribe(model, split, batch_size, device, progress=progress)
    refs = [split.tokens(i).tolist() for i in range(len(split))]
    metrics: dict[str, Any] = {"loss": loss}
    metrics.update(metrics_with_intervals(refs, hyps))
    metrics.update(
        n_params=model.n_params(),
        decoder=model.dims.decoder,
        attention=model.dims.attention,
        cross_attention=model.dims.cross_attention,
    )
    rows = [
        (split.ids[i], decode(r), decode(h))
        for i, (r, h) in enumerate(zip(refs, hyps, strict=True))
    ]
    return metrics, rows


def transcripts_tsv(rows: list[tuple[str, str, str]]) -> str:
    """The transcripts file: a header, then id, reference, hypothesis per line."""
    lines = ["id\treference\thypothesis"] + ["\t".join(row) for row in rows]
    return "\n".join(lines) + "\n"
