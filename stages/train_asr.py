"""DVC stage train_asr: train the speech recogniser on the preprocessed features.

Resumes from data/checkpoints/asr.pt when a run with the same params and data was
interrupted; logs per-epoch curves to metrics/train_asr (dvclive).
"""

from pathlib import Path

from hw2.asr.features import SpeechSplit
from hw2.asr.train import ASRConfig, train
from hw2.core.errors import run_stage
from hw2.core.io import save_torch
from hw2.core.params import load_params

FEATURES = Path("data/features")
CHECKPOINT = Path("data/checkpoints/asr.pt")
MODEL = Path("data/models/asr.pt")
LIVE_DIR = Path("metrics/train_asr")


def main() -> None:
    config = ASRConfig.from_params(load_params())
    train_split = SpeechSplit(FEATURES / "train")
    val_split = SpeechSplit(FEATURES / "validation")
    model = train(
        config, train_split, val_split, checkpoint_path=CHECKPOINT, live_dir=LIVE_DIR
    )
    save_torch(MODEL, model.checkpoint())
    # The resume checkpoint only serves an interrupted run. It is no declared
    # output (DVC would delete it before rerunning, and a queued experiment's
    # fresh copy, lacking it, would retrain), so it must not outlive success.
    CHECKPOINT.unlink(missing_ok=True)
    print(f"train_asr: {model.n_params():,} parameters saved to {MODEL}")


if __name__ == "__main__":
    run_stage(main)
