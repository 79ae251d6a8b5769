"""The ASR training's checkpoint: saved after every epoch, resumed after a kill.

It holds the model, optimizer, scheduler, RNG states and the metric history, so a
killed run resumes at the next epoch and ends exactly as an uninterrupted one
would. Only the same params, data and code resume it (the hw2 sources the
training imports, directly or not); any other checkpoint is discarded with a
one-line notice and the run starts afresh.
"""

import copy
import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hw2.asr.config import ASRConfig
from hw2.core.device import rng_state, set_rng_state
from hw2.core.errors import DataError
from hw2.core.io import load_torch, save_torch
from hw2.core.progress import tqdm
from hw2.speech.features import SpeechSplit


def fingerprint(config: ASRConfig, *splits: SpeechSplit) -> str:
    """Hash of the config (device aside) and of the data a run trains on."""
    digest = hashlib.sha256()
    settings = asdict(replace(config, device="any"))
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for split in splits:
        for array in (split.frame_offsets, split.token_offsets, split.tokens_flat):
            digest.update(np.ascontiguousarray(array).tobytes())
        # A strided sample of frames: changed features change them, and hashing
        # every frame of the full corpus (>1 GB) would take a while.
        digest.update(np.ascontiguousarray(split.mels[::97]).tobytes())
    return digest.hexdigest()


def _state(model, optimizer, scheduler) -> dict[str, Any]:
    return {
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "scheduler_state_dict": scheduler.state_dict(),
        "rng": rng_state(),
    }


def _load_state(state: dict[str, Any], model, optimizer, scheduler) -> None:
    model.load_state_dict(state["model_state_dict"])
    optimizer.load_state_dict(state["optimizer_state_dict"])
    scheduler.load_state_dict(state["scheduler_state_dict"])
    set_rng_state(state["rng"])


@dataclass(frozen=True)
class Checkpoint:
    """A run's checkpoint file and what may resume it."""

    path: Path
    fingerprint: str  # params and data (fingerprint())
    code: str  # the sources of the training's import closure (code_digest)

    def save(
        self,
        epoch: int,
        history: list[dict[str, float]],
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
    ) -> None:
        """Everything needed to go on after `epoch` epochs as if never stopped."""
        save_torch(
            self.path,
            {
                "fingerprint": self.fingerprint,
                "code": self.code,
                "epoch": epoch,
                "history": history,
                **_state(model, optimizer, scheduler),
            },
        )

    def resume(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        quiet: bool = False,
    ) -> tuple[int, list[dict[str, float]]]:
        """(epochs done, their metrics), the state restored from the checkpoint if
        this code, params and data made it; else (0, []), the state untouched."""
        if not self.path.is_file():
            return 0, []
        try:
            checkpoint = load_torch(self.path, made_by="train_asr")
            epoch, history = self._restore(checkpoint, model, optimizer, scheduler)
        except (DataError, _Unusable) as exc:
            if not quiet:
                why = str(exc).removeprefix(f"{self.path}: ")
                tqdm.write(
                    f"train_asr: ignoring checkpoint {self.path}: {why}; "
                    "starting afresh"
                )
            return 0, []
        if not quiet:
            tqdm.write(f"train_asr: resuming after epoch {epoch}")
        return epoch, history

    def _restore(
        self, checkpoint: Any, model, optimizer, scheduler
    ) -> tuple[int, list[dict[str, float]]]:
        """Restore the state and return (epoch, history), or raise _Unusable."""
        if not isinstance(checkpoint, dict):
            raise _Unusable("it holds no training state")
        if checkpoint.get("fingerprint") != self.fingerprint:
            raise _Unusable("it was made with other params or data")
        if checkpoint.get("code") != self.code:
            raise _Unusable(
                "it was made by other code (the hw2 sources it depends on changed)"
            )
        fresh = copy.deepcopy(_state(model, optimizer, scheduler))
        try:
            _load_state(checkpoint, model, optimizer, scheduler)
            return checkpoint["epoch"], checkpoint["history"]
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
            _load_state(fresh, model, optimizer, scheduler)  # part may be loaded
            reason = str(exc).strip().splitlines()[0][:100] if str(exc) else ""
            raise _Unusable(
                f"its state does not fit the model ({type(exc).__name__}: {reason})"
            ) from None


class _Unusable(Exception):
    """Why a checkpoint cannot resume this run."""
