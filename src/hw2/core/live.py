"""Training curves through dvclive, for a stage that `dvc repro` runs.

    with EpochLog(live_dir) as log:
        for epoch in ...:
            log.log({"train/loss": ..., "val/acc": ...})

One row per epoch in live_dir/plots/metrics (dvc.yaml declares them as plots)
and the summary live_dir/metrics.json, written only when the training finishes:
a training that stops with an error leaves no summary that suggests otherwise.
"""

from collections.abc import Iterable
from pathlib import Path


class EpochLog:
    """Per-epoch metrics to dvclive in `live_dir`; None logs nothing (tests, and
    every training process but the first under torchrun)."""

    def __init__(
        self, live_dir: str | Path | None, history: Iterable[dict[str, float]] = ()
    ):
        self.live = None
        if live_dir is not None:
            from dvclive import Live  # imported here: it is slow, and params come first

            # dvcyaml=False: dvc.yaml declares these plots and metrics itself (the
            # option dvclive's docs give for that, to avoid duplicate entries);
            # save_dvc_exp=False: `dvc repro` / `dvc exp run` record the experiment.
            self.live = Live(
                str(live_dir), dvcyaml=False, save_dvc_exp=False, report=None
            )
        # A resumed run replays its logged epochs, so its logs equal an
        # uninterrupted run's.
        for logged in history:
            self.log(logged)

    def log(self, metrics: dict[str, float]) -> None:
        """One epoch's metrics, as one step."""
        if self.live is None:
            return
        for name, value in metrics.items():
            self.live.log_metric(name, value)
        self.live.next_step()

    def __enter__(self) -> "EpochLog":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self.live is None:
            return
        if exc_type is None:
            self.live.end()
        else:  # next_step wrote a summary of the epochs so far: not a result
            Path(self.live.metrics_file).unlink(missing_ok=True)
