"""The report's figures: training curves and the confusion matrix, as PNGs.

matplotlib runs on the Agg backend (files only) and PNGs carry no Software tag,
so equal inputs give equal bytes: the figures are git-tracked stage outputs.
"""

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hw2.core.errors import DataError
from hw2.pipeline.runs import ASR_PLOTS, CNN_CLASSES, CNN_CONFUSION, CNN_PLOTS


def read_curve(path: Path) -> tuple[list[float], list[float], str]:
    """A dvclive TSV (step and one value column): steps, values and the value name."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            fields = [n for n in reader.fieldnames or [] if n not in ("timestamp",)]
            if "step" not in fields or len(fields) < 2:
                raise DataError(f"{path}: expected columns step and a value")
            name = next(n for n in reversed(fields) if n != "step")
            steps, values = [], []
            for row in reader:
                try:
                    steps.append(float(row["step"]))
                    values.append(float(row[name]))
                except (TypeError, ValueError) as exc:
                    raise DataError(
                        f"{path}: line {reader.line_num}: not a number"
                    ) from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    return steps, values, name


def read_confusion(
    path: Path, classes: Sequence[str]
) -> tuple[list[str], list[list[int]]]:
    """Counts[actual][predicted] from a CSV of actual,predicted rows.

    Labels follow `classes`, then any others in sorted order.
    """
    pairs = []
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if not {"actual", "predicted"} <= set(reader.fieldnames or []):
                raise DataError(f"{path}: expected columns actual,predicted")
            for row in reader:
                if row["actual"] is None or row["predicted"] is None:
                    raise DataError(f"{path}: line {reader.line_num}: missing field")
                pairs.append((row["actual"], row["predicted"]))
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    seen = {label for pair in pairs for label in pair}
    labels = [c for c in classes if c in seen] + sorted(seen - set(classes))
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for actual, predicted in pairs:
        counts[index[actual]][index[predicted]] += 1
    return labels, counts


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> None:
    """Save and close a figure; no Software tag, so equal inputs give equal bytes."""
    fig.savefig(path, dpi=100, metadata={"Software": None})
    pyplot().close(fig)


def plot_curves(panels: Sequence[tuple[str, Sequence[Path]]], path: Path) -> None:
    """One panel per (title, dvclive TSVs); the x axis is the epoch (step + 1)."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6))
    axes = [axes] if len(panels) == 1 else list(axes)
    for ax, (title, files) in zip(axes, panels, strict=True):
        for file in files:
            steps, values, name = read_curve(file)
            label = f"{file.parent.name}/{name}"
            ax.plot([s + 1 for s in steps], values, marker="o", ms=3, label=label)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def plot_confusion(
    labels: Sequence[str], counts: Sequence[Sequence[int]], path: Path
) -> None:
    """Counts annotated; colour is the share of each actual class (row-normalised)."""
    plt = pyplot()
    shares = [[c / max(1, sum(row)) for c in row] for row in counts]
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i, row in enumerate(counts):
        for j, count in enumerate(row):
            colour = "white" if shares[i][j] > 0.5 else "black"
            ax.text(j, i, str(count), ha="center", va="center", color=colour)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title("CNN test confusion")
    fig.tight_layout()
    save_figure(fig, path)


def _tsvs(folder: Path, names: Sequence[str]) -> list[Path]:
    return [folder / n for n in names if (folder / n).is_file()]


def write_figures(root: Path, dest: Path) -> set[str]:
    """Write the PNGs whose inputs exist into `dest`; return their file names."""
    written = set()
    cnn = root / CNN_PLOTS
    loss, acc = _tsvs(cnn, ["train/loss.tsv"]), _tsvs(cnn, ["val/acc.tsv"])
    if loss or acc:
        panels = [("training loss", loss), ("validation accuracy", acc)]
        plot_curves([p for p in panels if p[1]], dest / "cnn_curves.png")
        written.add("cnn_curves.png")
    if (root / CNN_CONFUSION).is_file():
        labels, counts = read_confusion(root / CNN_CONFUSION, CNN_CLASSES)
        if labels:
            plot_confusion(labels, counts, dest / "cnn_confusion.png")
            written.add("cnn_confusion.png")
    asr = root / ASR_PLOTS
    losses = _tsvs(asr, ["train/loss.tsv", "val/loss.tsv"])
    scores = _tsvs(asr, ["val/cer.tsv", "val/similarity.tsv"])
    if losses or scores:
        panels = [("loss", losses), ("validation scores", scores)]
        plot_curves([p for p in panels if p[1]], dest / "asr_curves.png")
        written.add("asr_curves.png")
    return written
