"""DVC stage train_asr: train the speech recogniser on the preprocessed features.

Resumes from the --checkpoint file when a run with the same params and data was
interrupted; logs per-epoch curves to the --live folder (dvclive). With
HW2_NPROC=N it runs again as N torchrun processes (DistributedDataParallel, one
per GPU, or gloo on the CPU); under torchrun rank 0 alone writes.
"""

import sys

from hw2.asr import distributed
from hw2.asr.train import train
from hw2.core.cli import stage_paths
from hw2.core.io import save_torch
from hw2.core.stage import Checked, run_stage
from hw2.speech.features import SpeechSplit


def main(checked: Checked) -> None:
    args = stage_paths(__doc__, "features", "checkpoint", "model", "live")
    config, ctx = checked.config, distributed.context()
    if checked.processes > 1 and not ctx.active:  # shared batch checked already
        distributed.relaunch(__file__, sys.argv[1:], checked.processes)
    train_split = SpeechSplit(args.features / "train")
    val_split = SpeechSplit(args.features / "validation")
    model = train(
        config,
        train_split,
        val_split,
        checkpoint_path=args.checkpoint,
        live_dir=args.live,
    )
    if not ctx.main:
        return
    save_torch(args.model, model.checkpoint())
    # The resume checkpoint only serves an interrupted run. It is no declared
    # output (DVC would delete it before rerunning, and a queued experiment's
    # fresh copy, lacking it, would retrain), so it must not outlive success.
    args.checkpoint.unlink(missing_ok=True)
    print(f"train_asr: {model.n_params():,} parameters saved to {args.model}")


if __name__ == "__main__":
    run_stage(main)
