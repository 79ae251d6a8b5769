"""The attention benchmark's two figures (matplotlib): time over L, error over K."""

from pathlib import Path

from hw2.attention_bench.bench import METHODS
from hw2.core.io import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_time(result: dict, path: Path) -> None:
    """Forward time against L, log-log, each method a line, with the flop
    crossovers; a PNG written atomically."""
    plt = _pyplot()
    settings = result["metrics"]["settings"]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    style = {
        "softmax": ("tab:blue", "-"),
        "softmax_causal": ("tab:blue", "--"),
        "mclaurin": ("tab:red", "-"),
        "mclaurin_causal": ("tab:red", "--"),
    }
    for method in METHODS:
        rows = [(n, s) for n, m, s in result["time"] if m == method]
        color, line = style[method]
        ax.loglog(
            [n for n, _ in rows],
            [s for _, s in rows],
            marker="o",
            color=color,
            linestyle=line,
            label=method.replace("_", " "),
        )
    for suffix, line in (("", "-"), ("_causal", "--")):
        crossover = result["metrics"]["theoretical_crossover_len" + suffix]
        ax.axvline(
            crossover,
            color="grey",
            linewidth=0.8,
            linestyle=line,
            label=f"flop crossover{suffix.replace('_', ' ')} ({crossover:g})",
        )
    ax.set_xlabel("sequence length L")
    ax.set_ylabel("forward time (s)")
    ax.set_title(
        f"Attention forward, D={settings['head_dim']}, K={settings['terms']} "
        f"(M={settings['feature_dim']}), {settings['threads']} thread(s)",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def plot_error(result: dict, path: Path) -> None:
    """The relative error against the series terms K; a PNG written atomically."""
    plt = _pyplot()
    settings = result["metrics"]["settings"]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    terms = [k for k, _ in result["error"]]
    ax.semilogy(terms, [e for _, e in result["error"]], marker="o")
    ax.set_xticks(terms)
    ax.set_xlabel("series terms K")
    ax.set_ylabel("relative Frobenius error")
    ax.set_title(
        f"McLaurin vs exact softmax attention\nL={settings['error_len']}, "
        f"D={settings['head_dim']}, q and k entries N(0, {settings['error_std']:g}²)",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
